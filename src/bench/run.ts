/**
 * The driver of a benchmark run: plans the rows, launches one job whose ranks run them all
 * (rank.ts), and turns each row into a record as soon as rank 0 publishes it in the shared results
 * block, so that callers can print rows while the run goes on.
 */
import { NATIVE_BACKENDS } from '../comm/backends.js';
import { ErrorCodes, MultirankError } from '../errors.js';
import { launch } from '../launch/launch.js';
import { vendorStatus, type VendorName } from '../native/vendors.js';
import type { BenchConfig } from './args.js';
import { planCases, type BenchCase } from './plan.js';
import type { RankPlan } from './rank.js';
import { buildRecord, type BenchRecord } from './report.js';
import { ResultsBlock } from './results-block.js';
import { entryFile } from '../package-files.js';

/** How often the driver looks at the job when no row finished (a failed rank ends the wait at once). */
const POLL_MS = 250;
/** Ceiling repetitions per row: the iteration count, kept within these bounds. */
export const CEILING_REPS_MIN = 3;
/** At most this many ceiling repetitions, whatever the iteration count. */
export const CEILING_REPS_MAX = 10;

/** Callbacks of a run. */
export interface BenchHooks {
  /** Called once per row, in order, as soon as the row is done. */
  onRecord?(record: BenchRecord, row: BenchCase, done: number, total: number): void;
}

/** Why `--backend B` cannot run here (nccl / hccl whose libraries do not load), or undefined. */
export function backendProblem(backend: BenchConfig['backend']): string | undefined {
  if (!NATIVE_BACKENDS.includes(backend)) return undefined;
  const status = vendorStatus(backend as VendorName);
  return status.available ? undefined : `\`--backend ${backend}\` cannot run here: ${status.reason}`;
}

/** Ceiling repetitions for `iters` timed iterations. */
export function ceilingReps(iters: number): number {
  return Math.min(CEILING_REPS_MAX, Math.max(CEILING_REPS_MIN, iters));
}

/**
 * Runs every row of `config` on `config.ranks` ranks (threads of this process); resolves with the
 * records in row order.
 * @throws RankFailedError when a rank fails (its error is the cause), RangeError for a run too large.
 */
export async function runBench(config: BenchConfig, hooks: BenchHooks = {}): Promise<BenchRecord[]> {
  const missing = backendProblem(config.backend);
  if (missing !== undefined) throw new MultirankError(ErrorCodes.BACKEND_UNAVAILABLE, missing);
  const rows = planCases(config);
  const shape = { rows: rows.length, ranks: config.ranks, iters: config.iters, reps: ceilingReps(config.iters) };
  const block = ResultsBlock.create(shape);
  const plan: RankPlan = {
    rows, iters: config.iters, warmup: config.warmup, check: config.check, ceiling: config.ceiling, seed: config.seed,
    backend: config.backend, injectErrorRank: config.injectErrorRank, results: block.buffer, shape,
    clockBase: process.hrtime.bigint(),
  };
  const job = await launch({
    worldSize: config.ranks, module: entryFile('src/bench/rank.js'), args: plan,
    ...(config.timeoutMs === undefined ? {} : { timeoutMs: config.timeoutMs }),
  });
  const outcome: { settled: boolean; error?: unknown } = { settled: false };
  const settled = job.results.then(
    () => void (outcome.settled = true),
    (error: unknown) => void Object.assign(outcome, { settled: true, error }),
  );
  const records: BenchRecord[] = [];
  try {
    while (records.length < rows.length) {
      const done = await Promise.race([block.waitRows(records.length, POLL_MS), settled.then(() => block.rowsDone())]);
      for (let k = records.length; k < done; k++) {
        const record = buildRecord(rows[k]!, config.ranks, config.iters, block.summary(k), config.ceiling);
        records.push(record);
        hooks.onRecord?.(record, rows[k]!, records.length, rows.length);
      }
      if (outcome.settled && block.rowsDone() === records.length) break;
    }
    await settled;
    if (outcome.error !== undefined) throw outcome.error;
    if (records.length < rows.length) {
      throw new Error(`The bench ranks returned after ${records.length} of ${rows.length} rows`);
    }
    return records;
  } finally {
    await job.close();
  }
}
