/**
 * The rows of a run: the size sweep (nccl-tests' `-b -e -f -i`) crossed with the ops, dtypes and reduce
 * ops asked for. Each row carries its element counts, so that the rank body and the report agree on the
 * accounting without recomputing it.
 */
import { outOfRange } from '../errors.js';
import { dtypeInfo, type DType, type ReduceOp } from '../tensor/dtype.js';
import type { BenchConfig } from './args.js';
import { redopAllowed } from './args.js';
import { opAccounting, rowSizeBytes, type BenchOp, type OpCounts } from './ops.js';

/** Most rows one run may plan (a guard against `-b 1 -e 1G -i 1`). */
export const BENCH_ROWS_MAX = 100_000;

/** One row of the table. `redop` is undefined for ops that do not reduce; `root` is -1 for unrooted ops. */
export interface BenchCase {
  readonly index: number;
  readonly op: BenchOp;
  readonly dtype: DType;
  readonly redop: ReduceOp | undefined;
  readonly root: number;
  readonly sizeBytes: number;
  readonly counts: OpCounts;
  readonly outOfPlace: boolean;
  readonly inPlace: boolean;
}

/** The requested sizes, smallest first: min, min*f, ... (or min, min+i, ...) up to max inclusive. */
export function sweepSizes(minBytes: number, maxBytes: number, stepFactor: number, stepBytes: number): number[] {
  if (stepFactor > 1 && minBytes < 1) {
    throw outOfRange(`A size sweep by factor needs \`-b/--minbytes\` >= 1, got ${minBytes}`);
  }
  const sizes: number[] = [];
  for (let size = minBytes; size <= maxBytes; size = stepFactor > 1 ? size * stepFactor : size + stepBytes) {
    sizes.push(size);
    if (sizes.length > BENCH_ROWS_MAX) {
      throw outOfRange(
        `The size sweep ${minBytes}..${maxBytes} has more than ${BENCH_ROWS_MAX} rows; use a larger step`,
      );
    }
  }
  return sizes;
}

/** Every row of a run, in the order they are measured: op, then dtype, then reduce op, then size. */
export function planCases(config: BenchConfig): BenchCase[] {
  const sizes = sweepSizes(config.minBytes, config.maxBytes, config.stepFactor, config.stepBytes);
  const cases: BenchCase[] = [];
  const add = (op: BenchOp, dtype: DType, redop: ReduceOp | undefined, requestedBytes: number): void => {
    const acc = opAccounting(op);
    const itemBytes = dtypeInfo(dtype).itemBytes;
    const counts = acc.counts(Math.floor(requestedBytes / itemBytes), config.ranks);
    cases.push({
      index: cases.length, op, dtype, redop, root: acc.rooted ? config.root : -1,
      sizeBytes: rowSizeBytes(counts, itemBytes),
      counts, outOfPlace: acc.outOfPlace, inPlace: acc.inPlace,
    });
    if (cases.length > BENCH_ROWS_MAX) {
      throw outOfRange(`The run has more than ${BENCH_ROWS_MAX} rows; ask for fewer sizes, dtypes or ops`);
    }
  };
  for (const op of config.ops) {
    if (op === 'barrier') {
      add(op, config.dtypes[0]!, undefined, 0);
      continue;
    }
    for (const dtype of config.dtypes) {
      const redops = opAccounting(op).reduces ? config.redops.filter((r) => redopAllowed(dtype, r)) : [undefined];
      for (const redop of redops) for (const size of sizes) add(op, dtype, redop, size);
    }
  }
  return cases;
}
