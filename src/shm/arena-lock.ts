/**
 * The allocator's lock: one word of the arena header that holds the holder's thread tag (threadId + 1)
 * and a WAITERS bit, so the holder is known atomically with the lock (a futex-style mutex: spin, then
 * `Atomics.wait`; a release notifies only when someone waits).
 *
 * A thread terminated while it holds the lock (a rank thread ended inside an allocation by close()'s
 * grace period, a peer's failure or shutdown()) never releases it. The thread that created it sees it
 * exit (arena-recovery.ts) and takes the lock over with `takeFrom` — only from that thread, and thread
 * ids are never reused in a process, so a live holder is never robbed — then repairs the heap.
 */
import { threadId } from 'node:worker_threads';
import { TimeoutError } from '../errors.js';

/** Set in the lock word while a thread sleeps on it: its release must notify. */
const WAITERS = 0x40000000;
const LOCK_SPINS = 100;
/**
 * How long a thread waits for the allocator's lock before it gives up. The lock is held for microseconds;
 * a wait this long means its holder died and nobody recovered it (see above).
 */
export const ARENA_LOCK_TIMEOUT_MS = 10_000;
/** This thread's tag in the lock word (worker threadId + 1; the main thread is 1). */
const THREAD_TAG = threadId + 1;

export class ArenaLock {
  /** Deadline of a wait for the lock (see ARENA_LOCK_TIMEOUT_MS). */
  timeoutMs = ARENA_LOCK_TIMEOUT_MS;
  readonly #words: Int32Array;
  readonly #index: number;

  constructor(words: Int32Array, index: number) {
    this.#words = words;
    this.#index = index;
  }

  /** The id of the thread that holds the lock, or undefined when it is free. */
  get holder(): number | undefined {
    const value = Atomics.load(this.#words, this.#index) & ~WAITERS;
    return value === 0 ? undefined : value - 1;
  }

  acquire(): void {
    const w = this.#words, i = this.#index;
    for (let n = 0; n < LOCK_SPINS; n++) if (Atomics.compareExchange(w, i, 0, THREAD_TAG) === 0) return;
    const start = performance.now();
    for (;;) {
      // Spin again after every wake-up: a holder that allocates in a loop releases the lock for a moment
      // only, and a waiter that went straight back to sleep would never catch that moment.
      for (let n = 0; n < LOCK_SPINS; n++) {
        // Taken after sleeping, the lock keeps WAITERS: others may still sleep (a spurious notify is cheap).
        if (Atomics.load(w, i) === 0 && Atomics.compareExchange(w, i, 0, THREAD_TAG | WAITERS) === 0) return;
      }
      const value = Atomics.load(w, i);
      if (value === 0) continue;
      if ((value & WAITERS) === 0 && Atomics.compareExchange(w, i, value, value | WAITERS) !== value) continue;
      Atomics.wait(w, i, value | WAITERS, 100);
      const waited = performance.now() - start;
      if (waited > this.timeoutMs) throw this.#timeout(waited);
    }
  }

  release(): void {
    const was = Atomics.exchange(this.#words, this.#index, 0);
    if ((was & WAITERS) !== 0) Atomics.notify(this.#words, this.#index, 1);
  }

  /**
   * Takes the lock over from thread `deadThreadId` when that thread holds it; the caller must know that
   * thread is gone (it saw it exit), repair what it left half done, then `release`. Returns whether it did.
   */
  takeFrom(deadThreadId: number): boolean {
    const w = this.#words, i = this.#index;
    for (;;) {
      const value = Atomics.load(w, i);
      if ((value & ~WAITERS) !== deadThreadId + 1) return false;
      // Keep WAITERS: threads asleep behind the dead holder are woken by our release.
      if (Atomics.compareExchange(w, i, value, THREAD_TAG | (value & WAITERS)) === value) return true;
    }
  }

  #timeout(waited: number): TimeoutError {
    const holder = this.holder;
    return new TimeoutError(
      `Thread ${threadId} waited ${Math.round(waited)} ms for the shared arena's lock, held by ` +
        `${holder === undefined ? 'no thread any more' : `thread ${holder}`}: a thread terminated inside an ` +
        'allocation holds it until the thread that created it sees it exit and recovers it (a rank thread\'s ' +
        'exit is seen by the driver once its event loop runs)',
    );
  }
}
