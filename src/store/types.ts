/**
 * The Store contract (torch's `c10d::Store`): a key-value map shared by the processes of a job, used for
 * rendezvous and small control-plane data. Every method is async; `get`, `wait` and `multiGet` wait for
 * their keys up to a deadline whose error names the keys. Values are bytes (a string is stored as its
 * UTF-8); `add` keeps its counter as decimal ASCII, as torch does, so a counter reads back with `get`.
 */
import { checkInteger, invalidType } from '../errors.js';

/** What a value may be given as: bytes, or a string (stored as UTF-8). */
export type StoreValue = string | Uint8Array;

/** torch's `kDefaultTimeout`: 300 s. */
export const DEFAULT_STORE_TIMEOUT_MS = 300_000;

export interface Store {
  /** The deadline of `get`, `wait` without a timeout, and `multiGet`, in ms (0: no deadline). */
  timeoutMs: number;
  /** Sets `key` (overwrites) and wakes its waiters. */
  set(key: string, value: StoreValue): Promise<void>;
  /** The value of `key`, waiting up to `timeoutMs` for it to exist. */
  get(key: string): Promise<Uint8Array>;
  /** Adds `amount` to the integer counter at `key` (missing: 0) and returns the new value. */
  add(key: string, amount: number): Promise<number>;
  /**
   * Replaces the value with `desired` when it equals `expected` (a missing key matches an empty
   * `expected`), and returns the value after the call. As torch: a missing key with a non-empty
   * `expected` stays missing and `expected` is returned.
   */
  compareSet(key: string, expected: StoreValue, desired: StoreValue): Promise<Uint8Array>;
  /** Removes `key`; true when it existed. */
  deleteKey(key: string): Promise<boolean>;
  /** How many keys the store holds (all of them: a PrefixStore does not scope this, as in torch). */
  numKeys(): Promise<number>;
  /** True when every key exists; never waits. */
  check(keys: readonly string[]): Promise<boolean>;
  /** Resolves once every key exists; rejects with a TimeoutError naming the keys after `timeoutMs`. */
  wait(keys: readonly string[], timeoutMs?: number): Promise<void>;
  /** Appends bytes to `key` (creates it when missing). */
  append(key: string, value: StoreValue): Promise<void>;
  /** The values of `keys`, waiting for all of them first. */
  multiGet(keys: readonly string[]): Promise<Uint8Array[]>;
  /** Sets every `keys[i]` to `values[i]`. */
  multiSet(keys: readonly string[], values: readonly StoreValue[]): Promise<void>;
  /** Releases what the store holds (sockets, a server). Later calls reject. */
  close(): Promise<void>;
}

const utf8 = new TextEncoder();

/** `value` as bytes: a Uint8Array as it is, a string as UTF-8. */
export function toBytes(name: string, value: unknown): Uint8Array {
  if (typeof value === 'string') return utf8.encode(value);
  if (value instanceof Uint8Array) return value;
  throw invalidType(name, 'a string or a Uint8Array', value);
}

/** Throws unless `key` is a string. */
export function checkKey(name: string, key: unknown): string {
  if (typeof key !== 'string') throw invalidType(name, 'a string', key);
  return key;
}

/** Throws unless `keys` is an array of strings; returns it. */
export function checkKeys(name: string, keys: unknown): readonly string[] {
  if (!Array.isArray(keys)) throw invalidType(name, 'an array of strings', keys);
  keys.forEach((key, i) => checkKey(`${name}[${i}]`, key));
  return keys as readonly string[];
}

/** Throws unless `ms` is a non-negative integer number of milliseconds (0: no deadline). */
export function checkTimeout(name: string, ms: unknown): number {
  return checkInteger(name, ms, 0);
}

/** The keys for a message: `"a", "b"` (at most 8 shown, then how many more). */
export function listKeys(keys: readonly string[]): string {
  const shown = keys.slice(0, 8).map((k) => JSON.stringify(k.length > 80 ? `${k.slice(0, 77)}...` : k));
  return keys.length > 8 ? `${shown.join(', ')} and ${keys.length - 8} more` : shown.join(', ');
}

/** Parses a counter as torch's `std::stoll` does (leading blanks, sign, digits); undefined when it is none. */
export function parseCounter(bytes: Uint8Array): bigint | undefined {
  const textOf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  const match = /^[ \t\n\v\f\r]*([+-]?\d+)/.exec(textOf);
  if (!match) return undefined;
  const value = BigInt(match[1]!);
  return value === BigInt.asIntN(64, value) ? value : undefined;
}
