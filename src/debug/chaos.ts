/**
 * Chaos mode for users' tests (`MULTIRANK_CHAOS_SEED=n`, or `chaos` in launch/withRanks options): before
 * each collective a rank may sleep a seeded random time, which reorders how ranks reach their calls, and
 * rank `failRank` can be made to throw at its `failAtCall`-th collective, so that ordering bugs and
 * recovery paths show up in tests. The schedule depends only on (seed, rank, call number): the same
 * seed gives the same delays, hence the same interleaving, on every run.
 */
import { ErrorCodes, MultirankError, checkInteger } from '../errors.js';
import { sleepMs } from '../shm/wait.js';

export interface ChaosOptions {
  seed: number;
  /** Chance that a collective is delayed (default 0.5). */
  delayProbability?: number;
  /** Longest delay in ms (default 2). */
  maxDelayMs?: number;
  /** Make this world rank fail ... */
  failRank?: number;
  /** ... at its n-th collective (1-based). */
  failAtCall?: number;
}

/** The environment variable that turns chaos mode on with a seed. */
export const CHAOS_ENV = 'MULTIRANK_CHAOS_SEED';

/** Reads chaos options from the environment passed in (undefined when chaos is off). */
export function chaosFromEnv(env: NodeJS.ProcessEnv = process.env): ChaosOptions | undefined {
  const raw = env[CHAOS_ENV];
  if (raw === undefined || raw === '') return undefined;
  return { seed: checkInteger(CHAOS_ENV, Number(raw), 0, 0xffffffff) };
}

/** A 32-bit hash of three integers (splitmix-style), uniform in [0, 1). */
function unit(seed: number, rank: number, call: number): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(rank + 1, 0xc2b2ae35) ^ Math.imul(call + 1, 0x27d4eb2f);
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return ((h ^ (h >>> 16)) >>> 0) / 4294967296;
}

export class Chaos {
  readonly #options: Required<Omit<ChaosOptions, 'failRank' | 'failAtCall'>> &
    Pick<ChaosOptions, 'failRank' | 'failAtCall'>;
  readonly #rank: number;
  #calls = 0;
  /** The delays taken, in call order (what a test compares between runs). */
  readonly schedule: number[] = [];

  constructor(options: ChaosOptions, rank: number) {
    this.#options = { delayProbability: 0.5, maxDelayMs: 2, ...options };
    this.#rank = rank;
  }

  /** Called before every collective of this rank. */
  beforeCollective(what: string): void {
    const call = ++this.#calls;
    const { seed, delayProbability, maxDelayMs, failRank, failAtCall } = this.#options;
    if (failRank === this.#rank && failAtCall === call) {
      throw new MultirankError(
        ErrorCodes.RANK_FAILED,
        `Chaos: rank ${this.#rank} fails at its collective #${call} (${what}), as asked (seed ${seed})`,
      );
    }
    const delayMs = unit(seed, this.#rank, call) < delayProbability
      ? unit(seed ^ 0x5bd1e995, this.#rank, call) * maxDelayMs
      : 0;
    this.schedule.push(Math.round(delayMs * 1000) / 1000);
    if (delayMs > 0) sleepMs(delayMs);
  }
}
