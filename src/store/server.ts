/**
 * The TCPStore server: torch's daemon in Node. One event loop serves every connection; each connection
 * speaks the dialect its first bytes show (VALIDATE: current torch; anything else: torch 1.13) and is
 * parsed incrementally (a request runs only once it has fully arrived). A malformed or foreign request
 * or one over the limits closes that connection and nothing else; a client that disconnects loses its
 * pending wait, and a WAIT replaces one still pending (torch 1.13's client gives up on a wait without
 * cancelling it). Replies to one batch of requests go out in one writev (big values as the store's own
 * buffers, not copies); a client that does not read its replies is paused past 64 MiB of them, also in
 * the middle of a batch: its requests not yet run wait in its queue until it has read them.
 */
import net from 'node:net';
import { errorMessage, StoreError } from '../errors.js';
import { StoreCore, type Waiter } from './core.js';
import {
  ByteQueue, Cursor, FrameBuilder, LEGACY_WATCH_KEY, MAX_KEY_BYTES, MAX_KEYS, MAX_REPLY_BYTES,
  MAX_REQUEST_BYTES, MAX_VALUE_BYTES, NOT_READY, Q, READY, STOP_WAITING, VALIDATION_MAGIC, WAIT_CANCELED, fromLegacy,
  type Dialect,
} from './protocol.js';

const PAUSE_REPLY_BYTES = 64 * 1024 * 1024;

/** A request that breaks the protocol; its connection is closed. */
class ProtocolError extends Error {}

function keyLength(cur: Cursor): number {
  const length = cur.u64();
  if (length > MAX_KEY_BYTES) throw new ProtocolError(`key of ${length} bytes (at most ${MAX_KEY_BYTES})`);
  return length;
}

function valueLength(cur: Cursor): number {
  const length = cur.u64();
  if (length > MAX_VALUE_BYTES) throw new ProtocolError(`value of ${length} bytes (at most ${MAX_VALUE_BYTES})`);
  return length;
}

const key = (cur: Cursor): string => cur.latin1(keyLength(cur));
const value = (cur: Cursor): Uint8Array => cur.bytes(valueLength(cur));

function count(cur: Cursor): number {
  const n = cur.u64();
  if (n > MAX_KEYS) throw new ProtocolError(`${n} keys in one request (at most ${MAX_KEYS})`);
  return n;
}

/**
 * Whether `n` items of these fields (each read by its length reader) have all arrived; the cursor is left
 * where it was. Copies nothing: a request that arrives in many reads is parsed again each time a read
 * completes its next field, and copying its keys and values that far at every parse would make a big
 * MULTI_SET or key list quadratic (a 1 GiB MULTI_SET took 30 s). They are copied once, when it is whole.
 */
function arrived(cur: Cursor, n: number, fields: readonly ((cur: Cursor) => number)[]): boolean {
  const first = cur.pos;
  for (let i = 0; i < n && !cur.short; i++) for (const length of fields) cur.skip(length(cur));
  if (cur.short) return false;
  cur.pos = first;
  return true;
}

function keys(cur: Cursor): string[] {
  const n = count(cur);
  const out: string[] = [];
  if (!arrived(cur, n, [keyLength])) return out;
  for (let i = 0; i < n; i++) out.push(key(cur));
  return out;
}

/** One client connection. */
class Connection {
  readonly #queue = new ByteQueue();
  readonly #cur = new Cursor();
  #dialect: Dialect | undefined;
  #waiter: Waiter | undefined;
  #need = 1;
  #dead = false;
  /** The replies of the batch this connection is running, if any: a wait it releases answers in them. */
  #batchOut: FrameBuilder | undefined;

  constructor(readonly socket: net.Socket, readonly server: TCPStoreServer) {
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('drain', () => {
      socket.resume();
      this.#pump();
    });
    socket.on('error', () => {});
    socket.on('close', () => this.#onClose());
  }

  #onData(chunk: Buffer): void {
    if (this.#dead) return;
    this.#queue.push(chunk);
    this.#pump();
  }

  /** Runs the queued requests that have fully arrived, until the replies waiting to go out pass the limit. */
  #pump(): void {
    while (!this.#dead && this.#queue.length >= this.#need && !this.#full()) {
      if (!this.#batch()) return;
    }
  }

  /**
   * Whether the replies not yet sent, with `pending` more bytes of them, pass the limit (the socket is then
   * paused; 'drain' pumps again).
   */
  #full(pending = 0): boolean {
    return this.socket.writableLength + pending > PAUSE_REPLY_BYTES;
  }

  /** Runs one batch and writes its replies; true when it stopped at the limit with requests left. */
  #batch(): boolean {
    const out = new FrameBuilder();
    let more = false;
    this.#batchOut = out;
    try {
      while (this.#queue.length > 0) {
        if (this.#full(out.length)) {
          more = true;
          break;
        }
        const cur = this.#cur.reset(this.#queue);
        if (this.#dialect === undefined && !this.#detect(cur)) break;
        if (!this.#request(cur, out)) break;
        this.#queue.consume(cur.consumed);
      }
      this.#need = !more && this.#cur.short ? this.#cur.need : 1;
      if (this.#need > MAX_REQUEST_BYTES) {
        throw new ProtocolError(`request of at least ${this.#need} bytes (at most ${MAX_REQUEST_BYTES})`);
      }
    } catch (error) {
      this.server.protocolErrors++;
      this.server.lastProtocolError = errorMessage(error);
      this.#dead = true;
      this.socket.end(out.finish(), () => this.socket.destroy());
      setTimeout(() => this.socket.destroy(), 1000).unref();
      return false;
    } finally {
      this.#batchOut = undefined;
    }
    this.#writeParts(out.takeParts());
    return more;
  }

  /** Reads VALIDATE, or decides the client is torch 1.13; false until enough bytes came. */
  #detect(cur: Cursor): boolean {
    if (cur.u8() !== Q.VALIDATE) {
      this.#dialect = 'legacy';
      cur.reset(this.#queue);
      return true;
    }
    const magic = cur.u32();
    if (cur.short) return false;
    if (magic === VALIDATION_MAGIC) {
      this.#dialect = 'current';
      this.#queue.consume(cur.consumed);
      cur.reset(this.#queue);
    } else {
      this.#dialect = 'legacy';
      cur.reset(this.#queue);
    }
    return true;
  }

  /** Parses and runs one request; false when it has not fully arrived (nothing is run then). */
  #request(cur: Cursor, out: FrameBuilder): boolean {
    if (cur.q.length === 0) return false;
    const code = cur.u8();
    const q = this.#dialect === 'legacy' ? fromLegacy(code) : code;
    const core = this.server.core;
    switch (q) {
      case Q.SET: case Q.APPEND: case Q.QUEUE_PUSH: {
        const k = key(cur), v = value(cur);
        if (cur.short) return false;
        if (q === Q.SET) core.set(k, v);
        else if (q === Q.APPEND) core.append(k, v);
        else core.queuePush(k, v);
        return true;
      }
      case Q.COMPARE_SET: {
        const k = key(cur), expected = value(cur), desired = value(cur);
        if (cur.short) return false;
        out.blob(core.compareSet(k, expected, desired));
        return true;
      }
      case Q.GET: case Q.DELETE_KEY: case Q.QUEUE_POP: case Q.QUEUE_LEN: {
        const k = key(cur);
        if (cur.short) return false;
        if (q === Q.GET) out.blob(core.get(k) ?? EMPTY);
        else if (q === Q.DELETE_KEY) out.i64(core.deleteKey(k) ? 1n : 0n);
        else if (q === Q.QUEUE_LEN) out.i64(BigInt(core.queueLength(k)));
        else {
          const popped = core.queuePop(k);
          out.i64(BigInt(popped.length));
          if (popped.value) out.blob(popped.value);
        }
        return true;
      }
      case Q.ADD: {
        const k = key(cur), amount = cur.i64();
        if (cur.short) return false;
        try {
          out.i64(core.add(k, amount));
        } catch (error) {
          throw new ProtocolError((error as Error).message);
        }
        return true;
      }
      case Q.CHECK: case Q.WAIT: case Q.MULTI_GET: {
        const ks = keys(cur);
        if (cur.short) return false;
        if (q === Q.CHECK) out.u8(core.check(ks) ? READY : NOT_READY);
        else if (q === Q.MULTI_GET) this.#multiGet(ks, out);
        else this.#wait(ks, out);
        return true;
      }
      case Q.MULTI_SET: {
        const n = count(cur);
        if (!arrived(cur, n, [keyLength, valueLength])) return false;
        const pairs: [string, Uint8Array][] = [];
        for (let i = 0; i < n; i++) pairs.push([key(cur), value(cur)]);
        for (const [k, v] of pairs) core.set(k, v);
        return true;
      }
      case Q.GETNUMKEYS:
        out.i64(BigInt(core.size));
        return true;
      case Q.CANCEL_WAIT:
        if (this.#waiter) core.cancel(this.#waiter);
        this.#waiter = undefined;
        out.u8(WAIT_CANCELED);
        return true;
      case Q.PING: {
        const nonce = cur.u32();
        if (cur.short) return false;
        if (this.#dialect === 'legacy') throw new ProtocolError('PING from a torch 1.13 client');
        out.u32(nonce);
        return true;
      }
      default:
        throw new ProtocolError(code === LEGACY_WATCH_KEY && this.#dialect === 'legacy'
          ? 'WATCH_KEY (torch 1.13 watchKey) is not served'
          : `unknown query type ${code} (${this.#dialect} dialect)`);
    }
  }

  #multiGet(ks: readonly string[], out: FrameBuilder): void {
    const values = ks.map((k) => this.server.core.get(k) ?? EMPTY);
    const reply = values.reduce((bytes, v) => bytes + 8 + v.length, 0);
    if (reply > MAX_REPLY_BYTES) {
      throw new ProtocolError(`MULTI_GET reply of ${reply} bytes (at most ${MAX_REPLY_BYTES})`);
    }
    for (const v of values) out.blob(v);
  }

  #wait(ks: string[], out: FrameBuilder): void {
    // a client whose wait timed out without CANCEL_WAIT (torch 1.13) waits anew: the old wait is dropped
    if (this.#waiter) this.server.core.cancel(this.#waiter);
    this.#waiter = this.server.core.wait(ks, () => {
      this.#waiter = undefined;
      // Released by a later request of its own batch (a pipelined SET): after that batch's earlier replies.
      if (this.#batchOut !== undefined) this.#batchOut.u8(STOP_WAITING);
      else this.#writeParts([Buffer.of(STOP_WAITING)]);
    });
    if (!this.#waiter) out.u8(STOP_WAITING);
  }

  /** Writes `parts` in one writev; pauses reading once the replies not yet sent pass the limit. */
  #writeParts(parts: readonly Buffer[]): void {
    if (this.socket.destroyed || parts.length === 0) return;
    this.socket.cork();
    for (const part of parts) this.socket.write(part);
    this.socket.uncork();
    if (this.#full()) this.socket.pause();
  }

  #onClose(): void {
    if (this.#waiter) this.server.core.cancel(this.#waiter);
    this.#waiter = undefined;
    this.server.connections.delete(this);
  }
}

const EMPTY = new Uint8Array(0);

/**
 * Where to listen: a host name or address (default: every interface, IPv6 and
 * IPv4) and a port (0: any free one). */
/** The error of a server (either kind) that could not listen on `options`' address. */
export function listenFailed(options: ListenOptions, port: number, error: unknown): StoreError {
  const where = `${options.host ?? 'every interface'}, port ${port}`;
  const reason = (error as Error).message;
  return new StoreError(`TCPStore server could not listen on ${where}: ${reason}`, { cause: error });
}

export interface ListenOptions {
  readonly host?: string;
  readonly port?: number;
}

/** What tests and diagnostics read of a running server of either kind (this one, native-server.ts). */
export interface StoreServer {
  readonly port: number;
  /** Connections closed for a malformed request, and the last reason. */
  readonly protocolErrors: number;
  readonly lastProtocolError: string;
  /** Open client connections. */
  readonly connectionCount: number;
  /** The value at a key, as clients send keys (torch's client adds a "/" prefix). */
  value(key: string): Uint8Array | undefined;
  /** Sets a key as a client's SET does (wakes its waiters). */
  setValue(key: string, value: Uint8Array): void;
  close(): Promise<void>;
}

export class TCPStoreServer implements StoreServer {
  readonly core = new StoreCore();
  readonly connections = new Set<Connection>();
  /** Connections closed for a malformed request, and the last reason (for tests and diagnostics). */
  protocolErrors = 0;
  lastProtocolError = '';
  readonly #server: net.Server;
  #closed: Promise<void> | undefined;

  private constructor(server: net.Server) {
    this.#server = server;
  }

  /** Listens; resolves once the port is bound. Rejects with a StoreError naming the address. */
  static async listen(options: ListenOptions = {}): Promise<TCPStoreServer> {
    const server = net.createServer({ noDelay: true });
    const store = new TCPStoreServer(server);
    server.on('connection', (socket) => store.connections.add(new Connection(socket, store)));
    const port = options.port ?? 0;
    const attempt = (host: string | undefined): Promise<void> => new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port, backlog: 511 }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    try {
      if (options.host !== undefined) await attempt(options.host);
      else await attempt('::').catch(() => attempt('0.0.0.0'));
    } catch (error) {
      throw listenFailed(options, port, error);
    }
    server.on('error', () => {});
    return store;
  }

  /** The port the server listens on. */
  get port(): number {
    return (this.#server.address() as net.AddressInfo).port;
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  value(key: string): Uint8Array | undefined {
    return this.core.get(key);
  }

  setValue(key: string, value: Uint8Array): void {
    this.core.set(key, value);
  }

  /** Stops listening and closes every connection. */
  close(): Promise<void> {
    this.#closed ??= new Promise((resolve) => {
      this.#server.close(() => resolve());
      for (const connection of this.connections) connection.socket.destroy();
    });
    return this.#closed;
  }
}
