/**
 * The rank that runs in this thread: set by the rank runtime (launch/) for the life of a task, read by
 * `initDistributedEnvironment` and the getters. It lives here, below the launcher, so that the parallel
 * state needs nothing from the launcher (the vLLM, Megatron and FastVideo entry points load no pool code).
 */
import type { RankContext } from '../comm/threads/communicator.js';
import type { CommContext } from '../comm/types.js';

/** What the current rank of this thread knows (set while a task runs). */
export interface RankEnvironment {
  /** Backend-neutral: what the parallel state and its groups use. */
  readonly context: CommContext;
  /** The threads backend's own context (the arena and kernels), for tools that measure it. */
  readonly threads: RankContext;
  readonly worldSize: number;
  readonly localRank: number;
  readonly localWorldSize: number;
}

let current: RankEnvironment | undefined;

/**
 * Which copy of the library set this thread's rank, in a global that every copy sees: rank code that
 * imports a second copy (the tsc build beside the bundle, or two installed versions) finds no rank in its
 * own, and must say why rather than "not in a rank".
 */
const RUNS_FROM = Symbol.for('multirank.rankRunsFrom');
const THIS_COPY = import.meta.url;
type Marked = typeof globalThis & { [RUNS_FROM]?: string };

/** The rank of this thread, or undefined outside a multirank worker (or between tasks). */
export function currentRank(): RankEnvironment | undefined {
  return current;
}

/** Sets (or, with undefined, clears) the rank of this thread. For the rank runtime. */
export function setCurrentRank(env: RankEnvironment | undefined): void {
  current = env;
  (globalThis as Marked)[RUNS_FROM] = env === undefined ? undefined : THIS_COPY;
}

/**
 * Where the rank of this thread runs from when that is another copy of the library than this one (so
 * `currentRank()` here is undefined though the thread runs a rank), else undefined.
 */
export function rankOfAnotherCopy(): string | undefined {
  const from = (globalThis as Marked)[RUNS_FROM];
  return from !== undefined && from !== THIS_COPY ? from : undefined;
}
