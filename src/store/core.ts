/**
 * The map behind a store, with the semantics of torch's libuv TCPStore daemon: `set`, `add`, `append`
 * and `compareSet` wake every waiter of the key; a waiter counts the keys still missing when it starts
 * and fires when that count reaches 0; `check` is true for a key that exists or names a non-empty
 * queue; `get` of a missing key gives undefined (the daemon answers empty bytes). Synchronous and
 * single-threaded: the TCP server and `HashStore` run it on their event loop. It never copies values:
 * callers hand over bytes they no longer write.
 */
import { StoreError } from '../errors.js';
import { parseCounter } from './types.js';

/** A pending wait: fires `done` once every key it counts exists. */
export interface Waiter {
  readonly keys: readonly string[];
  remaining: number;
  readonly done: () => void;
  active: boolean;
}

const EMPTY = new Uint8Array(0);
const latin1 = (key: string): Uint8Array => Buffer.from(key, 'latin1');

export class StoreCore {
  readonly #values = new Map<string, Uint8Array>();
  readonly #waiting = new Map<string, Waiter[]>();
  readonly #queues = new Map<string, Uint8Array[]>();

  get size(): number {
    return this.#values.size;
  }

  get(key: string): Uint8Array | undefined {
    return this.#values.get(key);
  }

  has(key: string): boolean {
    return this.#values.has(key);
  }

  set(key: string, value: Uint8Array): void {
    this.#values.set(key, value);
    this.#wake(key);
  }

  /** Adds to the decimal counter at `key`; throws a StoreError when the value there is not one. */
  add(key: string, amount: bigint): bigint {
    const old = this.#values.get(key);
    let value = amount;
    if (old !== undefined) {
      const current = parseCounter(old);
      if (current === undefined) {
        const shown = Buffer.from(old.subarray(0, 40)).toString('latin1');
        throw new StoreError(
          `add: the value at key ${JSON.stringify(key)} is not an integer counter (${JSON.stringify(shown)})`);
      }
      value = BigInt.asIntN(64, current + amount);
    }
    this.#values.set(key, latin1(value.toString()));
    this.#wake(key);
    return value;
  }

  compareSet(key: string, expected: Uint8Array, desired: Uint8Array): Uint8Array {
    const current = this.#values.get(key);
    let result: Uint8Array;
    if (current === undefined) {
      if (expected.length === 0) this.#values.set(key, desired);
      result = expected.length === 0 ? desired : expected;
    } else {
      if (Buffer.compare(current, expected) === 0) this.#values.set(key, desired);
      result = this.#values.get(key)!;
    }
    this.#wake(key);
    return result;
  }

  append(key: string, value: Uint8Array): void {
    const old = this.#values.get(key);
    this.#values.set(key, old === undefined ? value : Buffer.concat([old, value]));
    this.#wake(key);
  }

  deleteKey(key: string): boolean {
    return this.#values.delete(key);
  }

  check(keys: readonly string[]): boolean {
    return keys.every((key) => this.#values.has(key) || (this.#queues.get(key)?.length ?? 0) > 0);
  }

  /** Undefined when every key exists now (`done` is not called); else a waiter to `cancel` or let fire. */
  wait(keys: readonly string[], done: () => void): Waiter | undefined {
    if (this.check(keys)) return undefined;
    const missing = [...new Set(keys)].filter((key) => !this.#values.has(key));
    const waiter: Waiter = { keys: missing, remaining: missing.length, done, active: true };
    for (const key of missing) {
      const list = this.#waiting.get(key);
      if (list) list.push(waiter);
      else this.#waiting.set(key, [waiter]);
    }
    return waiter;
  }

  /** Forgets a waiter that has not fired (a timeout, a client gone). */
  cancel(waiter: Waiter): void {
    if (!waiter.active) return;
    waiter.active = false;
    for (const key of waiter.keys) {
      const list = this.#waiting.get(key);
      if (!list) continue;
      const at = list.indexOf(waiter);
      if (at >= 0) list.splice(at, 1);
      if (list.length === 0) this.#waiting.delete(key);
    }
  }

  queuePush(key: string, value: Uint8Array): void {
    const queue = this.#queues.get(key);
    if (queue) queue.push(value);
    else this.#queues.set(key, [value]);
    this.#wake(key, true);
  }

  /** The length before the pop and the value popped (none when the queue was empty). */
  queuePop(key: string): { length: number; value?: Uint8Array } {
    const queue = this.#queues.get(key);
    if (!queue || queue.length === 0) return { length: 0 };
    const length = queue.length;
    const value = queue.shift() ?? EMPTY;
    if (queue.length === 0) this.#queues.delete(key);
    return { length, value };
  }

  queueLength(key: string): number {
    return this.#queues.get(key)?.length ?? 0;
  }

  #wake(key: string, one = false): void {
    const list = this.#waiting.get(key);
    if (!list) return;
    if (one) {
      // torch wakes one waiter per push and keeps the list
      for (const waiter of list) if (waiter.active && --waiter.remaining === 0) return this.#fire(waiter);
      return;
    }
    this.#waiting.delete(key);
    for (const waiter of list) if (waiter.active && --waiter.remaining === 0) this.#fire(waiter);
  }

  #fire(waiter: Waiter): void {
    this.cancel(waiter);
    waiter.done();
  }
}
