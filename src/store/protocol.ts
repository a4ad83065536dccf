/**
 * torch's TCPStore wire protocol, both dialects:
 *
 * - **current** (torch 2.x, the libuv daemon): a connection opens with VALIDATE (u8 0, u32 0x3C85F7CE),
 *   then each request is a u8 query type and its fields; torch's client follows VALIDATE with a PING
 *   (u32 nonce, echoed).
 * - **legacy** (torch 1.13): no VALIDATE, no PING, and the query types are numbered without VALIDATE
 *   (SET is 0) with WATCH_KEY at 7, so DELETE_KEY keeps 8; 2.0's APPEND..CANCEL_WAIT took 9..12.
 *
 * Fields are little-endian: integers raw (u32, i64, u64); a key or a value is a u64 length and the
 * bytes; a list of keys is a u64 count and the keys. Limits as the libuv daemon's: a key is at most
 * 8 KiB, a value 8 MiB, a list 128 Ki keys; a request over them closes the connection.
 */

/** The u32 that opens a current-dialect connection. */
export const VALIDATION_MAGIC = 0x3c85f7ce;
/** Longest key on the wire in bytes (torch's `MAX_STRING_LEN`; includes the client's "/" prefix). */
export const MAX_KEY_BYTES = 8 * 1024;
/** Largest value in bytes (torch's `MAX_PAYLOAD_LEN`). */
export const MAX_VALUE_BYTES = 8 * 1024 * 1024;
/** Most keys in one CHECK, WAIT, MULTI_GET or MULTI_SET (torch's `MAX_KEY_COUNT`). */
export const MAX_KEYS = 128 * 1024;
/**
 * Most bytes of one reply: a MULTI_GET whose values come to more closes its connection (MAX_KEYS values
 * of MAX_VALUE_BYTES would be a terabyte; torch's server has no limit and would run out of memory).
 */
export const MAX_REPLY_BYTES = 2 ** 30;
/**
 * Most bytes of one request: a server runs a request only once it has all of it, so a MULTI_SET whose keys
 * and values come to more closes its connection as soon as that many have arrived (torch's server has no
 * limit: MAX_KEYS values of MAX_VALUE_BYTES would be a terabyte held before it runs).
 */
export const MAX_REQUEST_BYTES = 2 ** 30;

/** Query types, current numbering (`TCPStoreBackend.hpp`). */
export const Q = {
  VALIDATE: 0, SET: 1, COMPARE_SET: 2, GET: 3, ADD: 4, CHECK: 5, WAIT: 6, GETNUMKEYS: 7, DELETE_KEY: 8,
  APPEND: 9, MULTI_GET: 10, MULTI_SET: 11, CANCEL_WAIT: 12, PING: 13, QUEUE_PUSH: 14, QUEUE_POP: 15, QUEUE_LEN: 16,
} as const;

/** torch 1.13's WATCH_KEY (a callback socket per client); not served. */
export const LEGACY_WATCH_KEY = 7;

/** CHECK replies READY (0) or NOT_READY (1); WAIT replies STOP_WAITING (0), CANCEL_WAIT WAIT_CANCELED (1). */
export const READY = 0, NOT_READY = 1, STOP_WAITING = 0, WAIT_CANCELED = 1;

export type Dialect = 'current' | 'legacy';

/** The byte a client of `dialect` sends for the current query `q` (legacy: undefined when 1.13 lacks it). */
export function wireCode(dialect: Dialect, q: number): number | undefined {
  if (dialect === 'current') return q;
  if (q >= Q.SET && q <= Q.GETNUMKEYS) return q - 1;
  return q === Q.DELETE_KEY ? q : undefined;
}

/** The current query type for a byte from a legacy client (undefined: not one). */
export function fromLegacy(code: number): number | undefined {
  if (code <= 6) return code + 1;
  if (code >= Q.DELETE_KEY && code <= Q.CANCEL_WAIT) return code;
  return undefined;
}

/** A growable byte buffer that frames are parsed from; a chunk that arrives on an empty buffer is not copied. */
export class ByteQueue {
  buf: Buffer = Buffer.alloc(0);
  start = 0;
  end = 0;

  get length(): number {
    return this.end - this.start;
  }

  push(chunk: Buffer): void {
    if (this.start === this.end) {
      this.buf = chunk;
      this.start = 0;
      this.end = chunk.length;
      return;
    }
    if (this.end + chunk.length > this.buf.length) {
      const length = this.end - this.start;
      const next = Buffer.allocUnsafe(Math.max(2 * (length + chunk.length), 4096));
      this.buf.copy(next, 0, this.start, this.end);
      this.buf = next;
      this.start = 0;
      this.end = length;
    }
    chunk.copy(this.buf, this.end);
    this.end += chunk.length;
  }

  consume(bytes: number): void {
    this.start += bytes;
    if (this.start === this.end) {
      this.buf = Buffer.alloc(0);
      this.start = this.end = 0;
    }
  }
}

/**
 * Reads fields from a ByteQueue without consuming: a read past the end sets `short` (and `need`, the
 * bytes the frame needs at least) and returns a dummy, so a parser reads on and checks `short` once.
 */
export class Cursor {
  q!: ByteQueue;
  pos = 0;
  short = false;
  need = 0;

  reset(q: ByteQueue): this {
    this.q = q;
    this.pos = q.start;
    this.short = false;
    this.need = 0;
    return this;
  }

  /** Bytes read so far in this frame. */
  get consumed(): number {
    return this.pos - this.q.start;
  }

  #take(bytes: number): number {
    const at = this.pos;
    if (this.short || at + bytes > this.q.end) {
      if (!this.short) this.need = at + bytes - this.q.start;
      this.short = true;
      return -1;
    }
    this.pos += bytes;
    return at;
  }

  u8(): number {
    const at = this.#take(1);
    return at < 0 ? 0 : this.q.buf[at]!;
  }

  u32(): number {
    const at = this.#take(4);
    return at < 0 ? 0 : this.q.buf.readUInt32LE(at);
  }

  i64(): bigint {
    const at = this.#take(8);
    return at < 0 ? 0n : this.q.buf.readBigInt64LE(at);
  }

  /** A u64 as a number; lengths past 2^53 read as Infinity (over every limit). */
  u64(): number {
    const at = this.#take(8);
    if (at < 0) return 0;
    const high = this.q.buf.readUInt32LE(at + 4);
    return high >= 0x200000 ? Infinity : high * 2 ** 32 + this.q.buf.readUInt32LE(at);
  }

  /** Moves past `bytes` bytes (or marks the frame short). */
  skip(bytes: number): this {
    this.#take(bytes);
    return this;
  }

  /** `bytes` bytes, copied (the buffer is reused). */
  bytes(bytes: number): Uint8Array {
    const at = this.#take(bytes);
    return at < 0 ? EMPTY : Uint8Array.prototype.slice.call(this.q.buf, at, at + bytes);
  }

  /** `bytes` bytes as a latin1 string (one char per byte: keys keep their exact bytes). */
  latin1(bytes: number): string {
    const at = this.#take(bytes);
    return at < 0 ? '' : this.q.buf.toString('latin1', at, at + bytes);
  }
}

const EMPTY = new Uint8Array(0);

/** Builds one or more frames into one buffer. */
export class FrameBuilder {
  #parts: Buffer[] = [];
  /** Bytes in `#parts` (so that `length` costs the same however many parts a batch made). */
  #partBytes = 0;
  #head = Buffer.allocUnsafe(64);
  #at = 0;

  #room(bytes: number): void {
    if (this.#at + bytes <= this.#head.length) return;
    this.#flushHead();
    this.#head = Buffer.allocUnsafe(Math.max(64, bytes));
  }

  #flushHead(): void {
    if (this.#at > 0) this.#push(this.#head.subarray(0, this.#at));
    this.#head = this.#head.subarray(this.#at);
    this.#at = 0;
  }

  u8(value: number): this {
    this.#room(1);
    this.#head[this.#at++] = value;
    return this;
  }

  u32(value: number): this {
    this.#room(4);
    this.#at = this.#head.writeUInt32LE(value >>> 0, this.#at);
    return this;
  }

  i64(value: bigint): this {
    this.#room(8);
    this.#at = this.#head.writeBigInt64LE(value, this.#at);
    return this;
  }

  u64(value: number): this {
    this.#room(8);
    this.#head.writeUInt32LE(value >>> 0, this.#at);
    this.#at = this.#head.writeUInt32LE(Math.floor(value / 2 ** 32), this.#at + 4);
    return this;
  }

  /** A u64 length and the bytes (small ones copied in, large ones kept as their own part). */
  blob(bytes: Uint8Array): this {
    this.u64(bytes.length);
    if (bytes.length <= 256) {
      this.#room(bytes.length);
      this.#head.set(bytes, this.#at);
      this.#at += bytes.length;
    } else {
      this.#flushHead();
      this.#push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    }
    return this;
  }

  /** A u64 count and the keys. */
  list(keys: readonly Uint8Array[]): this {
    this.u64(keys.length);
    for (const key of keys) this.blob(key);
    return this;
  }

  #push(part: Buffer): void {
    this.#parts.push(part);
    this.#partBytes += part.length;
  }

  /** Bytes built so far. */
  get length(): number {
    return this.#partBytes + this.#at;
  }

  /** Everything built, as one buffer. */
  finish(): Buffer {
    const parts = this.takeParts();
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  /**
   * Everything built, as its parts: large values stay the store's own buffers (not copied), so a reply
   * that lists one big value many times costs no memory per copy (a server writes the parts in one writev).
   */
  takeParts(): Buffer[] {
    this.#flushHead();
    const parts = this.#parts;
    this.#parts = [];
    this.#partBytes = 0;
    return parts;
  }
}
