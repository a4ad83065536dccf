/**
 * A failure latch: a shared word that, once raised, fails every later call on what it guards (a group of
 * ranks), in every thread. A member that leaves a call half done (its wait timed out) leaves the shared
 * state out of step: its arrival was counted, and a peer arriving later completes a call nobody else is
 * in, with the abandoned member's data. So the first such failure raises the latch: members waiting now
 * are released (the word is an abort word of their waits), and every later call throws at once. The
 * member that failed keeps throwing its own original error; the others get the latch's error.
 *
 *   words at `index`: [0] who failed (world rank + 1; 0: not failed)  [1] its call number  [2] its op (a code
 *   the owner chooses, for the message)
 */
import { throwIfAborted, type AbortWord } from './wait.js';

/** Words of a latch, from its `index`. */
export const LATCH_WORDS = 3;

/** What the latch holds once raised: who failed, in which call. */
export interface LatchedFailure {
  readonly rank: number;
  readonly seq: number;
  readonly op: number;
}

export class FailureLatch {
  readonly word: AbortWord;
  readonly #flags: Int32Array;
  readonly #index: number;
  /** This thread's own failure: thrown again, unchanged, by every later call of this thread. */
  #own: Error | undefined;

  /** `error` builds the error every other member gets from what the latch holds. */
  constructor(flags: Int32Array, index: number, error: (failure: LatchedFailure) => Error) {
    this.#flags = flags;
    this.#index = index;
    const read = (value: number): Error => {
      while (value === -1) value = Atomics.load(flags, index); // claimed: its filler publishes in a few ns
      return error({ rank: value - 1, seq: flags[index + 1]!, op: flags[index + 2]! });
    };
    this.word = { flags, index, error: read };
  }

  /** Throws this thread's own failure, else the latch's error once it is raised. */
  check(): void {
    if (this.#own !== undefined) throw this.#own;
    throwIfAborted(this.word);
  }

  /**
   * Records that world rank `rank` failed with `error` in call `seq` (op code `op`), unless another member
   * did first, and wakes the threads asleep on `wake` (indices in the same flags) so that they see it now.
   */
  raise(rank: number, seq: number, op: number, error: Error, wake: readonly number[] = []): void {
    this.#own ??= error;
    const f = this.#flags, i = this.#index;
    // Claim with a value no reader takes for a rank (-1 + 1 = 0 reads as "not failed"), fill, then publish.
    if (Atomics.compareExchange(f, i, 0, -1) !== 0) return;
    f[i + 1] = seq;
    f[i + 2] = op;
    Atomics.store(f, i, rank + 1);
    Atomics.notify(f, i);
    for (const w of wake) Atomics.notify(f, w);
  }
}
