/**
 * The accounting of every benchmarked collective, declared next to its name (nccl-tests' conventions):
 * element counts per rank, the bus-bandwidth factor, which of the out-of-place / in-place forms the
 * GroupCoordinator API offers, and the bytes that memory traffic cannot go below.
 *
 * Sizes follow nccl-tests: `size` is the larger of the bytes a rank sends and receives (allGather: the
 * gathered output; reduceScatter and allToAll: the input), `count` is nccl-tests' "param count" (the
 * per-rank chunk for allGather, reduceScatter and allToAll), algbw = size / time and
 * busbw = algbw x factor, so that busbw is comparable across ops and rank counts.
 */
import { invalidChoice } from '../errors.js';

/** The collectives `multirank bench` measures, in table order. */
export const BENCH_OPS = [
  'allReduce', 'allGather', 'reduceScatter', 'broadcast', 'reduce', 'allToAll', 'sendRecv', 'barrier',
] as const;
/** One of BENCH_OPS. */
export type BenchOp = (typeof BENCH_OPS)[number];

/** Element counts of one benchmark row (nccl-tests' getCollByteCount). */
export interface OpCounts {
  /** Elements of each rank's input. */
  readonly sendCount: number;
  /** Elements of each rank's output. */
  readonly recvCount: number;
  /** The count column of the table. */
  readonly paramCount: number;
}

/** How a collective is counted (one entry per op in TABLE below). */
export interface OpAccounting {
  readonly name: BenchOp;
  /** Takes a reduce op (redop column). */
  readonly reduces: boolean;
  /** Takes a root (root column); -1 is printed otherwise. */
  readonly rooted: boolean;
  /** Which columns the API can fill: out-of-place (result in another buffer) and in-place. */
  readonly outOfPlace: boolean;
  readonly inPlace: boolean;
  /** Smallest world size the op is defined for. */
  readonly minRanks: number;
  /** busbw / algbw at `ranks` ranks. */
  busFactor(ranks: number): number;
  /** Element counts for a requested `count` (the size divided by the element size). */
  counts(count: number, ranks: number): OpCounts;
  /**
   * Bytes read plus bytes written, summed over all ranks, by the traffic-minimal algorithm, in units of
   * `size`: the memory floor of the row is floorTraffic x size / (measured memory bandwidth).
   */
  floorTraffic(ranks: number): number;
}

const whole = (count: number): OpCounts => ({ sendCount: count, recvCount: count, paramCount: count });
const chunked = (count: number, ranks: number) => Math.floor(count / ranks);

const TABLE: Record<BenchOp, OpAccounting> = {
  allReduce: {
    name: 'allReduce', reduces: true, rooted: false, outOfPlace: true, inPlace: true, minRanks: 1,
    busFactor: (n) => (2 * (n - 1)) / n,
    counts: whole,
    floorTraffic: (n) => 2 * n, // read W inputs, write W outputs
  },
  allGather: {
    name: 'allGather', reduces: false, rooted: false, outOfPlace: true, inPlace: false, minRanks: 1,
    busFactor: (n) => (n - 1) / n,
    counts: (count, n) => { const c = chunked(count, n); return { sendCount: c, recvCount: c * n, paramCount: c }; },
    floorTraffic: (n) => n + 1, // read the W inputs (S in all) once, write W outputs of S
  },
  reduceScatter: {
    name: 'reduceScatter', reduces: true, rooted: false, outOfPlace: true, inPlace: false, minRanks: 1,
    busFactor: (n) => (n - 1) / n,
    counts: (count, n) => { const c = chunked(count, n); return { sendCount: c * n, recvCount: c, paramCount: c }; },
    floorTraffic: (n) => n + 1, // read W inputs of S, write W outputs of S/W
  },
  broadcast: {
    name: 'broadcast', reduces: false, rooted: true, outOfPlace: false, inPlace: true, minRanks: 1,
    busFactor: () => 1,
    counts: whole,
    floorTraffic: (n) => n, // read the root's S once, write it to W-1 buffers
  },
  reduce: {
    name: 'reduce', reduces: true, rooted: true, outOfPlace: true, inPlace: false, minRanks: 1,
    busFactor: () => 1,
    counts: whole,
    floorTraffic: (n) => n + 1, // read W inputs, write one output
  },
  allToAll: {
    name: 'allToAll', reduces: false, rooted: false, outOfPlace: true, inPlace: false, minRanks: 1,
    busFactor: (n) => (n - 1) / n,
    counts: (count, n) => {
      const c = chunked(count, n);
      return { sendCount: c * n, recvCount: c * n, paramCount: c };
    },
    floorTraffic: (n) => 2 * n, // read W inputs, write W outputs
  },
  sendRecv: {
    name: 'sendRecv', reduces: false, rooted: false, outOfPlace: true, inPlace: false, minRanks: 2,
    busFactor: () => 1,
    counts: whole,
    floorTraffic: (n) => 2 * n, // every rank reads its input and writes its peer's output
  },
  barrier: {
    name: 'barrier', reduces: false, rooted: false, outOfPlace: true, inPlace: false, minRanks: 1,
    busFactor: () => 0,
    counts: () => whole(0),
    floorTraffic: () => 0,
  },
};

/** The accounting of `op`. @throws TypeError `ERR_MULTIRANK_INVALID_ARG_VALUE` for an unknown op. */
export function opAccounting(op: string): OpAccounting {
  if (!(BENCH_OPS as readonly string[]).includes(op)) throw invalidChoice('op', BENCH_OPS, op);
  return TABLE[op as BenchOp];
}

/** The row's size in bytes: the larger of what a rank sends and receives. */
export function rowSizeBytes(counts: OpCounts, itemBytes: number): number {
  return Math.max(counts.sendCount, counts.recvCount) * itemBytes;
}

/** Algorithm bandwidth in GB/s (1e9 bytes/s) of `sizeBytes` in `timeUs` microseconds; 0 when time is 0. */
export function algBandwidth(sizeBytes: number, timeUs: number): number {
  return timeUs > 0 ? sizeBytes / timeUs / 1e3 : 0;
}

/** Bus bandwidth in GB/s: algbw x the op's factor at `ranks` ranks. */
export function busBandwidth(op: BenchOp, sizeBytes: number, timeUs: number, ranks: number): number {
  return algBandwidth(sizeBytes, timeUs) * TABLE[op].busFactor(ranks);
}

/** The time in µs that memory traffic alone sets for a row, at `memBwGBps` (r+w bytes per ns). */
export function floorTimeUs(op: BenchOp, sizeBytes: number, ranks: number, memBwGBps: number): number {
  return memBwGBps > 0 ? (TABLE[op].floorTraffic(ranks) * sizeBytes) / memBwGBps / 1e3 : 0;
}
