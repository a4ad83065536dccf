/**
 * The one waiting primitive of the runtime: spin a bounded number of `Atomics.load`s, then sleep in
 * `Atomics.wait` slices until a shared word satisfies a condition, a deadline passes, or an abort word
 * is raised. A sleeping thread uses no CPU; every wait has a timeout; a long wait reports itself.
 *
 * Wake-up protocol (no lost wake-up, and no `Atomics.notify` when nobody sleeps):
 *
 *   waiter                                   waker
 *   v = load(word)          (L)              store(word, v')          (K1)
 *   if cond(v) return                         if load(sleepers) > 0    (K2)
 *   add(sleepers, +1)       (W1)                notify(word)           (K3)
 *   wait(word, v, slice)    (W2: sleeps only if word is still v)
 *   add(sleepers, -1)
 *
 * All of these are sequentially consistent Atomics. If K2 does not see W1, then K1 < K2 < W1 < W2 in the
 * single total order, so W2 reads v' != v and returns at once. If K2 sees W1, the notify K3 follows; W2
 * either ran before K1 (the waiter is queued and K3 wakes it) or after K1 (it reads v' and returns).
 * The waiter always waits on the value it read, never on a value it assumes.
 *
 * Between the spin and the sleep, a thread that has a way to yield its core (`setThreadYield`: the native
 * addon's sched_yield, installed in rank threads) polls the word with it while other threads run: when
 * ranks outnumber cores, the peer the waiter needs is then usually runnable and gets the core at once,
 * where a sleep costs a futex wake-up and a switch each way (on the 2-core machine a barrier of 8 threads
 * took 13.5 µs with yields against 81 µs with sleeps). The poll ends as soon as its yields find nobody else
 * to run (`EMPTY_YIELDS_MAX` in a row), and after `YIELD_WINDOW_MS` at most; then the waiter sleeps.
 *
 * Abort words (a closed queue, a failed job) are checked before every slice, so a raised word releases
 * every waiter within one `WAIT_SLICE_MS`; a raiser that also changes and notifies the words that the
 * waiters sleep on (as `ShmRingBuffer.close` does) releases them at once. They are also checked before a
 * wait returns, even one whose condition held at once: after a failure, a peer's abandoned arrival can
 * satisfy a condition that no live call did, and the caller must get the failure, not stale data.
 */
import { availableParallelism } from 'node:os';
import {
  TimeoutError, checkInteger, checkTimeoutMs, invalidChoice, invalidType, outOfRange,
} from '../errors.js';

/** Most `Atomics.load`s spent before sleeping (about 2-3 µs): enough to catch a peer that is running. */
export const SPIN_ITERATIONS_MAX = 256;
/**
 * The most an adaptive waiter spins when every runnable thread has a core (about 20-40 µs): a peer that
 * is running answers within it, where a blocking wake-up costs 7 µs and more each way. `AdaptiveSpin`
 * halves its budget after every wait that had to sleep, so on a busy machine it falls back to
 * SPIN_ITERATIONS_MAX at once.
 */
export const SPIN_ITERATIONS_ADAPTIVE_MAX = 16_384;
/**
 * Longest single `Atomics.wait`; abort words and stall reports are checked between slices. Each timed-out
 * slice costs about 20-40 µs of CPU in V8, so 50 ms keeps a sleeper near 0.1 % of a core (10 ms: ~0.7 %).
 */
export const WAIT_SLICE_MS = 50;
/** Longest poll with yields before a waiter sleeps (well under the stall reports' 50 ms). */
export const YIELD_WINDOW_MS = 5;
/** Yields in a row that ran nobody else (each back within `EMPTY_YIELD_MS`) before a waiter sleeps. */
export const EMPTY_YIELDS_MAX = 16;
const EMPTY_YIELD_MS = 0.003;
/** Default deadline of every blocking wait (5 minutes), overridden by `MULTIRANK_TIMEOUT_MS`. */
export const DEFAULT_TIMEOUT_MS = 300_000;
/** The environment variable read by `timeoutFromEnv`. */
export const TIMEOUT_ENV = 'MULTIRANK_TIMEOUT_MS';

/** A shared "closed / failed" word: non-zero releases every wait that lists it, with `error(value)`. */
export interface AbortWord {
  readonly flags: Int32Array;
  readonly index: number;
  /** Builds the error thrown by a released waiter from the word's value. */
  readonly error: (value: number) => Error;
}

/**
 * Shows a long wait in a status record that another thread reads (the deadlock watchdog reads the rank
 * records): `mark` once the wait has lasted `afterMs`, `clear` when that wait ends, however it ends.
 */
export interface WaitMarker {
  readonly afterMs: number;
  mark(waitedMs: number): void;
  clear(): void;
}

/** Options of `waitFor`. Keep one object per call site and change its fields: the hot path allocates nothing. */
export interface WaitOptions {
  /** Deadline of this wait in ms (finite, > 0); see `timeoutFromEnv`. */
  timeoutMs: number;
  /** Says what is waited for, by whom, in which call; it begins the `TimeoutError` message. */
  describe: () => string;
  /** `Atomics.load`s before sleeping, 0..SPIN_ITERATIONS_MAX; 0 when threads outnumber cores. */
  spinIterations?: number;
  /** Index in `flags` of the counter of threads asleep on `index`; wakers read it to skip `notify`. */
  sleepersIndex?: number;
  /** Longest single sleep in ms; default `WAIT_SLICE_MS`. */
  sliceMs?: number;
  /** Calls `onStall(waitedMs)` after `stallMs` of waiting, and again every `stallMs`. */
  stallMs?: number;
  onStall?: (waitedMs: number) => void;
  /** A budget that adapts to how the last waits went (used instead of `spinIterations` when given). */
  adaptiveSpin?: AdaptiveSpin;
  /** Words checked before every sleep; the first non-zero one ends the wait with its error. */
  abort?: AbortWord | readonly AbortWord[];
  /** Marks a long wait in a status record (only waits that sleep can last that long: no cost when fast). */
  marker?: WaitMarker;
}

/** Either the value the word must hold, or a predicate of the word's value. */
export type WaitCondition = number | ((value: number) => boolean);

/** Reads `MULTIRANK_TIMEOUT_MS` from the environment passed in (never mutates it); default 300 000. */
export function timeoutFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[TIMEOUT_ENV];
  if (raw === undefined || raw === '') return DEFAULT_TIMEOUT_MS;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) {
    throw outOfRange(`Expected \`${TIMEOUT_ENV}\` to be a positive number of milliseconds, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/** The spin budget for `threads` runnable threads: `SPIN_ITERATIONS_MAX` if they fit the cores, else 0. */
export function spinIterationsFor(threads: number, cores: number = availableParallelism()): number {
  checkInteger('threads', threads, 1);
  checkInteger('cores', cores, 1);
  return threads <= cores ? SPIN_ITERATIONS_MAX : 0;
}

/** The environment variable read by `waitYieldFromEnv`: `0` turns the poll with yields off. */
export const WAIT_YIELD_ENV = 'MULTIRANK_WAIT_YIELD';

/** Whether rank threads poll with yields before they sleep: `MULTIRANK_WAIT_YIELD` unset or `1`, or `0`. */
export function waitYieldFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  const raw = env[WAIT_YIELD_ENV];
  if (raw === undefined || raw === '' || raw === '1') return true;
  if (raw === '0') return false;
  throw invalidChoice(WAIT_YIELD_ENV, ['0', '1'], raw);
}

/** This thread's way to give its core to another runnable thread; undefined: it has none (sleep at once). */
let threadYield: (() => void) | undefined;

/**
 * Installs (or, with undefined, removes) this thread's yield (see the top of this file). Rank threads
 * install the native addon's where it is built.
 */
export function setThreadYield(yieldNow: (() => void) | undefined): void {
  if (yieldNow !== undefined && typeof yieldNow !== 'function') {
    throw invalidType('yieldNow', 'a function', yieldNow);
  }
  threadYield = yieldNow;
}

/** Whether this thread's waits poll with yields before they sleep. */
export function hasThreadYield(): boolean {
  return threadYield !== undefined;
}

function holds(condition: WaitCondition, value: number): boolean {
  return typeof condition === 'number' ? value === condition : condition(value);
}

function checkWaitArgs(flags: Int32Array, index: number, condition: WaitCondition, options: WaitOptions): void {
  if (!(flags instanceof Int32Array) || !(flags.buffer instanceof SharedArrayBuffer)) {
    throw invalidType('flags', 'an Int32Array over a SharedArrayBuffer', flags);
  }
  checkInteger('index', index, 0, flags.length - 1);
  if (typeof condition !== 'number' && typeof condition !== 'function') {
    throw invalidType('condition', 'a number or a predicate function', condition);
  }
  const { timeoutMs } = options;
  // The test inline (every wait makes it); the factory only builds the error.
  if (typeof timeoutMs !== 'number' || !(timeoutMs > 0) || !Number.isFinite(timeoutMs)) {
    checkTimeoutMs('options.timeoutMs', timeoutMs);
  }
}

/**
 * Blocks until `flags[index]` satisfies `condition` and returns the value that did.
 * @throws TimeoutError (ERR_MULTIRANK_TIMEOUT) after `options.timeoutMs`, message from `options.describe()`.
 * @throws the abort word's error as soon as one is raised; whatever `onStall` throws.
 */
export function waitFor(flags: Int32Array, index: number, condition: WaitCondition, options: WaitOptions): number {
  checkWaitArgs(flags, index, condition, options);
  let value = Atomics.load(flags, index);
  if (holds(condition, value)) {
    throwIfAborted(options.abort);
    return value;
  }
  const adaptive = options.adaptiveSpin;
  const spins = adaptive !== undefined ? adaptive.budget : options.spinIterations ?? SPIN_ITERATIONS_MAX;
  for (let i = 0; i < spins; i++) {
    value = Atomics.load(flags, index);
    if (holds(condition, value)) {
      adaptive?.update(0);
      throwIfAborted(options.abort);
      return value;
    }
  }
  return waitAfterSpin(flags, index, condition, options, value);
}

/**
 * The rest of a wait whose spin ran out: the poll with yields, then the sleep. One call site in `waitFor`
 * and one exit here on purpose: V8 (11.x) compiled `waitFor` while every wait ended in its spin, left a
 * call that had never run without type feedback, and then bailed out of that same compiled code on every
 * wait that took it (350 times in the first 16 000 calls of a 2-rank job), instead of compiling again.
 */
function waitAfterSpin(
  flags: Int32Array, index: number, condition: WaitCondition, options: WaitOptions, seen: number,
): number {
  const startMs = performance.now();
  let value = threadYield === undefined ? Number.NaN
    : yieldUntil(flags, index, condition, options, startMs, threadYield);
  if (Number.isNaN(value)) value = sleepUntil(flags, index, condition, options, seen, startMs);
  options.adaptiveSpin?.update(performance.now() - startMs);
  throwIfAborted(options.abort);
  return value;
}

/**
 * Polls `flags[index]` between yields of the core; returns the value that satisfied `condition`, or NaN
 * (sleep instead) once the yields find no other thread to run, or the window (or the deadline) passed.
 */
function yieldUntil(
  flags: Int32Array, index: number, condition: WaitCondition, options: WaitOptions, startMs: number,
  yieldNow: () => void,
): number {
  const endMs = startMs + Math.min(YIELD_WINDOW_MS, options.timeoutMs);
  let empty = 0;
  for (let before = startMs; before < endMs;) {
    yieldNow();
    const value = Atomics.load(flags, index);
    if (holds(condition, value)) return value;
    throwIfAborted(options.abort);
    const after = performance.now();
    empty = after - before < EMPTY_YIELD_MS ? empty + 1 : 0;
    if (empty >= EMPTY_YIELDS_MAX) break;
    before = after;
  }
  return Number.NaN;
}

/** A word nobody changes: `sleepMs` sleeps on it. */
const idle = new Int32Array(new SharedArrayBuffer(4));

/** Blocks this thread for `ms` (no CPU): the sleep of a poll between its rounds, or a deliberate delay. */
export function sleepMs(ms: number): void {
  Atomics.wait(idle, 0, 0, ms);
}

/** Throws the error of the first raised word of `abort` (what a wait does before it returns). */
export function throwIfAborted(abort: AbortWord | readonly AbortWord[] | undefined): void {
  if (abort === undefined) return;
  if (!Array.isArray(abort)) {
    const word = abort as AbortWord;
    const value = Atomics.load(word.flags, word.index);
    if (value !== 0) throw word.error(value);
    return;
  }
  const words = abort as readonly AbortWord[];
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    const value = Atomics.load(word.flags, word.index);
    if (value !== 0) throw word.error(value);
  }
}

/** A sleep this short means the peer was about to arrive: spinning a little longer would have caught it. */
export const SHORT_SLEEP_MS = 0.05;

/**
 * A spin budget that adapts like an adaptive mutex: doubled after a wait that ended while spinning or
 * after a short sleep (the peer was close), up to `max`; halved after a long sleep (the peer was not
 * running), down to SPIN_ITERATIONS_MAX. With `max` 0 (threads outnumber cores) it never spins.
 */
export class AdaptiveSpin {
  #budget: number;
  readonly #max: number;

  constructor(max: number) {
    this.#max = max;
    this.#budget = Math.min(max, SPIN_ITERATIONS_MAX);
  }

  get budget(): number {
    return this.#budget;
  }

  /** Called by `waitFor` after each wait with how long it slept (0: it ended while spinning). */
  update(sleptMsNow: number): number {
    if (this.#max === 0) return 0;
    this.#budget = sleptMsNow > SHORT_SLEEP_MS
      ? Math.max(SPIN_ITERATIONS_MAX, this.#budget >> 1)
      : Math.min(this.#max, this.#budget << 1);
    return this.#budget;
  }
}

/**
 * Sleeps until the condition holds; its deadline and reports count from `startMs`, when the wait began.
 * `seen` must be a value that was checked and failed: the first sleep waits on it, so a word that changed
 * since returns at once. (Re-reading the word here instead could sleep a whole slice on a value that
 * already satisfies the wait, stored before this thread counted itself among the sleepers.)
 */
function sleepUntil(
  flags: Int32Array, index: number, condition: WaitCondition, options: WaitOptions, seen: number,
  startMs: number,
): number {
  const { timeoutMs, sleepersIndex, stallMs, onStall } = options;
  const sliceMs = options.sliceMs ?? WAIT_SLICE_MS;
  const deadlineMs = startMs + timeoutMs;
  let nextStallMs = stallMs !== undefined && onStall !== undefined ? startMs + stallMs : Infinity;
  const marker = options.marker;
  let markAtMs = marker === undefined ? Infinity : startMs + marker.afterMs;
  let value = seen;
  try {
    for (;;) {
      throwIfAborted(options.abort);
      let nowMs = performance.now();
      if (nowMs >= markAtMs) {
        markAtMs = Infinity;
        marker!.mark(nowMs - startMs);
      }
      if (nowMs >= nextStallMs) {
        onStall!(nowMs - startMs);
        nextStallMs += stallMs!;
        nowMs = performance.now();
      }
      if (nowMs >= deadlineMs) {
        const waited = Math.round(nowMs - startMs);
        throw new TimeoutError(
          `${options.describe()} (waited ${waited} ms, timeout ${timeoutMs} ms; ${TIMEOUT_ENV} sets the default)`,
        );
      }
      const sleepMs = Math.min(sliceMs, deadlineMs - nowMs, nextStallMs - nowMs, markAtMs - nowMs);
      if (sleepersIndex === undefined) {
        Atomics.wait(flags, index, value, sleepMs);
      } else {
        Atomics.add(flags, sleepersIndex, 1);
        try {
          Atomics.wait(flags, index, value, sleepMs);
        } finally {
          Atomics.sub(flags, sleepersIndex, 1);
        }
      }
      value = Atomics.load(flags, index);
      if (holds(condition, value)) return value;
    }
  } finally {
    if (marker !== undefined && markAtMs === Infinity) marker.clear();
  }
}

/** Wakes the threads asleep on `flags[index]`, skipping `Atomics.notify` when `sleepersIndex` counts none. */
export function wake(flags: Int32Array, index: number, sleepersIndex?: number): void {
  if (sleepersIndex === undefined || Atomics.load(flags, sleepersIndex) > 0) Atomics.notify(flags, index);
}

/** Stores `value` into `flags[index]` (publishing every earlier write), then wakes its sleepers. */
export function storeAndWake(flags: Int32Array, index: number, value: number, sleepersIndex?: number): void {
  Atomics.store(flags, index, value);
  wake(flags, index, sleepersIndex);
}

/**
 * Raises an abort word with `value` (non-zero) unless it is already raised; returns the value it holds.
 * Waiters listing the word leave within one slice; notify the words they sleep on to release them at once.
 */
export function raiseAbort(word: AbortWord, value: number): number {
  checkInteger('value', value, 1, 0x7fffffff);
  const previous = Atomics.compareExchange(word.flags, word.index, 0, value);
  Atomics.notify(word.flags, word.index);
  return previous === 0 ? value : previous;
}
