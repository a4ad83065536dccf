/**
 * `PrefixStore` (torch's): every key becomes `prefix + "/" + key` in the store underneath, so groups and
 * jobs can share one store without their keys meeting. `numKeys` counts the whole store, as in torch.
 * Closing a PrefixStore leaves the store underneath open (it may serve other prefixes).
 */
import { invalidType } from '../errors.js';
import { checkKey, checkKeys, type Store, type StoreValue } from './types.js';

export class PrefixStore implements Store {
  readonly prefix: string;
  readonly store: Store;

  constructor(prefix: string, store: Store) {
    if (typeof prefix !== 'string') throw invalidType('prefix', 'a string', prefix);
    if (typeof store !== 'object' || store === null || typeof (store as Store).get !== 'function') {
      throw invalidType('store', 'a Store (TCPStore, HashStore, PrefixStore)', store);
    }
    this.prefix = prefix;
    this.store = store;
  }

  get timeoutMs(): number {
    return this.store.timeoutMs;
  }

  set timeoutMs(ms: number) {
    this.store.timeoutMs = ms;
  }

  #key(key: string, name = 'key'): string {
    return `${this.prefix}/${checkKey(name, key)}`;
  }

  #keys(keys: readonly string[]): string[] {
    return checkKeys('keys', keys).map((key) => `${this.prefix}/${key}`);
  }

  async set(key: string, value: StoreValue): Promise<void> {
    return this.store.set(this.#key(key), value);
  }

  async get(key: string): Promise<Uint8Array> {
    return this.store.get(this.#key(key));
  }

  async add(key: string, amount: number): Promise<number> {
    return this.store.add(this.#key(key), amount);
  }

  async compareSet(key: string, expected: StoreValue, desired: StoreValue): Promise<Uint8Array> {
    return this.store.compareSet(this.#key(key), expected, desired);
  }

  async deleteKey(key: string): Promise<boolean> {
    return this.store.deleteKey(this.#key(key));
  }

  async numKeys(): Promise<number> {
    return this.store.numKeys();
  }

  async check(keys: readonly string[]): Promise<boolean> {
    return this.store.check(this.#keys(keys));
  }

  async wait(keys: readonly string[], timeoutMs?: number): Promise<void> {
    return this.store.wait(this.#keys(keys), timeoutMs);
  }

  async append(key: string, value: StoreValue): Promise<void> {
    return this.store.append(this.#key(key), value);
  }

  async multiGet(keys: readonly string[]): Promise<Uint8Array[]> {
    return this.store.multiGet(this.#keys(keys));
  }

  async multiSet(keys: readonly string[], values: readonly StoreValue[]): Promise<void> {
    return this.store.multiSet(this.#keys(keys), values);
  }

  async close(): Promise<void> {}
}
