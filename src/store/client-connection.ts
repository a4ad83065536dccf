/**
 * One client connection to a TCPStore server. Requests are written at once and in order (pipelined);
 * their replies come back in the same order and are matched to them first in, first out, each read by
 * the request's own reader (which may read several fields and is run again when a reply is cut
 * between chunks). A WAIT is only ever sent on a connection of its own (TCPStore keeps a pool), so
 * that a reply that may come much later never stands between two others.
 *
 * Opening: connect (retrying until the deadline while nobody listens, as torch's client does), then,
 * unless the dialect is known, VALIDATE + PING as torch 2.x's client does. torch 1.13's server reads
 * those bytes as a SET whose key length is absurd and drops the connection: the client then connects
 * again and speaks 1.13 (the nonce's bytes are chosen so that length is past anything 1.13 accepts).
 */
import net from 'node:net';
import { StoreError } from '../errors.js';
import { ByteQueue, Cursor, FrameBuilder, Q, VALIDATION_MAGIC, wireCode, type Dialect } from './protocol.js';

/** Reads one reply (may set `cur.short`: called again with more bytes). */
export type Reader<T> = (cur: Cursor) => T;

interface Pending {
  read: Reader<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  readonly what: string;
}

export interface Address {
  readonly host: string;
  readonly port: number;
}

/** host:port, with brackets around an IPv6 address. */
export const formatAddress = (a: Address): string =>
  (a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`);

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Connects once; rejects with the socket error. */
function connectOnce(address: Address, ms: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: address.host, port: address.port, noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' }));
    }, Math.max(1, ms));
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** A handshake the server dropped: what torch 1.13's server does to VALIDATE. */
class DroppedHandshake extends Error {}

export class ClientConnection {
  readonly #socket: net.Socket;
  readonly #queue = new ByteQueue();
  readonly #cur = new Cursor();
  readonly #pending: Pending[] = [];
  readonly #label: string;
  #failure: Error | undefined;
  #corked = false;
  dialect: Dialect;

  private constructor(socket: net.Socket, dialect: Dialect, label: string) {
    this.#socket = socket;
    this.dialect = dialect;
    this.#label = label;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (error) => this.#fail(error));
    socket.on('close', () => this.#fail(new Error('the server closed the connection')));
    socket.unref(); // an idle connection does not keep the process alive; one awaiting a reply does
  }

  /**
   * Connects within `deadline` (a `performance.now()` time) and settles the dialect: `dialect` when
   * given, else what the server answers to VALIDATE + PING. `ping` false: a known current server gets
   * VALIDATE alone (no round trip).
   */
  static async open(
    address: Address, dialect: Dialect | 'auto', deadline: number, ping = true,
  ): Promise<ClientConnection> {
    const label = `TCPStore at ${formatAddress(address)}`;
    let backoff = 10, lastError: unknown;
    let speak = dialect;
    for (;;) {
      const left = deadline - performance.now();
      if (left <= 0) break;
      let socket: net.Socket;
      try {
        socket = await connectOnce(address, left);
      } catch (error) {
        lastError = error;
        await sleep(Math.min(backoff * (0.5 + Math.random()), Math.max(0, deadline - performance.now())));
        backoff = Math.min(backoff * 2, 1000);
        continue;
      }
      const connection = new ClientConnection(socket, speak === 'legacy' ? 'legacy' : 'current', label);
      if (speak === 'legacy') return connection;
      if (speak === 'current' && !ping) {
        connection.write(new FrameBuilder().u8(Q.VALIDATE).u32(VALIDATION_MAGIC).finish());
        return connection;
      }
      try {
        await connection.#handshake(deadline);
        return connection;
      } catch (error) {
        connection.destroy();
        if (!(error instanceof DroppedHandshake)) throw error;
        if (speak === 'current') {
          throw new StoreError(
            `${label} closed the connection at the handshake (VALIDATE + PING): not a torch 2.x TCPStore`);
        }
        speak = 'legacy';
      }
    }
    const code = (lastError as NodeJS.ErrnoException | undefined)?.code ?? (lastError as Error | undefined)?.message;
    const reason = code ? ` (last error: ${code})` : '';
    throw new StoreError(`${label}: could not connect before the deadline${reason}`, { cause: lastError });
  }

  async #handshake(deadline: number): Promise<void> {
    const nonce = ((process.pid & 0xff) << 24 | 0xffffff) >>> 0;
    const frame = new FrameBuilder().u8(Q.VALIDATE).u32(VALIDATION_MAGIC).u8(Q.PING).u32(nonce).finish();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new StoreError(`${this.#label}: no answer to the handshake before the deadline`)),
        Math.max(1, deadline - performance.now()));
    });
    try {
      const echoed = await Promise.race([this.request(frame, (cur) => cur.u32(), 'handshake'), timeout]);
      if (echoed !== nonce) {
        throw new StoreError(`${this.#label}: ping failed, the server echoed ${echoed} for the nonce ${nonce}`);
      }
    } catch (error) {
      if (!this.alive) throw new DroppedHandshake();
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** False once the connection failed or was closed. */
  get alive(): boolean {
    return this.#failure === undefined;
  }

  /** Requests written whose replies have not come. */
  get inFlight(): number {
    return this.#pending.length;
  }

  /** The wire byte for query `q` in this connection's dialect (throws when torch 1.13 lacks it). */
  code(q: number): number {
    const code = wireCode(this.dialect, q);
    if (code === undefined) throw new StoreError(`${this.#label} speaks torch 1.13's protocol, which lacks query ${q}`);
    return code;
  }

  /** Writes `frame`; resolves with what `read` makes of the reply (`read` null: no reply, resolves at once). */
  request<T>(frame: Buffer, read: Reader<T> | null, what: string): Promise<T> {
    if (this.#failure) return Promise.reject(this.#lost(what, this.#failure));
    if (read === null) {
      this.write(frame);
      return Promise.resolve(undefined as T);
    }
    return new Promise<T>((resolve, reject) => {
      const entry = { read, resolve: resolve as (value: unknown) => void, reject, what };
      if (this.#pending.push(entry) === 1) this.#socket.ref();
      this.write(frame);
    });
  }

  /**
   * Writes bytes (CANCEL_WAIT: its reply is read by the WAIT's reader). Writes of one tick go out in one
   * system call (corked until the next tick; a graceful `destroy` flushes them first).
   */
  write(frame: Buffer): void {
    if (this.#failure) return;
    if (!this.#corked) {
      this.#corked = true;
      this.#socket.cork();
      process.nextTick(() => {
        if (!this.#corked) return;
        this.#corked = false;
        this.#socket.uncork();
      });
    }
    this.#socket.write(frame);
  }

  /** Replaces the reader of the oldest pending reply (a WAIT being cancelled). */
  rereadOldest(read: Reader<unknown>): void {
    if (this.#pending[0]) this.#pending[0].read = read;
  }

  /** Closes the connection; `graceful`: what was written still reaches the server first (FIN after it). */
  destroy(graceful = false): void {
    this.#fail(new Error('the client closed the connection'));
    if (!graceful) return void this.#socket.destroy();
    if (this.#corked) {
      this.#corked = false;
      this.#socket.uncork();
    }
    this.#socket.end();
    setTimeout(() => this.#socket.destroy(), 1000).unref();
  }

  #onData(chunk: Buffer): void {
    this.#queue.push(chunk);
    while (this.#pending.length > 0 && this.#queue.length > 0) {
      const cur = this.#cur.reset(this.#queue);
      const head = this.#pending[0]!;
      let value: unknown;
      try {
        value = head.read(cur);
      } catch (error) {
        this.#fail(error as Error);
        this.#socket.destroy();
        return;
      }
      if (cur.short) return;
      this.#queue.consume(cur.consumed);
      this.#pending.shift();
      if (this.#pending.length === 0) this.#socket.unref();
      head.resolve(value);
    }
    if (this.#queue.length > 0 && this.#pending.length === 0) {
      this.#fail(new StoreError(`${this.#label} sent ${this.#queue.length} bytes that answer no request`));
      this.#socket.destroy();
    }
  }

  #lost(what: string, cause: Error): StoreError {
    if (cause instanceof StoreError) return new StoreError(`${cause.message} (during ${what})`, { cause });
    return new StoreError(`${this.#label}: connection lost during ${what}: ${cause.message}`, { cause });
  }

  #fail(error: Error): void {
    if (this.#failure) return;
    this.#failure = error;
    for (const pending of this.#pending.splice(0)) pending.reject(this.#lost(pending.what, error));
  }
}
