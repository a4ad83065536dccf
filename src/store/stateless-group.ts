/**
 * `StatelessProcessGroup` (vLLM's, `vllm/distributed/utils.py`): a group of processes that meet through
 * a TCPStore (rank 0 hosts it) and exchange objects through it, without any global state, so the same
 * processes can form several groups. For metadata (ids, addresses, shapes), not for bulk data.
 *
 * As upstream: per-peer sequence numbers (one counter per destination, per source, per broadcast
 * source), keys `send_to/...` and `broadcast_from/{src}/{n}`, a sender's keys deleted by `expireData`
 * once older than `dataExpirationSeconds` (checked before each write), `broadcastObj` kept for late
 * readers. Differences: a point-to-point key names its sender too (`send_to/{dst}/{src}/{n}`: upstream's
 * `send_to/{dst}/{n}` lets two senders to one rank overwrite each other) and the receiver deletes it
 * once read; `allGatherObj` posts its own object first and then reads all the others at once (upstream
 * reads rank by rank, in a chain); objects are encoded with node:v8 (structured clone), Tensors boxed.
 *
 * `barrier` is free of the re-entry race: each barrier has keys of its own (`barrier/{g}/...`, g counted
 * per group), arrival is one atomic `add` (the last arriver posts `go`), departure likewise; rank 0,
 * which hosts the store, leaves last and deletes that barrier's keys, so a fast rank already in barrier
 * g+1 can neither see nor disturb barrier g.
 */
import v8 from 'node:v8';
import { TimeoutError, checkInteger, invalidType, outOfRange } from '../errors.js';
import { boxTensors, unboxTensors } from '../group/tensor-box.js';
import { TCPStore } from './tcp-store.js';
import type { Store } from './types.js';

export interface StatelessProcessGroupOptions {
  /** The address rank 0 listens on and the others connect to. */
  readonly host: string;
  /** The store's port (rank 0 may pass 0 and tell the others `group.port`). */
  readonly port: number;
  readonly rank: number;
  readonly worldSize: number;
  /** Deadline of the store's waits, in seconds (vLLM's `store_timeout`; default 300). */
  readonly storeTimeout?: number;
  /** A sender deletes its keys older than this, in seconds (default 3600). */
  readonly dataExpirationSeconds?: number;
  /** Rank 0: called with the store's port once it listens, before the ranks join (for port 0). */
  readonly onListen?: (port: number) => void;
}

const encode = (obj: unknown): Uint8Array => v8.serialize(boxTensors(obj));
const decode = (bytes: Uint8Array): unknown => unboxTensors(v8.deserialize(bytes));

export class StatelessProcessGroup {
  readonly rank: number;
  readonly worldSize: number;
  readonly store: Store;
  readonly dataExpirationSeconds: number;
  readonly #sendDst: number[];
  readonly #recvSrc: number[];
  readonly #broadcastRecvSrc: number[];
  #broadcastSend = 0;
  #barriers = 0;
  /** This rank's keys with the time each was written, oldest first. */
  readonly #entries: { key: string; time: number }[] = [];

  constructor(rank: number, worldSize: number, store: Store, dataExpirationSeconds = 3600) {
    this.worldSize = checkInteger('worldSize', worldSize, 1);
    this.rank = checkInteger('rank', rank, 0, worldSize - 1);
    if (typeof store !== 'object' || store === null) throw invalidType('store', 'a Store', store);
    this.store = store;
    if (typeof dataExpirationSeconds !== 'number' || !(dataExpirationSeconds >= 0)) {
      throw invalidType('dataExpirationSeconds', 'a non-negative number', dataExpirationSeconds);
    }
    this.dataExpirationSeconds = dataExpirationSeconds;
    this.#sendDst = new Array<number>(worldSize).fill(0);
    this.#recvSrc = new Array<number>(worldSize).fill(0);
    this.#broadcastRecvSrc = new Array<number>(worldSize).fill(0);
  }

  /** Rank 0 starts the store's server on `host`:`port`; every rank connects, and all wait for all. */
  static async create(options: StatelessProcessGroupOptions): Promise<StatelessProcessGroup> {
    if (typeof options !== 'object' || options === null) throw invalidType('options', 'an object', options);
    const worldSize = checkInteger('worldSize', options.worldSize, 1);
    const rank = checkInteger('rank', options.rank, 0, worldSize - 1);
    const port = checkInteger('port', options.port, 0, 65535);
    if (rank !== 0 && port === 0) {
      throw outOfRange(`Expected \`port\` to be rank 0's store port (1..65535) on rank ${rank}, got 0`);
    }
    const storeTimeout = options.storeTimeout ?? 300;
    if (typeof storeTimeout !== 'number' || !(storeTimeout >= 0)) {
      throw invalidType('storeTimeout', 'a number of seconds >= 0', storeTimeout);
    }
    const store = await TCPStore.create({
      host: options.host, port, isMaster: rank === 0, worldSize, timeoutMs: Math.round(storeTimeout * 1000),
      listenHost: rank === 0 ? options.host : undefined, onListen: options.onListen,
    });
    return new StatelessProcessGroup(rank, worldSize, store, options.dataExpirationSeconds ?? 3600);
  }

  /** The store's port (rank 0's server), when the store is a TCPStore. */
  get port(): number | undefined {
    return this.store instanceof TCPStore ? this.store.port : undefined;
  }

  #peer(name: string, rank: unknown): number {
    return checkInteger(name, rank, 0, this.worldSize - 1);
  }

  async #post(key: string, obj: unknown): Promise<void> {
    await this.expireData();
    await this.store.set(key, encode(obj));
    this.#entries.push({ key, time: Date.now() });
  }

  /** Sends `obj` to rank `dst` (it is kept in the store until `dst` receives it). */
  async sendObj(obj: unknown, dst: number): Promise<void> {
    this.#peer('dst', dst);
    await this.#post(`send_to/${dst}/${this.rank}/${this.#sendDst[dst]!++}`, obj);
  }

  /** The next object rank `src` sent to this rank (waits up to the store's deadline). */
  async recvObj(src: number): Promise<unknown> {
    this.#peer('src', src);
    const key = `send_to/${this.rank}/${src}/${this.#recvSrc[src]!++}`;
    const obj = decode(await this.store.get(key));
    this.store.deleteKey(key).catch(() => {});
    return obj;
  }

  /** `obj` from rank `src` to every rank (`obj` is ignored elsewhere); the value kept until it expires. */
  async broadcastObj(obj: unknown, src: number): Promise<unknown> {
    this.#peer('src', src);
    if (this.rank === src) {
      await this.#post(`broadcast_from/${src}/${this.#broadcastSend++}`, obj);
      return obj;
    }
    return decode(await this.store.get(`broadcast_from/${src}/${this.#broadcastRecvSrc[src]!++}`));
  }

  /** Every rank's `obj`, in rank order. */
  async allGatherObj(obj: unknown): Promise<unknown[]> {
    await this.broadcastObj(obj, this.rank);
    const keys: string[] = [];
    for (let src = 0; src < this.worldSize; src++) {
      if (src !== this.rank) keys.push(`broadcast_from/${src}/${this.#broadcastRecvSrc[src]!++}`);
    }
    const values = await this.store.multiGet(keys);
    const out: unknown[] = [];
    for (let src = 0, i = 0; src < this.worldSize; src++) out.push(src === this.rank ? obj : decode(values[i++]!));
    return out;
  }

  /** Returns once every rank has called it (the same number of times); rank 0 returns last. */
  async barrier(timeoutMs = 30_000): Promise<void> {
    checkInteger('timeoutMs', timeoutMs, 0);
    const prefix = `barrier/${this.#barriers++}/`;
    const phase = async (counter: string, done: string, what: string): Promise<void> => {
      if ((await this.store.add(prefix + counter, 1)) === this.worldSize) await this.store.set(prefix + done, '1');
      try {
        if (what === 'arrival' || this.rank === 0) await this.store.wait([prefix + done], timeoutMs);
      } catch (error) {
        if (!(error instanceof TimeoutError)) throw error;
        const count = await this.store.add(prefix + counter, 0);
        throw new TimeoutError(`StatelessProcessGroup.barrier: rank ${this.rank} timed out after ${timeoutMs} ms ` +
          `waiting for ${what}s: ${count} of ${this.worldSize} ranks (key ${JSON.stringify(prefix + done)})`,
          { cause: error });
      }
    };
    await phase('arrive', 'go', 'arrival');
    await phase('depart', 'left', 'departure');
    if (this.rank === 0) {
      await Promise.all(['arrive', 'go', 'depart', 'left'].map((k) => this.store.deleteKey(prefix + k)));
    }
  }

  /** Deletes this rank's keys older than `dataExpirationSeconds`. */
  async expireData(): Promise<void> {
    const now = Date.now();
    while (this.#entries.length > 0 && now - this.#entries[0]!.time > this.dataExpirationSeconds * 1000) {
      await this.store.deleteKey(this.#entries.shift()!.key);
    }
  }

  /** Closes the store (rank 0: its server too, so call it once the others are done, e.g. after a barrier). */
  close(): Promise<void> {
    return this.store.close();
  }
}
