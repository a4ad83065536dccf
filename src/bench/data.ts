/**
 * Verifiable data for the data check (#wrong), as nccl-tests: every rank fills its input from a seeded
 * hash of (row seed, rank, element index), with small integer values chosen so that every reduction is
 * exact in the dtype whatever the order (sums stay below the dtype's exact-integer limit, products are
 * powers of two, integer dtypes wrap the same way in the reference). Any rank can therefore compute
 * every peer's input, and the expected result, in plain JS without communication; checks are exact
 * (bit-for-bit on the stored representation).
 *
 * Indices count storage entries: a complex element is two (re, im), each filled and checked as a
 * float32 / float64 value (sum and avg of complex numbers act on each part alone).
 */
import { dtypeInfo, effectiveReduceOp, type DType, type ReduceOp, type StorageArray } from '../tensor/dtype.js';
import { numberToBf16, numberToF16 } from '../tensor/half.js';

/** A stored element: a number, or a bigint for int64. */
export type Stored = number | bigint;

/** The values a row's inputs take: `levels[hash >>> shift]`, and the same values as stored. */
export interface DataPattern {
  readonly dtype: DType;
  /** The reduce op the kernels run (bool sum is max, bool prod is min), or undefined for data movement. */
  readonly redop: ReduceOp | undefined;
  readonly ranks: number;
  readonly levels: readonly number[];
  readonly stored: readonly Stored[];
  /** 32 - log2(levels.length). */
  readonly shift: number;
}

/** Largest integer n such that every integer in [-n, n] is exact in the dtype. */
const EXACT_LIMIT: Record<DType, number> = {
  float32: 2 ** 24, float64: 2 ** 53, float16: 2 ** 11, bfloat16: 2 ** 8,
  int8: Infinity, uint8: Infinity, int32: Infinity, int64: Infinity, bool: 1,
  complex64: 2 ** 24, complex128: 2 ** 53, // per part
};

const range = (lo: number, count: number): number[] => Array.from({ length: count }, (_, i) => lo + i);

function levelsFor(dtype: DType, redop: ReduceOp | undefined, ranks: number): number[] {
  if (dtype === 'bool') return [0, 1];
  const unsigned = dtype === 'uint8';
  if (redop === 'prod') return unsigned ? [1, 1, 2, 3] : [1, 1, 2, -1]; // magnitudes are powers of two (or wrap)
  if (redop === 'sum' || redop === 'avg') {
    let half = 128;
    while (half > 1 && half * ranks > EXACT_LIMIT[dtype]) half /= 2; // |sum| <= half * ranks stays exact
    return unsigned ? range(0, 2 * half) : range(-half, 2 * half);
  }
  return unsigned ? range(0, 256) : range(-128, 256); // min, max, the bitwise ops and data movement
}

/** Converts a JS value to the dtype's stored representation. */
export function toStored(dtype: DType, value: number): Stored {
  switch (dtype) {
    case 'float16': return numberToF16(value);
    case 'bfloat16': return numberToBf16(value);
    case 'int64': return BigInt(value);
    default: return value;
  }
}

/** The data pattern of a row. `redop` is the requested op (undefined for ops that do not reduce). */
export function dataPattern(dtype: DType, redop: ReduceOp | undefined, ranks: number): DataPattern {
  const effective = redop === undefined ? undefined : effectiveReduceOp(dtype, redop);
  const levels = levelsFor(dtype, effective, ranks);
  return {
    dtype, redop: effective, ranks, levels, stored: levels.map((v) => toStored(dtype, v)),
    shift: 32 - Math.log2(levels.length),
  };
}

/** A 32-bit seed for (seed, index): the row seed from the run seed and row index, the rank seed from those. */
export function mixSeed(seed: number, index: number): number {
  let h = (seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** The level index of element `i` of the input of the rank whose seed is `rankSeed`. */
export function levelAt(pattern: DataPattern, rankSeed: number, i: number): number {
  let h = Math.imul(i ^ rankSeed, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 15), 0x85ebca77);
  h ^= h >>> 13;
  return h >>> pattern.shift;
}

/** Writes `count` elements of a rank's input, elements `from..from+count` of its sequence, into `out` from `at`. */
export function fillInput(
  out: StorageArray, pattern: DataPattern, rankSeed: number, from = 0, count = out.length, at = 0,
): void {
  const stored = pattern.stored as Stored[];
  const target = out as unknown as Stored[];
  for (let j = 0; j < count; j++) target[at + j] = stored[levelAt(pattern, rankSeed, from + j)]!;
}

/** The stored value of a rank's input element `i`. */
export function inputAt(pattern: DataPattern, rankSeed: number, i: number): Stored {
  return pattern.stored[levelAt(pattern, rankSeed, i)]!;
}

const WRAP: Partial<Record<DType, (x: number) => number>> = {
  int8: (x) => (x << 24) >> 24, uint8: (x) => x & 0xff, int32: (x) => x | 0, bool: (x) => x,
};

/** The expected stored value of element `i` of the reduction over every rank's input (the plain-JS reference). */
export function reducedAt(pattern: DataPattern, rankSeeds: readonly number[], i: number): Stored {
  const { dtype, redop, levels, ranks } = pattern;
  if (dtype === 'int64') return reducedBigInt(pattern, rankSeeds, i);
  let acc = levels[levelAt(pattern, rankSeeds[0]!, i)]!;
  for (let r = 1; r < ranks; r++) {
    const v = levels[levelAt(pattern, rankSeeds[r]!, i)]!;
    if (redop === 'sum' || redop === 'avg') acc += v;
    else if (redop === 'prod') acc = dtypeInfo(dtype).isFloat ? acc * v : Math.imul(acc, v);
    else if (redop === 'min') acc = v < acc ? v : acc;
    else if (redop === 'max') acc = v > acc ? v : acc;
    else acc = redop === 'band' ? acc & v : redop === 'bor' ? acc | v : acc ^ v;
  }
  const wrap = WRAP[dtype];
  if (wrap !== undefined) return wrap(acc);
  if (redop === 'avg') acc /= ranks;
  return dtype === 'float64' || dtype === 'complex128' ? acc : toStored(dtype, Math.fround(acc));
}

function reducedBigInt(pattern: DataPattern, rankSeeds: readonly number[], i: number): bigint {
  const stored = pattern.stored as readonly bigint[];
  let acc = stored[levelAt(pattern, rankSeeds[0]!, i)]!;
  for (let r = 1; r < pattern.ranks; r++) {
    const v = stored[levelAt(pattern, rankSeeds[r]!, i)]!;
    if (pattern.redop === 'sum') acc += v;
    else if (pattern.redop === 'prod') acc *= v;
    else if (pattern.redop === 'min') acc = v < acc ? v : acc;
    else if (pattern.redop === 'max') acc = v > acc ? v : acc;
    else acc = pattern.redop === 'band' ? acc & v : pattern.redop === 'bor' ? acc | v : acc ^ v;
  }
  return BigInt.asIntN(64, acc);
}

/** Elements of `actual[from..from+count)` that differ from `expected(i)` (i counted from 0). */
export function countWrong(
  actual: StorageArray, expected: (i: number) => Stored, from = 0, count = actual.length - from,
): number {
  let wrong = 0;
  for (let i = 0; i < count; i++) if (actual[from + i] !== expected(i)) wrong++;
  return wrong;
}
