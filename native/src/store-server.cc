// The TCPStore server in native code: the same protocol, semantics and limits as src/store/server.ts (torch's
// daemon, both dialects), on an epoll loop on a thread of its own, as torch runs its daemon. Why a second
// implementation: with torch's Python clients on a 2-core machine, a store's throughput is bounded by its
// server's CPU time per request, and Node's event loop and streams alone (an echo server that parses
// nothing) cost more per request than torch's whole server. The TypeScript server stays the reference and
// the fallback where the addon is not built; test/store runs the same cases against both. The wire
// (limits, codes, the field cursor, the reply encoders) is store-wire.h.
//
// Memory: what a connection makes the server allocate (its input and reply buffers, its entry in the
// connection map, a request's fields and replies, a wait's lists) may fail with std::bad_alloc; that closes
// that connection, or refuses it at accept, and the loop serves the others. Nothing may throw out of the
// loop: an exception that leaves the loop thread ends the whole process that hosts the server.
//
// Threads: the loop thread owns the sockets; everything it touches is under one mutex, which the JS
// thread also takes for the inspection calls (get, set, stats), so a `set` from JS wakes waiters and
// writes their replies exactly as a SET from a client does.
#include <napi.h>

#if defined(__linux__)  // epoll, eventfd, accept4: the native server is built on Linux only

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "addon.h"
#include "store-wire.h"

namespace mr {
namespace {

using namespace store;  // NOLINT: the wire's names read as the protocol's

// Past this many reply bytes owed, a connection is not read until its client reads (server.ts's limit).
constexpr size_t kPauseReplyBytes = size_t(64) << 20;

struct Connection;

struct Waiter {
  std::vector<std::string> keys;
  size_t remaining = 0;
  Connection *connection = nullptr;
  bool active = true;
};

struct Connection {
  int fd = -1;
  std::string in;   // bytes received and not yet consumed
  std::string out;  // replies not yet written (from outAt)
  size_t outAt = 0;
  uint32_t events = 0;  // what epoll watches now
  Dialect dialect = Dialect::unknown;
  std::shared_ptr<Waiter> waiter;
  bool dead = false;
  // Bytes of `in` the request at its front needs at least: it is parsed again only once they are here,
  // so a big request arriving in many reads is parsed a few times, not once per read.
  size_t need = 0;

  // Replies not yet written; past kPauseReplyBytes of them the connection is not read and its batch waits.
  size_t owed() const { return out.size() - outAt; }
  bool full() const { return owed() > kPauseReplyBytes; }
};


class Server {
 public:
  ~Server() { stop(); }

  // Listens on host (empty: every interface, IPv6 then IPv4) and port; starts the loop. Throws a
  // std::runtime_error with the reason.
  void start(const std::string &host, int port) {
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    wake_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (epoll_ < 0 || wake_ < 0) fail("epoll/eventfd", errno);
    std::string reason;
    if (host.empty()) {
      listenFd_ = listenOn("::", port, reason);
      if (listenFd_ < 0) listenFd_ = listenOn("0.0.0.0", port, reason);
    } else {
      listenFd_ = listenOn(host, port, reason);
    }
    if (listenFd_ < 0) {
      closeAll();
      throw std::runtime_error(reason);
    }
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    getsockname(listenFd_, reinterpret_cast<sockaddr *>(&addr), &len);
    port_ = ntohs(addr.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6 *>(&addr)->sin6_port
                                             : reinterpret_cast<sockaddr_in *>(&addr)->sin_port);
    if (!watch(listenFd_, EPOLLIN, nullptr) || !watch(wake_, EPOLLIN, reinterpret_cast<Connection *>(this))) {
      int error = errno;
      closeAll();
      fail("epoll_ctl", error);
    }
    reserveFd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);  // see refuseWithoutDescriptor
    chunk_.resize(64 * 1024);  // here, where a failure throws to JS, not in the loop thread
    thread_ = std::thread([this] { loop(); });
  }

  int port() const { return port_; }

  // Stops the loop and closes every socket; safe to call twice.
  void stop() {
    if (thread_.joinable()) {
      uint64_t one = 1;
      ssize_t ignored = write(wake_, &one, sizeof one);
      (void)ignored;
      thread_.join();
    }
    std::lock_guard<std::mutex> lock(mutex_);
    closeAll();
  }

  std::mutex mutex_;
  size_t protocolErrors_ = 0;
  std::string lastProtocolError_;
  std::unordered_map<std::string, std::string> values_;
  std::unordered_map<int, std::unique_ptr<Connection>> connections_;
  std::vector<int> closing_;  // dropped in this batch of events: closed and freed at its end

  // `set` as a client's SET does it (wakes waiters, writes their replies); caller holds the mutex.
  void set(const std::string &key, std::string value) {
    values_[key] = std::move(value);
    wakeKey(key, false);
  }

 private:
  int epoll_ = -1, wake_ = -1, listenFd_ = -1, port_ = 0;
  int reserveFd_ = -1;         // a descriptor held to refuse a client with when none is left (EMFILE)
  bool listenPaused_ = false;  // the listening socket is not watched (no descriptor even in reserve)
  std::thread thread_;
  std::vector<char> chunk_;  // what one recv reads into
  std::unordered_map<std::string, std::vector<std::shared_ptr<Waiter>>> waiting_;
  std::unordered_map<std::string, std::deque<std::string>> queues_;

  [[noreturn]] static void fail(const char *what, int error) {
    throw std::runtime_error(std::string(what) + ": " + strerror(error));
  }

  static int listenOn(const std::string &host, int port, std::string &reason) {
    addrinfo hints{}, *found = nullptr;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    std::string service = std::to_string(port);
    int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &found);
    if (rc != 0) {
      reason = "getaddrinfo " + host + ": " + gai_strerror(rc);
      return -1;
    }
    int fd = -1;
    for (addrinfo *a = found; a != nullptr && fd < 0; a = a->ai_next) {
      fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
      if (fd < 0) {
        reason = std::string("socket: ") + strerror(errno);
        continue;
      }
      int on = 1, off = 0;
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
      if (a->ai_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
      if (bind(fd, a->ai_addr, a->ai_addrlen) != 0 || listen(fd, 511) != 0) {
        int error = errno;
        reason = std::string(error == EADDRINUSE ? "listen EADDRINUSE: " : "listen: ") + strerror(error) +
                 " " + host + ":" + service;
        close(fd);
        fd = -1;
      }
    }
    freeaddrinfo(found);
    return fd;
  }

  // false (errno set) when epoll cannot take `fd` (ENOMEM, ENOSPC: the kernel's own memory or watch limit)
  bool watch(int fd, uint32_t events, Connection *c) {
    epoll_event ev{};
    ev.events = events;
    ev.data.ptr = c;
    return epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev) == 0;
  }

  void closeAll() {
    for (auto &entry : connections_) close(entry.first);
    connections_.clear();
    closing_.clear();
    waiting_.clear();
    if (listenFd_ >= 0) close(listenFd_);
    if (epoll_ >= 0) close(epoll_);
    if (wake_ >= 0) close(wake_);
    if (reserveFd_ >= 0) close(reserveFd_);
    listenFd_ = epoll_ = wake_ = reserveFd_ = -1;
  }

  // Allocates nothing of its own; what it calls catches its allocation failures (see Memory above).
  void loop() {
    epoll_event events[64];
    for (;;) {
      int n = epoll_wait(epoll_, events, 64, listenPaused_ ? 10 : -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        return;
      }
      std::lock_guard<std::mutex> lock(mutex_);
      if (listenPaused_) {
        if (reserveFd_ < 0) reserveFd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (reserveFd_ >= 0) pauseListening(false);
      }
      for (int i = 0; i < n; i++) {
        void *tag = events[i].data.ptr;
        if (tag == this) return;  // stop()
        if (tag == nullptr) {
          accept();
          continue;
        }
        Connection *c = static_cast<Connection *>(tag);
        if (c->dead) continue;
        if (events[i].events & EPOLLOUT) {
          flush(*c);
          // a batch stopped at the limit of replies owed goes on once the client has read
          if (!c->dead && !c->in.empty()) process(*c);
        }
        if (!c->dead && (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) receive(*c);
      }
      // connections closed in this batch are freed only now: later events of the batch may name them
      for (int fd : closing_) {
        close(fd);
        connections_.erase(fd);
      }
      closing_.clear();
    }
  }

  void accept() {
    for (;;) {
      int fd = accept4(listenFd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0 && errno == EINTR) continue;
      if (fd < 0 && (errno == EMFILE || errno == ENFILE)) {
        if (refuseWithoutDescriptor()) continue;
        return;
      }
      if (fd < 0) return;
      int on = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
      if (const char *refused = admit(fd)) {
        close(fd);  // this client is refused; the next accept may fare better
        noteError(refused);
      }
    }
  }

  // Out of descriptors, a client left in the listen queue would be reported again by epoll at once, for as
  // long as none is free: the loop would spin. As libuv does, the server keeps one descriptor in reserve
  // (/dev/null): it gives it up to accept that client, closes it at once (the client sees its connection
  // closed rather than hanging), and takes the reserve back. Returns whether a client was refused so (the
  // caller accepts again). When the reserve cannot be had (the process's other threads hold every
  // descriptor), the listening socket is not watched until the loop's next 10 ms tick (listenPaused_).
  bool refuseWithoutDescriptor() {
    if (reserveFd_ >= 0) {
      close(reserveFd_);
      reserveFd_ = -1;
      int fd = accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) close(fd);
      reserveFd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (fd >= 0) {
        noteError("too many open files (EMFILE or ENFILE): a connection was refused");
        return true;
      }
    }
    if (reserveFd_ < 0) pauseListening(true);
    return false;
  }

  void pauseListening(bool pause) {
    epoll_event ev{};
    ev.events = pause ? 0 : EPOLLIN;
    ev.data.ptr = nullptr;
    epoll_ctl(epoll_, EPOLL_CTL_MOD, listenFd_, &ev);
    listenPaused_ = pause;
  }

  // Enters the connection on `fd` and watches it. Returns nullptr, or why it entered nothing (memory ran
  // out, or epoll cannot take one more socket): the caller refuses that one client.
  const char *admit(int fd) {
    Connection *c = nullptr;
    try {
      auto owned = std::make_unique<Connection>();
      c = owned.get();
      c->fd = fd;
      c->events = EPOLLIN;
      // drop() queues each connection at most once per batch: room for every one of them now, where a
      // failure refuses this client only, so that drop() never allocates.
      closing_.reserve(connections_.size() + 1);
      connections_.emplace(fd, std::move(owned));
    } catch (const std::bad_alloc &) {
      return "out of memory accepting a connection";
    }
    if (watch(fd, EPOLLIN, c)) return nullptr;
    connections_.erase(fd);
    return "epoll cannot watch a new connection (ENOMEM or ENOSPC)";
  }

  // Marks `c` dead (closed at the end of the batch) and drops its wait.
  void drop(Connection &c) {
    if (c.dead) return;
    c.dead = true;
    dropWait(c);
    epoll_ctl(epoll_, EPOLL_CTL_DEL, c.fd, nullptr);
    closing_.push_back(c.fd);
  }

  void receive(Connection &c) {
    // Reads what is there, up to 1 MiB per turn so that one busy connection does not starve the rest.
    for (size_t got = 0; got < (size_t(1) << 20);) {
      ssize_t n = recv(c.fd, chunk_.data(), chunk_.size(), 0);
      if (n > 0) {
        try {
          c.in.append(chunk_.data(), size_t(n));
        } catch (const std::bad_alloc &) {
          // Its bytes are lost, so this connection cannot go on; the server can.
          return refuse(c, "out of memory receiving a request");
        }
        got += size_t(n);
        if (size_t(n) < chunk_.size()) break;
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (n < 0 && errno == EINTR) continue;
      process(c);  // requests that came with the close still run, as in Node
      drop(c);
      return;
    }
    process(c);
  }

  void process(Connection &c) {
    for (;;) {
      if (c.dead || c.in.size() < c.need) return;
      c.need = 0;
      size_t start = 0;
      bool stopped = false;  // at the limit of replies owed, with requests left
      try {
        while (start < c.in.size() && !c.dead) {
          // Past 64 MiB of replies owed, the rest of the batch waits until the client has read.
          if (c.full()) {
            stopped = true;
            break;
          }
          Cursor cur{c.in, start};
          if (!(c.dialect == Dialect::unknown ? detect(c, cur) : request(c, cur))) {
            c.need = cur.need > start ? cur.need - start : 0;  // from the front, once the run ones are erased
            if (c.need > kMaxRequestBytes) {
              throw tooLong("request of at least " + std::to_string(c.need) + " bytes", kMaxRequestBytes);
            }
            break;
          }
          start = cur.pos;
        }
      } catch (const ProtocolError &error) {
        return refuse(c, error.message.c_str());
      } catch (const std::bad_alloc &) {
        // One connection's request must not end the process that hosts the server.
        return refuse(c, "out of memory answering a request");
      }
      c.in.erase(0, start);
      flush(c);
      // Stopped, and the socket took enough: go on (no EPOLLOUT would come to resume it).
      if (!stopped || c.dead || c.full()) return;
    }
  }

  // Closes `c` for a request it may not make, after the replies to the ones before it. Allocates nothing
  // that may fail (it runs where memory has run out): `why` is a C string, and see noteError.
  void refuse(Connection &c, const char *why) {
    noteError(why);
    flush(c);
    drop(c);
  }

  // Counts a connection closed or refused for `why`, kept for stats(). When memory has run out even for
  // copying `why`, keeps "out of memory": 13 bytes fit any std::string's capacity (15 at least), so that
  // assignment cannot allocate, and so cannot throw.
  void noteError(const char *why) noexcept {
    protocolErrors_++;
    try {
      lastProtocolError_ = why;
    } catch (const std::bad_alloc &) {
      lastProtocolError_ = "out of memory";
    }
  }

  // VALIDATE opens a current-dialect connection; any other first bytes are a torch 1.13 client's.
  bool detect(Connection &c, Cursor &cur) {
    size_t at = cur.pos;
    if (cur.u8() != VALIDATE) {
      c.dialect = Dialect::legacy;
      cur.pos = at;
      return true;
    }
    uint32_t magic = cur.u32();
    if (cur.short_) return false;
    if (magic == kValidationMagic) {
      c.dialect = Dialect::current;
    } else {
      c.dialect = Dialect::legacy;
      cur.pos = at;
    }
    return true;
  }

  // Parses and runs one request; false when it has not fully arrived (nothing is run then).
  bool request(Connection &c, Cursor &cur) {
    uint8_t code = cur.u8();
    int q = code;
    // torch 1.13 numbers its queries without VALIDATE (protocol.ts fromLegacy).
    if (c.dialect == Dialect::legacy) {
      q = code <= 6 ? code + 1 : (code >= DELETE_KEY && code <= CANCEL_WAIT ? code : -1);
    }
    std::string &out = c.out;
    switch (q) {
      case SET: case APPEND: case QUEUE_PUSH: {
        std::string k = cur.key(), v = cur.value();
        if (cur.short_) return false;
        if (q == SET) {
          set(k, std::move(v));
        } else if (q == APPEND) {
          values_[k] += v;
          wakeKey(k, false);
        } else {
          queues_[k].push_back(std::move(v));
          wakeKey(k, true);
        }
        return true;
      }
      case COMPARE_SET: {
        std::string k = cur.key(), expected = cur.value(), desired = cur.value();
        if (cur.short_) return false;
        auto it = values_.find(k);
        if (it == values_.end()) {
          if (expected.empty()) values_.emplace(k, desired);
          putBlob(out, expected.empty() ? desired : expected);
        } else {
          if (it->second == expected) it->second = desired;
          putBlob(out, it->second);
        }
        wakeKey(k, false);
        return true;
      }
      case GET: case DELETE_KEY: case QUEUE_POP: case QUEUE_LEN: {
        std::string k = cur.key();
        if (cur.short_) return false;
        if (q == GET) {
          putBlob(out, valueAt(k));
        } else if (q == DELETE_KEY) {
          putU64(out, values_.erase(k) ? 1 : 0);
        } else {
          auto it = queues_.find(k);
          size_t length = it == queues_.end() ? 0 : it->second.size();
          putU64(out, length);
          if (q == QUEUE_POP && length > 0) {
            putBlob(out, it->second.front());
            it->second.pop_front();
            if (it->second.empty()) queues_.erase(it);
          }
        }
        return true;
      }
      case ADD: {
        std::string k = cur.key();
        int64_t amount = int64_t(cur.u64());
        if (cur.short_) return false;
        int64_t value = amount;
        auto [it, fresh] = values_.try_emplace(k);
        if (!fresh) {
          int64_t current;
          if (!parseCounter(it->second, current)) {
            throw ProtocolError{"add: the value at key " + quoted(k) + " is not an integer counter (" +
                                quoted(it->second.substr(0, 40)) + ")"};
          }
          value = int64_t(uint64_t(current) + uint64_t(amount));
        }
        it->second = std::to_string(value);
        wakeKey(k, false);
        putU64(out, uint64_t(value));
        return true;
      }
      case CHECK: case WAIT: case MULTI_GET: {
        std::vector<std::string> ks = cur.keys();
        if (cur.short_) return false;
        if (q == CHECK) {
          putU8(out, check(ks) ? kReady : kNotReady);
        } else if (q == MULTI_GET) {
          uint64_t reply = 0;
          for (const std::string &k : ks) reply += 8 + valueAt(k).size();
          if (reply > kMaxReplyBytes) {
            throw tooLong("MULTI_GET reply of " + std::to_string(reply) + " bytes", kMaxReplyBytes);
          }
          for (const std::string &k : ks) putBlob(out, valueAt(k));
        } else {
          wait(c, ks);
        }
        return true;
      }
      case MULTI_SET: {
        uint64_t n = cur.count();
        if (!cur.arrived(n, true)) return false;
        std::vector<std::pair<std::string, std::string>> pairs;
        for (uint64_t i = 0; i < n; i++) {
          std::string k = cur.key();
          pairs.emplace_back(std::move(k), cur.value());
        }
        for (auto &pair : pairs) set(pair.first, std::move(pair.second));
        return true;
      }
      case GETNUMKEYS:
        putU64(out, values_.size());
        return true;
      case CANCEL_WAIT:
        dropWait(c);
        putU8(out, kWaitCanceled);
        return true;
      case PING: {
        uint32_t nonce = cur.u32();
        if (cur.short_) return false;
        if (c.dialect == Dialect::legacy) throw ProtocolError{"PING from a torch 1.13 client"};
        putU32(out, nonce);
        return true;
      }
      default:
        throw ProtocolError{code == kLegacyWatchKey && c.dialect == Dialect::legacy
                                ? "WATCH_KEY (torch 1.13 watchKey) is not served"
                                : "unknown query type " + std::to_string(code) + " (" +
                                      (c.dialect == Dialect::legacy ? "legacy" : "current") + " dialect)"};
    }
  }

  // The value at `k`, or an empty one (GET of a missing key): a reference, so a reply copies it once.
  const std::string &valueAt(const std::string &k) const {
    static const std::string none;
    auto it = values_.find(k);
    return it == values_.end() ? none : it->second;
  }

  bool check(const std::vector<std::string> &keys) const {
    for (const std::string &k : keys) {
      if (values_.count(k)) continue;
      auto it = queues_.find(k);
      if (it == queues_.end() || it->second.empty()) return false;
    }
    return true;
  }

  void wait(Connection &c, const std::vector<std::string> &keys) {
    // a client whose wait timed out without CANCEL_WAIT (torch 1.13) waits anew: the old wait is dropped
    dropWait(c);
    if (check(keys)) {
      putU8(c.out, kStopWaiting);
      return;
    }
    auto w = std::make_shared<Waiter>();
    w->connection = &c;
    std::unordered_set<std::string> seen;  // a WAIT may name 128 Ki keys: no quadratic de-duplication
    for (const std::string &k : keys) {
      if (values_.count(k) == 0 && seen.insert(k).second) w->keys.push_back(k);
    }
    w->remaining = w->keys.size();
    // The connection holds its waiter before any list does: should a list fail to grow, the connection
    // is refused and dropWait takes the waiter out of the lists it got into (or a queue push could later
    // fire it on the freed connection).
    c.waiter = w;
    for (const std::string &k : w->keys) waiting_[k].push_back(w);
  }

  // Cancels `c`'s pending wait, if any.
  void dropWait(Connection &c) {
    if (c.waiter) cancel(c.waiter);
    c.waiter.reset();
  }

  void cancel(const std::shared_ptr<Waiter> &w) {
    if (!w->active) return;
    w->active = false;
    for (const std::string &k : w->keys) {
      auto it = waiting_.find(k);
      if (it == waiting_.end()) continue;
      auto &list = it->second;
      list.erase(std::remove(list.begin(), list.end(), w), list.end());
      if (list.empty()) waiting_.erase(it);
    }
  }

  // As StoreCore#wake: every waiter of the key counts it; a queue push wakes at most one waiter.
  void wakeKey(const std::string &key, bool one) {
    auto it = waiting_.find(key);
    if (it == waiting_.end()) return;
    if (one) {
      for (size_t i = 0; i < it->second.size(); i++) {
        std::shared_ptr<Waiter> w = it->second[i];
        if (w->active && --w->remaining == 0) return fire(w);
      }
      return;
    }
    std::vector<std::shared_ptr<Waiter>> list = std::move(it->second);
    waiting_.erase(it);
    for (auto &w : list) {
      if (w->active && --w->remaining == 0) fire(w);
    }
  }

  void fire(const std::shared_ptr<Waiter> &w) {
    cancel(w);
    Connection &c = *w->connection;
    c.waiter.reset();  // an active waiter is its connection's only one
    try {
      putU8(c.out, kStopWaiting);
    } catch (const std::bad_alloc &) {
      // the waiter's connection, not the one whose request woke it (nor the JS thread's set), is closed
      return refuse(c, "out of memory answering a wait");
    }
    flush(c);
  }

  // Writes what `c` owes; what the socket does not take now waits for EPOLLOUT. Past 64 MiB owed, the
  // connection is not read until its client reads.
  void flush(Connection &c) {
    if (c.dead) return;
    while (c.outAt < c.out.size()) {
      ssize_t n = send(c.fd, c.out.data() + c.outAt, c.out.size() - c.outAt, MSG_NOSIGNAL);
      if (n > 0) {
        c.outAt += size_t(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      drop(c);
      return;
    }
    size_t owed = c.owed();
    if (owed == 0) {
      c.out.clear();
      c.outAt = 0;
    } else if (c.outAt > (size_t(1) << 20)) {
      c.out.erase(0, c.outAt);
      c.outAt = 0;
    }
    uint32_t events = (c.full() ? 0 : EPOLLIN) | (owed > 0 ? EPOLLOUT : 0);
    if (events != c.events) {
      epoll_event ev{};
      ev.events = events;
      ev.data.ptr = &c;
      epoll_ctl(epoll_, EPOLL_CTL_MOD, c.fd, &ev);
      c.events = events;
    }
  }
};

// JS: new NativeStoreServer(host: string, port: number); host "" listens on every interface.
class StoreServerWrap : public Napi::ObjectWrap<StoreServerWrap> {
 public:
  static Napi::Function define(Napi::Env env) {
    return DefineClass(env, "NativeStoreServer", {
      InstanceAccessor<&StoreServerWrap::Port>("port"),
      InstanceMethod<&StoreServerWrap::Stats>("stats"),
      InstanceMethod<&StoreServerWrap::Get>("get"),
      InstanceMethod<&StoreServerWrap::Set>("set"),
      InstanceMethod<&StoreServerWrap::Close>("close"),
    });
  }

  explicit StoreServerWrap(const Napi::CallbackInfo &info) : Napi::ObjectWrap<StoreServerWrap>(info) {
    Napi::Env env = info.Env();
    server_ = std::make_shared<Server>();
    try {
      server_->start(info[0].As<Napi::String>().Utf8Value(), info[1].As<Napi::Number>().Int32Value());
    } catch (const std::exception &error) {
      throw Napi::Error::New(env, error.what());
    }
    // a thread that exits (or a process) with the server open stops it first
    // (weakly: a server closed and collected before then is freed, maps and all, with its wrapper)
    std::weak_ptr<Server> server = server_;
    env.AddCleanupHook([server]() {
      if (std::shared_ptr<Server> live = server.lock()) live->stop();
    });
  }

 private:
  std::shared_ptr<Server> server_;

  Napi::Value Port(const Napi::CallbackInfo &info) { return Napi::Number::New(info.Env(), server_->port()); }

  Napi::Value Stats(const Napi::CallbackInfo &info) {
    std::lock_guard<std::mutex> lock(server_->mutex_);
    Napi::Object o = Napi::Object::New(info.Env());
    // Under the mutex the loop holds for a whole batch: the batch's dead connections are freed already.
    o.Set("connections", double(server_->connections_.size()));
    o.Set("protocolErrors", double(server_->protocolErrors_));
    o.Set("lastProtocolError", server_->lastProtocolError_);
    return o;
  }

  static std::string keyArg(const Napi::Value &v) {
    Napi::Buffer<char> b = v.As<Napi::Buffer<char>>();
    return std::string(b.Data(), b.Length());
  }

  // get(key: Buffer) -> Buffer | undefined
  Napi::Value Get(const Napi::CallbackInfo &info) {
    try {
      std::string k = keyArg(info[0]);
      std::lock_guard<std::mutex> lock(server_->mutex_);
      auto it = server_->values_.find(k);
      if (it == server_->values_.end()) return info.Env().Undefined();
      return Napi::Buffer<char>::Copy(info.Env(), it->second.data(), it->second.size());
    } catch (const std::bad_alloc &) {
      throw Napi::Error::New(info.Env(), "the native TCPStore server ran out of memory reading a key");
    }
  }

  // set(key: Buffer, value: Uint8Array): as a client's SET. Memory that runs out fails this call only: the
  // map keeps its old value (an insertion that fails changes nothing), and a waiter whose reply cannot be
  // written loses its own connection (fire).
  Napi::Value Set(const Napi::CallbackInfo &info) {
    Napi::Uint8Array v = info[1].As<Napi::Uint8Array>();
    try {
      std::string k = keyArg(info[0]);
      std::lock_guard<std::mutex> lock(server_->mutex_);
      server_->set(k, std::string(reinterpret_cast<const char *>(v.Data()), v.ByteLength()));
    } catch (const std::bad_alloc &) {
      throw Napi::Error::New(info.Env(), "the native TCPStore server ran out of memory storing a value of " +
                                             std::to_string(v.ByteLength()) + " bytes");
    }
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo &info) {
    server_->stop();
    return info.Env().Undefined();
  }
};

}  // namespace

void initStoreServer(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeStoreServer", StoreServerWrap::define(env));
}

}  // namespace mr

#else  // elsewhere the addon has no NativeStoreServer, and TCPStore masters run the TypeScript server

#include "addon.h"

namespace mr {
void initStoreServer(Napi::Env, Napi::Object) {}
}  // namespace mr

#endif
