// The TCPStore wire as the native server reads and writes it (store-server.cc): torch's limits and query
// codes, the error texts of src/store/server.ts, a cursor that reads whole fields or reports a short read,
// and the reply encoders. Header-only, internal to the server.
#pragma once

#if defined(__linux__)

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace mr {
namespace store {

// Limits and codes: src/store/protocol.ts (MAX_KEY_BYTES, MAX_VALUE_BYTES, MAX_KEYS, Q, VALIDATION_MAGIC).
constexpr uint64_t kMaxKeyBytes = 8 * 1024;
constexpr uint64_t kMaxValueBytes = 8 * 1024 * 1024;
constexpr uint64_t kMaxKeys = 128 * 1024;
// Most bytes of one reply (a MULTI_GET's values together; protocol.ts MAX_REPLY_BYTES).
constexpr uint64_t kMaxReplyBytes = uint64_t(1) << 30;
// Most bytes of one request, counted as they arrive (a MULTI_SET's keys and values; MAX_REQUEST_BYTES).
constexpr uint64_t kMaxRequestBytes = uint64_t(1) << 30;
constexpr uint32_t kValidationMagic = 0x3C85F7CE;
enum Query {
  VALIDATE = 0, SET, COMPARE_SET, GET, ADD, CHECK, WAIT, GETNUMKEYS, DELETE_KEY, APPEND, MULTI_GET, MULTI_SET,
  CANCEL_WAIT, PING, QUEUE_PUSH, QUEUE_POP, QUEUE_LEN
};
constexpr int kLegacyWatchKey = 7;
constexpr uint8_t kReady = 0, kNotReady = 1, kStopWaiting = 0, kWaitCanceled = 1;

enum class Dialect { unknown, current, legacy };

struct ProtocolError {
  std::string message;
};

// A length as the TypeScript server reports it: lengths from 2^53 up read as Infinity there.
inline std::string lengthText(uint64_t n) {
  return n >= (uint64_t(1) << 53) ? "Infinity" : std::to_string(n);
}

// A request over one of the limits: `what` (at most `most`), as the TypeScript server words it.
inline ProtocolError tooLong(const std::string &what, uint64_t most) {
  return ProtocolError{what + " (at most " + std::to_string(most) + ")"};
}

// JSON.stringify of a latin1 string, for error text.
inline std::string quoted(const std::string &s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += char(c);
    } else if (c < 0x20) {
      char hex[8];
      snprintf(hex, sizeof hex, "\\u%04x", c);
      out += hex;
    } else if (c < 0x80) {
      out += char(c);
    } else {  // latin1 above 0x7f as UTF-8
      out += char(0xC0 | (c >> 6));
      out += char(0x80 | (c & 0x3F));
    }
  }
  return out + "\"";
}

// torch's counter parse (src/store/types.ts parseCounter): optional leading whitespace, an optional sign,
// digits; anything may follow; the value must fit an int64.
inline bool parseCounter(const std::string &text, int64_t &value) {
  size_t i = 0;
  while (i < text.size() && strchr(" \t\n\v\f\r", text[i]) != nullptr && text[i] != '\0') i++;
  bool negative = false;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) negative = text[i++] == '-';
  size_t digits = i;
  unsigned __int128 magnitude = 0;
  const unsigned __int128 limit = negative ? (unsigned __int128)(uint64_t(1) << 63) : (uint64_t(1) << 63) - 1;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; i++) {
    magnitude = magnitude * 10 + unsigned(text[i] - '0');
    if (magnitude > limit) return false;
  }
  if (i == digits) return false;
  value = negative ? int64_t(uint64_t(0) - uint64_t(magnitude)) : int64_t(uint64_t(magnitude));
  return true;
}

// Reads fields without consuming; a read past the end sets `short_` and returns zeros.
struct Cursor {
  const std::string &b;
  size_t pos;
  bool short_ = false;
  // After a short read: bytes of `b` the request needs at least (it cannot complete with fewer).
  size_t need = 0;

  bool take(size_t n) {
    if (short_ || b.size() - pos < n) {
      if (!short_) need = pos + n;
      short_ = true;
      return false;
    }
    return true;
  }
  // A fixed-size field, in the host's byte order as torch's clients send it.
  template <class T> T fixed() {
    if (!take(sizeof(T))) return 0;
    T v;
    memcpy(&v, b.data() + pos, sizeof(T));
    pos += sizeof(T);
    return v;
  }
  uint8_t u8() { return fixed<uint8_t>(); }
  uint32_t u32() { return fixed<uint32_t>(); }
  uint64_t u64() { return fixed<uint64_t>(); }
  std::string bytes(uint64_t n) {
    if (!take(size_t(n))) return std::string();
    std::string s = b.substr(pos, size_t(n));
    pos += size_t(n);
    return s;
  }
  // Moves past n bytes (or marks the request short).
  void skip(uint64_t n) {
    if (take(size_t(n))) pos += size_t(n);
  }
  uint64_t keyLength() {
    uint64_t n = u64();
    if (n > kMaxKeyBytes) throw tooLong("key of " + lengthText(n) + " bytes", kMaxKeyBytes);
    return n;
  }
  uint64_t valueLength() {
    uint64_t n = u64();
    if (n > kMaxValueBytes) throw tooLong("value of " + lengthText(n) + " bytes", kMaxValueBytes);
    return n;
  }
  std::string key() { return bytes(keyLength()); }
  std::string value() { return bytes(valueLength()); }
  uint64_t count() {
    uint64_t n = u64();
    if (n > kMaxKeys) throw tooLong(lengthText(n) + " keys in one request", kMaxKeys);
    return n;
  }
  // Whether `n` items (a key each, and a value after it with `values`) have all arrived; the position is
  // left where it was. Copies nothing: a request that arrives in many reads is parsed again each time a
  // read completes its next field (Connection::need), and copying its keys and values that far at every
  // parse would make a big MULTI_SET or key list quadratic. They are copied once, when it is whole.
  bool arrived(uint64_t n, bool values) {
    size_t first = pos;
    for (uint64_t i = 0; i < n && !short_; i++) {
      skip(keyLength());
      if (values) skip(valueLength());
    }
    if (short_) return false;
    pos = first;
    return true;
  }
  std::vector<std::string> keys() {
    uint64_t n = count();
    std::vector<std::string> out;
    if (!arrived(n, false)) return out;
    out.reserve(size_t(n));
    for (uint64_t i = 0; i < n; i++) out.push_back(key());
    return out;
  }
};

template <class T> void putFixed(std::string &out, T v) {
  out.append(reinterpret_cast<const char *>(&v), sizeof v);
}
inline void putU8(std::string &out, uint8_t v) { putFixed(out, v); }
inline void putU32(std::string &out, uint32_t v) { putFixed(out, v); }
inline void putU64(std::string &out, uint64_t v) { putFixed(out, v); }
inline void putBlob(std::string &out, const std::string &v) {
  putU64(out, v.size());
  out += v;
}

}  // namespace store
}  // namespace mr

#endif
