/**
 * Inside a rank: one benchmarked collective per row, called through the GroupCoordinator exactly as a
 * user calls it. Inputs and outputs are tensors in the shared arena (or, with `--backend nccl|hccl`, on
 * the rank's device), allocated once per row and reused by every iteration (passed as `out`), as
 * nccl-tests reuses its buffers.
 *
 * Each runner can also check itself: refill the inputs from the row's seeds, run once, and count the
 * elements of this rank's result that differ from the plain-JS reference (data.ts).
 */
import type { GroupCoordinator } from '../group/coordinator.js';
import { dtypeInfo, type DType, type ReduceOp, type StorageArray } from '../tensor/dtype.js';
import { empty, type Tensor } from '../tensor/tensor.js';
import { countWrong, fillInput, inputAt, reducedAt, type DataPattern, type Stored } from './data.js';
import type { BenchCase } from './plan.js';

/** One row's collective on this rank. */
export interface OpRunner {
  /** One call of the collective (in place when `inPlace`). */
  run(inPlace: boolean): void;
  /** Refills the inputs, runs once, and returns this rank's #wrong (-1 when the op has nothing to check). */
  check(inPlace: boolean, corrupt: boolean): number;
  /** Returns the row's arena buffers. */
  release(): void;
}

/** What a runner needs to know about its row and rank. */
export interface RunnerContext {
  readonly world: GroupCoordinator;
  readonly row: BenchCase;
  readonly pattern: DataPattern;
  /** Every rank's input seed for this row. */
  readonly seeds: readonly number[];
  readonly rank: number;
  /** Where the row's tensors live: `cpu` (the shared arena) or the rank's device (`cuda:N`, `npu:N`). */
  readonly device: string;
}

/** Makes one element of `data` wrong whatever it held (the `--inject-error` seam). */
export function corruptFirst(data: StorageArray): void {
  if (data.length === 0) return;
  const v = data[0]!;
  if (typeof v === 'bigint') (data as BigInt64Array)[0] = v ^ 1n;
  else if (data instanceof Float32Array || data instanceof Float64Array) data[0] = Number.NaN;
  else data[0] = v ^ 1;
}

/** A row's buffer: in the shared arena, or on the device. */
const rowTensor = (count: number, dtype: DType, device: string): Tensor =>
  device === 'cpu' ? empty([count], { dtype, shared: true }) : empty([count], { dtype, device });

/** Fills a row's input with the rank's pattern (through a host copy for a device tensor). */
function fill(t: Tensor, pattern: DataPattern, seed: number): void {
  if (t.device === 'cpu') return fillInput(t.data, pattern, seed);
  const host = empty(t.shape, { dtype: t.dtype });
  fillInput(host.data, pattern, seed);
  t.copyFrom(host);
}

function verify(result: Tensor, corrupt: boolean, expected: (i: number) => Stored): number {
  const data = result.device === 'cpu' ? result.data : result.to('cpu').data;
  if (corrupt) corruptFirst(data);
  return countWrong(data, expected);
}

/** A runner for the row's op. */
export function makeRunner(ctx: RunnerContext): OpRunner {
  switch (ctx.row.op) {
    case 'allReduce': return allReduceRunner(ctx);
    case 'broadcast': return broadcastRunner(ctx);
    case 'sendRecv': return sendRecvRunner(ctx);
    case 'barrier': return { run: () => ctx.world.barrier(), check: () => -1, release: () => undefined };
    default: return returningRunner(ctx);
  }
}

function allReduceRunner({ world, row, pattern, seeds, rank, device }: RunnerContext): OpRunner {
  const op = row.redop as ReduceOp;
  const input = rowTensor(row.counts.sendCount, row.dtype, device);
  const output = rowTensor(row.counts.recvCount, row.dtype, device);
  fill(input, pattern, seeds[rank]!);
  return {
    run: (inPlace) => void world.allReduce(input, { op, out: inPlace ? input : output }),
    check: (inPlace, corrupt) => {
      fill(input, pattern, seeds[rank]!);
      const out = world.allReduce(input, { op, out: inPlace ? input : output });
      return verify(out, corrupt, (i) => reducedAt(pattern, seeds, i));
    },
    release: () => { input.release(); output.release(); },
  };
}

function broadcastRunner({ world, row, pattern, seeds, rank, device }: RunnerContext): OpRunner {
  const buffer = rowTensor(row.counts.sendCount, row.dtype, device);
  fill(buffer, pattern, seeds[rank]!);
  return {
    run: () => void world.broadcast(buffer, { src: row.root }),
    check: (_inPlace, corrupt) => {
      fill(buffer, pattern, seeds[rank]!);
      return verify(world.broadcast(buffer, { src: row.root }), corrupt, (i) => inputAt(pattern, seeds[row.root]!, i));
    },
    release: () => buffer.release(),
  };
}

function sendRecvRunner({ world, row, pattern, seeds, rank, device }: RunnerContext): OpRunner {
  const n = row.counts.sendCount;
  const input = rowTensor(n, row.dtype, device);
  // Received into a reused tensor, as nccl-tests receives into its one recv buffer.
  const output = rowTensor(n, row.dtype, device);
  fill(input, pattern, seeds[rank]!);
  const next = (rank + 1) % world.worldSize, prev = (rank - 1 + world.worldSize) % world.worldSize;
  // A device send waits for its recv: around the ring, odd ranks receive first (no cycle of waiting sends).
  const recvFirst = device !== 'cpu' && rank % 2 === 1;
  const exchange = (): Tensor => {
    if (!recvFirst) world.send(input, { dst: next });
    const received = world.recv([n], row.dtype, { src: prev, out: output });
    if (recvFirst) world.send(input, { dst: next });
    return received;
  };
  const blank = empty([n], { dtype: row.dtype });
  return {
    run: () => void exchange(),
    check: (_inPlace, corrupt) => {
      output.copyFrom(blank); // so that a recv that wrote nothing cannot pass on the previous call's data
      return verify(exchange(), corrupt, (i) => inputAt(pattern, seeds[prev]!, i));
    },
    release: () => { input.release(); output.release(); },
  };
}

/** allGather, reduceScatter, reduce, allToAll: the result goes to an arena tensor given as `out`. */
function returningRunner(ctx: RunnerContext): OpRunner {
  const { world, row, pattern, seeds, rank, device } = ctx;
  // The checks index storage entries (data.ts): a complex element is two of them.
  const c = row.counts.paramCount * (dtypeInfo(row.dtype).isComplex ? 2 : 1);
  const op = row.redop as ReduceOp;
  const input = rowTensor(row.counts.sendCount, row.dtype, device);
  const output = rowTensor(row.counts.recvCount, row.dtype, device);
  fill(input, pattern, seeds[rank]!);
  const isRoot = rank === row.root;
  const call: Record<string, () => Tensor | null> = {
    allGather: () => world.allGather(input, { dim: 0, out: output }),
    reduceScatter: () => world.reduceScatter(input, { dim: 0, op, out: output }),
    reduce: () => (
      isRoot
        ? world.reduce(input, { dst: row.root, op, out: output })
        : (world.reduce(input, { dst: row.root, op }), null)
    ),
    allToAll: () => world.allToAll(input, { scatterDim: 0, gatherDim: 0, out: output }),
  };
  const expected: Record<string, (i: number) => Stored> = {
    allGather: (k) => inputAt(pattern, seeds[Math.floor(k / c)]!, k % c),
    reduceScatter: (j) => reducedAt(pattern, seeds, rank * c + j),
    reduce: (i) => reducedAt(pattern, seeds, i),
    allToAll: (k) => inputAt(pattern, seeds[Math.floor(k / c)]!, rank * c + (k % c)),
  };
  const fn = call[row.op]!;
  return {
    run: () => void fn(),
    check: (_inPlace, corrupt) => {
      fill(input, pattern, seeds[rank]!);
      const result = fn();
      return result === null ? 0 : verify(result, corrupt, expected[row.op]!);
    },
    release: () => {
      input.release();
      output.release();
    },
  };
}
