/**
 * `HashStore`: the Store in this process (torch's `HashStore`), for tests and for ranks that share a
 * process. Same semantics as the TCP server, whose map it shares (`StoreCore`); no size limits.
 */
import { ClosedError, TimeoutError, checkInteger, outOfRange } from '../errors.js';
import { StoreCore } from './core.js';
import {
  DEFAULT_STORE_TIMEOUT_MS, checkKey, checkKeys, checkTimeout, listKeys, toBytes, type Store, type StoreValue,
} from './types.js';

/**
 * Resolves when every key exists in `core`; rejects after `timeoutMs` (0: never) 
 * with `describeTimeout`'s text. */
export function waitInCore(
  core: StoreCore, keys: readonly string[], timeoutMs: number, describeTimeout: () => string,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const waiter = core.wait(keys, () => {
      if (timer) clearTimeout(timer);
      resolve();
    });
    if (!waiter) return resolve();
    if (timeoutMs > 0) {
      timer = setTimeout(() => {
        core.cancel(waiter);
        reject(new TimeoutError(describeTimeout()));
      }, timeoutMs);
    }
  });
}

/** A copy of `bytes` (the caller keeps its array; the store keeps its own). */
const copy = (bytes: Uint8Array): Uint8Array => new Uint8Array(bytes);

export class HashStore implements Store {
  readonly #core = new StoreCore();
  #timeoutMs: number;
  #closed = false;

  constructor(options: { timeoutMs?: number } = {}) {
    this.#timeoutMs = checkTimeout('timeoutMs', options.timeoutMs ?? DEFAULT_STORE_TIMEOUT_MS);
  }

  get timeoutMs(): number {
    return this.#timeoutMs;
  }

  set timeoutMs(ms: number) {
    this.#timeoutMs = checkTimeout('timeoutMs', ms);
  }

  async set(key: string, value: StoreValue): Promise<void> {
    this.#open();
    this.#core.set(checkKey('key', key), copy(toBytes('value', value)));
  }

  async get(key: string): Promise<Uint8Array> {
    this.#open();
    checkKey('key', key);
    await this.#wait([key], this.#timeoutMs, `get(${JSON.stringify(key)})`);
    return copy(this.#core.get(key) ?? new Uint8Array(0));
  }

  async add(key: string, amount: number): Promise<number> {
    this.#open();
    checkKey('key', key);
    return Number(this.#core.add(key, BigInt(checkInteger('amount', amount))));
  }

  async compareSet(key: string, expected: StoreValue, desired: StoreValue): Promise<Uint8Array> {
    this.#open();
    checkKey('key', key);
    return copy(this.#core.compareSet(key, toBytes('expected', expected), copy(toBytes('desired', desired))));
  }

  async deleteKey(key: string): Promise<boolean> {
    this.#open();
    return this.#core.deleteKey(checkKey('key', key));
  }

  async numKeys(): Promise<number> {
    this.#open();
    return this.#core.size;
  }

  async check(keys: readonly string[]): Promise<boolean> {
    this.#open();
    return this.#core.check(checkKeys('keys', keys));
  }

  async wait(keys: readonly string[], timeoutMs?: number): Promise<void> {
    this.#open();
    checkKeys('keys', keys);
    const ms = timeoutMs === undefined ? this.#timeoutMs : checkTimeout('timeoutMs', timeoutMs);
    await this.#wait(keys, ms, 'wait');
  }

  async append(key: string, value: StoreValue): Promise<void> {
    this.#open();
    this.#core.append(checkKey('key', key), copy(toBytes('value', value)));
  }

  async multiGet(keys: readonly string[]): Promise<Uint8Array[]> {
    this.#open();
    checkKeys('keys', keys);
    await this.#wait(keys, this.#timeoutMs, 'multiGet');
    return keys.map((key) => copy(this.#core.get(key) ?? new Uint8Array(0)));
  }

  async multiSet(keys: readonly string[], values: readonly StoreValue[]): Promise<void> {
    this.#open();
    checkKeys('keys', keys);
    if (!Array.isArray(values) || values.length !== keys.length) {
      const got = Array.isArray(values) ? values.length : typeof values;
      throw outOfRange(`Expected \`values\` to be an array as long as \`keys\` (${keys.length}), got ${got}`);
    }
    const bytes = values.map((value, i) => copy(toBytes(`values[${i}]`, value)));
    keys.forEach((key, i) => this.#core.set(key, bytes[i]!));
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  #open(): void {
    if (this.#closed) throw new ClosedError('HashStore is closed');
  }

  #wait(keys: readonly string[], timeoutMs: number, what: string): Promise<void> {
    return waitInCore(this.#core, keys, timeoutMs,
      () => `HashStore: ${what} timed out after ${timeoutMs} ms waiting for keys: ${listKeys(keys)}`);
  }
}
