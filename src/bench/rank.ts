/**
 * The rank body of `multirank bench`: every rank runs every row of the plan in order, timing each
 * iteration of the collective on its own thread, and leaves the times, the ceiling spans and its #wrong
 * in the shared results block (results-block.ts) for the driver to read while the job runs.
 */
import type { RankInfo } from '../launch/protocol.js';
import type { GroupCoordinator } from '../group/coordinator.js';
import { destroyDistributedEnvironment, initDistributedEnvironment } from '../state/environment.js';
import type { Backend } from '../state/parallel-state.js';
import { CeilingProbe } from './ceiling-rank.js';
import { dataPattern, mixSeed } from './data.js';
import type { BenchCase } from './plan.js';
import { ResultsBlock, type ResultsShape } from './results-block.js';
import { makeRunner, type OpRunner } from './rank-ops.js';

/** What the driver hands every rank (structured-cloneable; `results` is shared, not copied). */
export interface RankPlan {
  readonly rows: readonly BenchCase[];
  readonly iters: number;
  readonly warmup: number;
  readonly check: number;
  readonly ceiling: boolean;
  readonly seed: number;
  readonly backend: Backend;
  readonly injectErrorRank: number | undefined;
  readonly results: SharedArrayBuffer;
  readonly shape: ResultsShape;
  /** The process clock (`process.hrtime.bigint()`) at the driver's start; ceiling times are relative to it. */
  readonly clockBase: bigint;
}

/**
 * Extra untimed iterations before the first row of each (op, dtype, redop): V8 optimizes a call path only
 * after thousands of calls, so small rows need many (2000 at a few bytes) and large ones few (20 at
 * 64 MiB). A function of the row's size only, so that every rank makes the same number of calls.
 */
export function firstRowWarmup(sizeBytes: number): number {
  return Math.max(20, Math.min(2000, Math.floor((64 * 1024 * 1024) / Math.max(1, sizeBytes))));
}

/**
 * Untimed calls after each ceiling repetition, before the next block of timed ones: they absorb the skew
 * with which ranks leave the probe's barrier and bring the row's buffers back into the caches that the
 * probe's kernels evicted, so that interleaving does not slow the timed calls down.
 */
export const RESYNC_ITERATIONS = 2;

/** Runs `warmup` untimed calls. */
export function warmUp(run: () => void, warmup: number): void {
  for (let i = 0; i < warmup; i++) run();
}

/** Times calls `from..to-1`, writing each time (µs) at its index of `out`. */
export function timeIterations(run: () => void, from: number, to: number, out: Float64Array): void {
  for (let i = from; i < to; i++) {
    const start = performance.now();
    run();
    out[i] = (performance.now() - start) * 1e3;
  }
}

/**
 * The timed part of a row: warm-up, then `blocks` blocks, each one ceiling repetition (when measured)
 * followed by its share of the iterations of every mode, so that the collective and the ceiling kernels
 * see the same load.
 */
function timeRow(
  runner: OpRunner, modes: boolean[], plan: RankPlan, block: ResultsBlock, rank: number,
  probe: CeilingProbe | undefined, warmup: number,
): void {
  const blocks = probe === undefined ? 1 : plan.shape.reps;
  modes.forEach((on, mode) => on && warmUp(() => runner.run(mode === 1), warmup));
  for (let b = 0; b < blocks; b++) {
    if (probe !== undefined) {
      probe.rep(b);
      modes.forEach((on, mode) => on && warmUp(() => runner.run(mode === 1), RESYNC_ITERATIONS));
    }
    const from = Math.floor((b * plan.iters) / blocks), to = Math.floor(((b + 1) * plan.iters) / blocks);
    modes.forEach((on, mode) => on && timeIterations(() => runner.run(mode === 1), from, to, block.times(mode, rank)));
  }
}

function checkRow(runner: OpRunner, modes: boolean[], plan: RankPlan, block: ResultsBlock, rank: number): void {
  modes.forEach((on, mode) => {
    let wrong = -1;
    for (let c = 0; on && c < plan.check; c++) {
      const w = runner.check(mode === 1, c === 0 && plan.injectErrorRank === rank);
      wrong = w < 0 ? w : Math.max(wrong, 0) + w;
    }
    block.setWrong(mode, rank, wrong);
  });
}

function runRow(world: GroupCoordinator, plan: RankPlan, row: BenchCase, block: ResultsBlock, first: boolean): void {
  const rank = world.rankInGroup;
  world.barrier(); // see results-block.ts: nobody rewrites the scratch before rank 0 has folded it
  const rowSeed = mixSeed(plan.seed, row.index);
  const seeds = Array.from({ length: world.worldSize }, (_, r) => mixSeed(rowSeed, r));
  const device = plan.backend === 'nccl' ? `cuda:${rank}` : plan.backend === 'hccl' ? `npu:${rank}` : 'cpu';
  const runner = makeRunner({
    world, row, pattern: dataPattern(row.dtype, row.redop, world.worldSize), seeds, rank, device,
  });
  const probe = plan.ceiling && row.sizeBytes > 0 ? new CeilingProbe(world, row, block, plan.clockBase) : undefined;
  const modes = [row.outOfPlace, row.inPlace];
  try {
    timeRow(runner, modes, plan, block, rank, probe, plan.warmup + (first ? firstRowWarmup(row.sizeBytes) : 0));
    checkRow(runner, modes, plan, block, rank);
  } finally {
    runner.release();
    probe?.release();
  }
  world.barrier();
  if (rank === 0) block.publish(row.index);
}

/** The rank entry: runs the plan's rows on the world group. */
export default function benchRank({ args }: RankInfo): void {
  const plan = args as RankPlan;
  const world = initDistributedEnvironment({ backend: plan.backend }).world;
  const block = new ResultsBlock(plan.results, plan.shape);
  try {
    const seen = new Set<string>();
    for (const row of plan.rows) {
      const key = `${row.op}/${row.dtype}/${row.redop}`;
      runRow(world, plan, row, block, !seen.has(key));
      seen.add(key);
    }
  } finally {
    destroyDistributedEnvironment();
  }
}

/** A rank entry that returns at once (bench/collectives.ts times job launches with it). */
export function noop(): void {}
