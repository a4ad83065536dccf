/**
 * `TCPStore`: torch's TCPStore client (and, with `isMaster`, its server) over torch's wire protocol, so a
 * multirank process and torch processes can share one store either way round. Keys travel with torch's
 * "/" prefix, so `get("k")` here reads what torch's `set("k")` wrote. Requests of one store are
 * pipelined on its connection; waits run on connections of their own (see client-connection.ts), so a
 * pending `wait` or `get` never holds up another call.
 *
 * `get` sends CHECK + GET at once (one round trip when the key exists) and only waits when it does not;
 * against torch 1.13's server (whose GET of a missing key drops the connection) it waits first, as
 * torch's client does, and `append` / `multiGet` / `multiSet`, which 1.13 lacks, are built from its
 * queries (compare-and-set, GET, SET).
 */
import { ClosedError, checkInteger, invalidType, outOfRange } from '../errors.js';
import { ClientConnection, formatAddress, type Reader } from './client-connection.js';
import {
  FrameBuilder, MAX_KEYS, MAX_KEY_BYTES, MAX_REQUEST_BYTES, MAX_VALUE_BYTES, Q, READY, type Dialect,
} from './protocol.js';
import { listenHostFor, startServer, waitForWorkers, type ServerHandle } from './tcp-master.js';
import { WaitPool } from './tcp-waits.js';
import { isServerKind, type ServerKind } from './native-server.js';
import {
  DEFAULT_STORE_TIMEOUT_MS, checkKey, checkKeys, checkTimeout, toBytes, type Store, type StoreValue,
} from './types.js';

export interface TCPStoreOptions {
  /** The server's address (clients connect to it; default 127.0.0.1). */
  readonly host?: string;
  /** The server's port; the master's default 0 takes a free port (read it from `store.port`). */
  readonly port?: number;
  /** Start the server in this process (torch's `is_master`). */
  readonly isMaster?: boolean;
  /** Processes that will connect: each adds 1 to "init/" and the master waits for all (torch's `world_size`). */
  readonly worldSize?: number;
  /** Deadline of connecting, of `get`, `wait` and `multiGet`, and of the master's wait for workers (default 300 s). */
  readonly timeoutMs?: number;
  /** The master waits for `worldSize` stores to join before `create` resolves (default true). */
  readonly waitForWorkers?: boolean;
  /** Where the master listens: default `host` when it is an IP address or "localhost", else every interface. */
  readonly listenHost?: string;
  /** The wire dialect: "auto" (default: what the server answers), "current" (torch 2.x) or "legacy" (1.13). */
  readonly protocol?: Dialect | 'auto';
  /**
   * The master's server, as torch's `use_libuv` picks its daemon: "native" (C++, an epoll loop on a thread
   * of its own; the default where the native addon is built) or "js" (TypeScript). Default: the
   * MULTIRANK_STORE_SERVER environment variable, else "native" where it is built, else "js".
   */
  readonly server?: ServerKind;
  /** The TypeScript server runs on a worker thread of its own (default), or in this thread when false. */
  readonly serverThread?: boolean;
  /** Called with the port once the master listens, before it waits for workers (port 0: tell them the port). */
  readonly onListen?: (port: number) => void;
}

const readU8: Reader<number> = (cur) => cur.u8();
const readI64: Reader<number> = (cur) => Number(cur.i64());
const readBlob: Reader<Uint8Array> = (cur) => {
  const length = cur.u64();
  if (length > MAX_VALUE_BYTES) throw new Error(`a reply of ${length} bytes (at most ${MAX_VALUE_BYTES})`);
  return cur.bytes(length);
};
const readBlobs = (n: number): Reader<Uint8Array[]> => (cur) => {
  const out: Uint8Array[] = [];
  for (let i = 0; i < n && !cur.short; i++) out.push(readBlob(cur));
  return out;
};
const utf8 = (key: string): Buffer => Buffer.from(`/${key}`, 'utf8');

export class TCPStore implements Store {
  readonly host: string;
  readonly port: number;
  readonly isMaster: boolean;
  readonly worldSize: number | undefined;
  readonly server: ServerHandle | undefined;
  readonly #main: ClientConnection;
  readonly #waits: WaitPool;
  readonly #label: string;
  #timeoutMs: number;
  #closed = false;

  private constructor(
    main: ClientConnection, options: TCPStoreOptions & { host: string; port: number }, server?: ServerHandle,
  ) {
    this.#main = main;
    this.host = options.host;
    this.port = options.port;
    this.isMaster = options.isMaster ?? false;
    this.worldSize = options.worldSize;
    this.server = server;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_STORE_TIMEOUT_MS;
    this.#label = `TCPStore at ${formatAddress(this)}`;
    this.#waits = new WaitPool({ host: this.host, port: this.port }, main.dialect, this.#label);
  }

  /** Starts the server (`isMaster`), connects, and with `worldSize` joins (and, on the master, awaits) the workers. */
  static async create(options: TCPStoreOptions = {}): Promise<TCPStore> {
    if (typeof options !== 'object' || options === null) throw invalidType('options', 'an object', options);
    const host = options.host ?? '127.0.0.1';
    if (typeof host !== 'string' || host === '') throw invalidType('host', 'a non-empty string', host);
    const isMaster = options.isMaster ?? false;
    if (typeof isMaster !== 'boolean') throw invalidType('isMaster', 'a boolean', isMaster);
    let port = checkInteger('port', options.port ?? 0, 0, 65535);
    if (!isMaster && port === 0) {
      throw outOfRange('Expected `port` to be the server\'s port (1..65535) for a store with isMaster false, got 0');
    }
    if (options.worldSize !== undefined) checkInteger('worldSize', options.worldSize, 1);
    const timeoutMs = checkTimeout('timeoutMs', options.timeoutMs ?? DEFAULT_STORE_TIMEOUT_MS);
    const protocol = options.protocol ?? 'auto';
    if (!['auto', 'current', 'legacy'].includes(protocol)) {
      throw invalidType('protocol', '"auto", "current" or "legacy"', protocol);
    }
    if (options.server !== undefined && !isServerKind(options.server)) {
      throw invalidType('server', '"native" or "js"', options.server);
    }
    let server: ServerHandle | undefined;
    if (isMaster) {
      const listen = { host: options.listenHost ?? listenHostFor(host), port };
      server = await startServer(listen, options.serverThread ?? true, options.server);
      port = server.port;
      options.onListen?.(port);
    }
    const deadline = performance.now() + (timeoutMs || DEFAULT_STORE_TIMEOUT_MS);
    let main: ClientConnection;
    try {
      main = await ClientConnection.open({ host, port }, server ? 'current' : protocol, deadline, !server);
    } catch (error) {
      await server?.close();
      throw error;
    }
    const store = new TCPStore(main, { ...options, host, port, timeoutMs }, server);
    if (options.worldSize !== undefined && (options.waitForWorkers ?? true)) {
      try {
        await waitForWorkers(store, options.worldSize, timeoutMs);
      } catch (error) {
        await store.close();
        throw error;
      }
    }
    return store;
  }

  /** The dialect this store speaks with its server. */
  get protocol(): Dialect {
    return this.#main.dialect;
  }

  get timeoutMs(): number {
    return this.#timeoutMs;
  }

  set timeoutMs(ms: number) {
    this.#timeoutMs = checkTimeout('timeoutMs', ms);
  }

  async set(key: string, value: StoreValue): Promise<void> {
    const c = this.#conn();
    const frame = this.#frame(Q.SET).blob(this.#key(key)).blob(this.#value('value', value)).finish();
    await c.request(frame, null, 'set');
  }

  async get(key: string): Promise<Uint8Array> {
    const c = this.#conn(), k = this.#key(key), what = `get(${JSON.stringify(key)})`;
    if (c.dialect === 'current') {
      const frame = this.#frame(Q.CHECK).u64(1).blob(k).u8(Q.GET).blob(k).finish();
      const read: Reader<Uint8Array | null> = (cur) => (cur.u8() === READY ? readBlob(cur) : (readBlob(cur), null));
      const value = await c.request(frame, read, what);
      if (value) return value;
    }
    await this.#waitKeys([k], [key], this.#timeoutMs, what);
    return c.request(this.#frame(Q.GET).blob(k).finish(), readBlob, what);
  }

  /** `add` on the raw key (no "/" prefix): torch's "init/" counter. */
  async addRaw(key: string, amount: number): Promise<number> {
    const frame = this.#frame(Q.ADD).blob(Buffer.from(key, 'utf8')).i64(BigInt(amount)).finish();
    return this.#conn().request(frame, readI64, `add(${JSON.stringify(key)})`);
  }

  async add(key: string, amount: number): Promise<number> {
    const c = this.#conn(), k = this.#key(key);
    const frame = this.#frame(Q.ADD).blob(k).i64(BigInt(checkInteger('amount', amount))).finish();
    return c.request(frame, readI64, `add(${JSON.stringify(key)})`);
  }

  async compareSet(key: string, expected: StoreValue, desired: StoreValue): Promise<Uint8Array> {
    const c = this.#conn();
    const frame = this.#frame(Q.COMPARE_SET).blob(this.#key(key)).blob(this.#value('expected', expected))
      .blob(this.#value('desired', desired)).finish();
    return c.request(frame, readBlob, `compareSet(${JSON.stringify(key)})`);
  }

  async deleteKey(key: string): Promise<boolean> {
    const c = this.#conn();
    const frame = this.#frame(Q.DELETE_KEY).blob(this.#key(key)).finish();
    return (await c.request(frame, readI64, 'deleteKey')) === 1;
  }

  async numKeys(): Promise<number> {
    return this.#conn().request(this.#frame(Q.GETNUMKEYS).finish(), readI64, 'numKeys');
  }

  async check(keys: readonly string[]): Promise<boolean> {
    const c = this.#conn();
    const frame = this.#frame(Q.CHECK).list(this.#keys(keys)).finish();
    return (await c.request(frame, readU8, 'check')) === READY;
  }

  async wait(keys: readonly string[], timeoutMs?: number): Promise<void> {
    this.#conn();
    const ms = timeoutMs === undefined ? this.#timeoutMs : checkTimeout('timeoutMs', timeoutMs);
    await this.#waitKeys(this.#keys(keys), keys, ms, 'wait');
  }

  async append(key: string, value: StoreValue): Promise<void> {
    const c = this.#conn(), k = this.#key(key), v = this.#value('value', value);
    if (c.dialect === 'current') return c.request(this.#frame(Q.APPEND).blob(k).blob(v).finish(), null, 'append');
    for (;;) {
      // torch 1.13 has no APPEND: compare-and-set until no other writer came between
      const exists = (await c.request(this.#frame(Q.CHECK).list([k]).finish(), readU8, 'append')) === READY;
      const get = this.#frame(Q.GET).blob(k).finish();
      const old = exists ? await c.request(get, readBlob, 'append') : new Uint8Array(0);
      const next = Buffer.concat([old, v]);
      const cas = this.#frame(Q.COMPARE_SET).blob(k).blob(old).blob(next).finish();
      const now = await c.request(cas, readBlob, 'append');
      if (Buffer.compare(now, next) === 0) return;
    }
  }

  async multiGet(keys: readonly string[]): Promise<Uint8Array[]> {
    const c = this.#conn(), ks = this.#keys(keys);
    if (ks.length === 0) return [];
    if (c.dialect === 'current') {
      const frame = this.#frame(Q.CHECK).list(ks).u8(Q.MULTI_GET).list(ks).finish();
      const all = readBlobs(ks.length);
      const read: Reader<Uint8Array[] | null> = (cur) => (cur.u8() === READY ? all(cur) : (all(cur), null));
      const values = await c.request(frame, read, 'multiGet');
      if (values) return values;
    }
    await this.#waitKeys(ks, keys, this.#timeoutMs, 'multiGet');
    const frame = c.dialect === 'current' ? this.#frame(Q.MULTI_GET).list(ks) : this.#gets(ks);
    return c.request(frame.finish(), readBlobs(ks.length), 'multiGet');
  }

  async multiSet(keys: readonly string[], values: readonly StoreValue[]): Promise<void> {
    const c = this.#conn(), ks = this.#keys(keys);
    if (!Array.isArray(values) || values.length !== ks.length) {
      const got = Array.isArray(values) ? values.length : typeof values;
      throw outOfRange(`Expected \`values\` to be an array as long as \`keys\` (${ks.length}), got ${got}`);
    }
    const vs = values.map((v, i) => this.#value(`values[${i}]`, v));
    let frame: FrameBuilder;
    if (c.dialect === 'current') {
      // one request: the server closes a connection whose request passes MAX_REQUEST_BYTES
      const bytes = vs.reduce((sum, v, i) => sum + 16 + ks[i]!.length + v.length, 9);
      if (bytes > MAX_REQUEST_BYTES) {
        throw outOfRange(`Expected \`keys\` and \`values\` to come to at most ${MAX_REQUEST_BYTES} bytes ` +
          `in one multiSet (the store's limit on one request), got ${bytes}`);
      }
      frame = this.#frame(Q.MULTI_SET).u64(ks.length);
      ks.forEach((k, i) => frame.blob(k).blob(vs[i]!));
    } else {
      frame = new FrameBuilder();
      ks.forEach((k, i) => frame.u8(c.code(Q.SET)).blob(k).blob(vs[i]!));
    }
    await c.request(frame.finish(), null, 'multiSet');
  }

  /** Closes the connections, and the server on the master (its clients lose their connections). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#main.destroy(true);
    this.#waits.close();
    await this.server?.close();
  }

  #waitKeys(ks: readonly Buffer[], names: readonly string[], ms: number, what: string): Promise<void> {
    return this.#waits.wait(ks, names, ms, what, this.#timeoutMs || DEFAULT_STORE_TIMEOUT_MS);
  }

  #conn(): ClientConnection {
    if (this.#closed) throw new ClosedError(`${this.#label}: the store is closed`);
    return this.#main;
  }

  #frame(q: number): FrameBuilder {
    return new FrameBuilder().u8(this.#main.code(q));
  }

  #gets(ks: readonly Buffer[]): FrameBuilder {
    const frame = new FrameBuilder();
    for (const k of ks) frame.u8(this.#main.code(Q.GET)).blob(k);
    return frame;
  }

  #key(key: string, name = 'key'): Buffer {
    const bytes = utf8(checkKey(name, key));
    if (bytes.length > MAX_KEY_BYTES) {
      throw outOfRange(`Expected \`${name}\` to be at most ${MAX_KEY_BYTES - 1} bytes in UTF-8 (torch's TCPStore ` +
        `limit, with its "/" prefix), got ${bytes.length - 1} bytes`);
    }
    return bytes;
  }

  #keys(keys: readonly string[]): Buffer[] {
    checkKeys('keys', keys);
    if (keys.length > MAX_KEYS) {
      throw outOfRange(
        `Expected \`keys\` to hold at most ${MAX_KEYS} keys (torch's TCPStore limit), got ${keys.length}`,
      );
    }
    return keys.map((key, i) => this.#key(key, `keys[${i}]`));
  }

  #value(name: string, value: StoreValue): Uint8Array {
    const bytes = toBytes(name, value);
    if (bytes.length > MAX_VALUE_BYTES) {
      throw outOfRange(
        `Expected \`${name}\` to be at most ${MAX_VALUE_BYTES} bytes (torch's TCPStore limit), ` +
        `got ${bytes.length} bytes`);
    }
    return bytes;
  }
}
