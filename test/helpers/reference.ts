/**
 * Plain-JS reference for the wasm kernels, written independently of `assembly/`: 16-bit floats are
 * decoded and rounded from their values (not by bit tricks), f32 steps use `Math.fround` (a correctly
 * rounded f32 result, as f64 has more than 2*24+2 bits), int64 uses BigInt.asIntN(64).
 *
 * Semantics mirrored: left fold in input order; min/max propagate NaN and order -0 < +0 (`Math.min`,
 * `Math.max` do exactly that); avg = sum, then one true division by k; float16/bfloat16 fold in f32 and
 * round once to 16 bits (nearest even, overflow to inf); integers wrap; bool sum = or, prod = and.
 * band/bor/bxor (integers and bool only): the bitwise and/or/xor of the two's complement values (JS's
 * `&`, `|`, `^` on the values, BigInt's for int64), on bool the logical and/or/xor.
 * complex64/complex128 (sum and avg only): complex addition and division by k (`reference-complex.ts`).
 */
import type { DType, ReduceOp, StorageArray } from '../../src/tensor/dtype.js';
import { complexReduce, partDtype } from './reference-complex.js';

export { partDtype };

/** A binary floating-point format with an implicit leading bit. */
export interface HalfFormat {
  readonly name: 'float16' | 'bfloat16';
  readonly exponentBits: number;
  readonly mantissaBits: number;
}

export const FLOAT16: HalfFormat = { name: 'float16', exponentBits: 5, mantissaBits: 10 };
export const BFLOAT16: HalfFormat = { name: 'bfloat16', exponentBits: 8, mantissaBits: 7 };

const bias = (f: HalfFormat): number => 2 ** (f.exponentBits - 1) - 1;
const expMax = (f: HalfFormat): number => 2 ** f.exponentBits - 1;

/** floor(log2(a)) for a finite positive double, exact (Math.log2 may be off by one near powers of two). */
function exponentOf(a: number): number {
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e -= 1;
  else if (2 ** (e + 1) <= a) e += 1;
  return e;
}

/** The value of a 16-bit pattern. */
export function halfBitsToNumber(bits: number, f: HalfFormat): number {
  const sign = (bits >> (f.exponentBits + f.mantissaBits)) & 1 ? -1 : 1;
  const e = (bits >> f.mantissaBits) & expMax(f);
  const m = bits & (2 ** f.mantissaBits - 1);
  if (e === expMax(f)) return m === 0 ? sign * Infinity : NaN;
  if (e === 0) return sign * m * 2 ** (1 - bias(f) - f.mantissaBits);
  return sign * (2 ** f.mantissaBits + m) * 2 ** (e - bias(f) - f.mantissaBits);
}

const valueTables = new Map<HalfFormat, Float64Array>();

/** `halfBitsToNumber` of all 65 536 patterns, computed once per format (a cache, for speed only). */
function halfValues(f: HalfFormat): Float64Array {
  let table = valueTables.get(f);
  if (table === undefined) {
    table = Float64Array.from({ length: 65536 }, (_, bits) => halfBitsToNumber(bits, f));
    valueTables.set(f, table);
  }
  return table;
}

/** Whether a 16-bit pattern is a NaN of the format. */
export function isHalfNaN(bits: number, f: HalfFormat): boolean {
  return ((bits >> f.mantissaBits) & expMax(f)) === expMax(f) && (bits & (2 ** f.mantissaBits - 1)) !== 0;
}

/** Whether a NaN pattern is quiet (top mantissa bit set). */
export function isHalfQuiet(bits: number, f: HalfFormat): boolean {
  return (bits & (2 ** (f.mantissaBits - 1))) !== 0;
}

/** Rounds x to the format (nearest, ties to even; above the largest finite value after rounding: inf). */
export function roundToHalf(x: number, f: HalfFormat): number {
  if (Number.isNaN(x) || x === 0 || !Number.isFinite(x)) return x;
  const a = Math.abs(x);
  const e = Math.max(exponentOf(a), 1 - bias(f));
  const ulp = 2 ** (e - f.mantissaBits);
  const q = a / ulp; // exact: a power-of-two scaling
  let r = Math.floor(q);
  const frac = q - r;
  if (frac > 0.5 || (frac === 0.5 && r % 2 === 1)) r += 1;
  const maxFinite = (2 - 2 ** -f.mantissaBits) * 2 ** bias(f);
  let v = r * ulp;
  if (v > maxFinite) v = Infinity;
  if (v === 0) return x < 0 ? -0 : 0;
  return x < 0 ? -v : v;
}

/** The 16-bit pattern of a value that the format represents exactly (NaN gives the quiet NaN). */
export function numberToHalfBits(v: number, f: HalfFormat): number {
  const signBit = v < 0 || Object.is(v, -0) ? 2 ** (f.exponentBits + f.mantissaBits) : 0;
  if (Number.isNaN(v)) return expMax(f) * 2 ** f.mantissaBits + 2 ** (f.mantissaBits - 1);
  const a = Math.abs(v);
  if (a === Infinity) return signBit + expMax(f) * 2 ** f.mantissaBits;
  if (a === 0) return signBit;
  const e = exponentOf(a);
  if (e < 1 - bias(f)) return signBit + a / 2 ** (1 - bias(f) - f.mantissaBits);
  const m = a / 2 ** (e - f.mantissaBits) - 2 ** f.mantissaBits;
  if (!Number.isInteger(m) || e > bias(f)) throw new Error(`${v} is not a ${f.name} value`);
  return signBit + (e + bias(f)) * 2 ** f.mantissaBits + m;
}

/** float32 value -> 16-bit pattern, rounded to nearest even. */
export function f32ToHalfBits(x: number, f: HalfFormat): number {
  return numberToHalfBits(roundToHalf(x, f), f);
}

type Fold<T> = (acc: T, x: T) => T;

function floatFold(op: ReduceOp, round: (x: number) => number): Fold<number> {
  switch (op) {
    case 'sum':
    case 'avg': return (a, b) => round(a + b);
    case 'prod': return (a, b) => round(a * b);
    case 'min': return (a, b) => Math.min(a, b);
    case 'max': return (a, b) => Math.max(a, b);
    default: throw new Error(`${op} is not defined on floats`);
  }
}

function intFold(op: ReduceOp, wrap: (x: number) => number): Fold<number> {
  switch (op) {
    case 'sum': return (a, b) => wrap(a + b);
    case 'prod': return (a, b) => wrap(Math.imul(a, b));
    case 'min': return (a, b) => Math.min(a, b);
    case 'max': return (a, b) => Math.max(a, b);
    case 'band': return (a, b) => wrap(a & b);
    case 'bor': return (a, b) => wrap(a | b);
    case 'bxor': return (a, b) => wrap(a ^ b);
    case 'avg': throw new Error('avg is not defined on integers');
  }
}

function boolFold(op: ReduceOp): Fold<number> {
  const truth = (x: number): boolean => x !== 0;
  switch (op) {
    case 'sum':
    case 'max':
    case 'bor': return (a, b) => (truth(a) || truth(b) ? 1 : 0);
    case 'prod':
    case 'min':
    case 'band': return (a, b) => (truth(a) && truth(b) ? 1 : 0);
    case 'bxor': return (a, b) => (truth(a) !== truth(b) ? 1 : 0);
    case 'avg': throw new Error('avg is not defined on bool');
  }
}

function bigFold(op: ReduceOp): Fold<bigint> {
  switch (op) {
    case 'sum': return (a, b) => BigInt.asIntN(64, a + b);
    case 'prod': return (a, b) => BigInt.asIntN(64, a * b);
    case 'min': return (a, b) => (b < a ? b : a);
    case 'max': return (a, b) => (b > a ? b : a);
    case 'band': return (a, b) => BigInt.asIntN(64, a & b);
    case 'bor': return (a, b) => BigInt.asIntN(64, a | b);
    case 'bxor': return (a, b) => BigInt.asIntN(64, a ^ b);
    case 'avg': throw new Error('avg is not defined on int64');
  }
}

/** Folds element i of every input with `fold`, mapping loads and the final store. */
function foldAll<T>(inputs: readonly ArrayLike<unknown>[], out: { [i: number]: unknown; length: number }, load: (x: unknown) => T, fold: Fold<T>, finish: (acc: T) => unknown): void {
  for (let i = 0; i < out.length; i++) {
    let acc = load(inputs[0]![i]);
    for (let j = 1; j < inputs.length; j++) acc = fold(acc, load(inputs[j]![i]));
    out[i] = finish(acc);
  }
}

/**
 * The expected output of reducing `inputs` (all of `count` elements) with (dtype, op); a complex input
 * and the output hold 2 * count entries.
 */
export function referenceReduce(dtype: DType, op: ReduceOp, inputs: readonly StorageArray[], count: number): StorageArray {
  const k = inputs.length;
  const num = (x: unknown): number => x as number;
  const byAvg = (round: (x: number) => number) => (acc: number): number => (op === 'avg' ? round(acc / k) : acc);
  switch (dtype) {
    case 'float32': {
      const out = new Float32Array(count);
      foldAll(inputs, out, num, floatFold(op, Math.fround), byAvg(Math.fround));
      return out;
    }
    case 'float64': {
      const out = new Float64Array(count);
      foldAll(inputs, out, num, floatFold(op, (x) => x), byAvg((x) => x));
      return out;
    }
    case 'float16':
    case 'bfloat16': {
      const f = dtype === 'float16' ? FLOAT16 : BFLOAT16;
      const values = halfValues(f);
      const out = new Uint16Array(count);
      const avg = byAvg(Math.fround);
      foldAll(inputs, out, (x) => values[x as number]!, floatFold(op, Math.fround), (acc) => f32ToHalfBits(avg(acc), f));
      return out;
    }
    case 'int8': return fillInt(new Int8Array(count), inputs, intFold(op, (x) => (x << 24) >> 24));
    case 'uint8': return fillInt(new Uint8Array(count), inputs, intFold(op, (x) => x & 0xff));
    case 'int32': return fillInt(new Int32Array(count), inputs, intFold(op, (x) => x | 0));
    case 'bool': return fillInt(new Uint8Array(count), inputs, boolFold(op));
    case 'int64': {
      const out = new BigInt64Array(count);
      foldAll(inputs, out, (x) => x as bigint, bigFold(op), (acc) => acc);
      return out;
    }
    case 'complex64': return complexReduce(op, inputs, count, Math.fround, new Float32Array(2 * count));
    case 'complex128': return complexReduce(op, inputs, count, (x) => x, new Float64Array(2 * count));
  }
}

function fillInt<A extends Int8Array | Uint8Array | Int32Array>(out: A, inputs: readonly StorageArray[], fold: Fold<number>): A {
  foldAll(inputs, out, (x) => x as number, fold, (acc) => acc);
  return out;
}

/** A mismatch between expected and actual output, bits in hex. */
export interface Mismatch {
  readonly index: number;
  readonly expected: string;
  readonly actual: string;
  readonly count: number;
}

/**
 * Compares bit for bit (so -0 differs from +0), except that two NaNs of a float dtype match whatever
 * their payloads; a NaN output of float16/bfloat16 must be quiet. Returns the first mismatch and how many.
 */
export function compareOutputs(dtype: DType, expected: StorageArray, actual: StorageArray): Mismatch | undefined {
  dtype = partDtype(dtype); // complex: entry by entry, each part as a float
  const same = sameElement(dtype);
  let first = -1;
  let count = 0;
  for (let i = 0; i < expected.length; i++) {
    if (same(expected[i]!, actual[i]!)) continue;
    if (first < 0) first = i;
    count++;
  }
  if (actual.length !== expected.length) count++;
  if (count === 0) return undefined;
  return { index: first, expected: show(dtype, expected[first]), actual: show(dtype, actual[first]), count };
}

function sameElement(dtype: DType): (e: number | bigint, a: number | bigint) => boolean {
  switch (dtype) {
    case 'float32': return (e, a) => (Number.isNaN(e) && Number.isNaN(a)) || f32Bits(e as number) === f32Bits(a as number);
    case 'float64': return (e, a) => (Number.isNaN(e) && Number.isNaN(a)) || f64Bits(e as number) === f64Bits(a as number);
    case 'float16':
    case 'bfloat16': {
      const f = dtype === 'float16' ? FLOAT16 : BFLOAT16;
      return (e, a) => (isHalfNaN(e as number, f) ? isHalfNaN(a as number, f) && isHalfQuiet(a as number, f) : e === a);
    }
    default: return (e, a) => e === a;
  }
}

const scratch = new DataView(new ArrayBuffer(8));

/** The IEEE bits of an f32 value. */
export function f32Bits(x: number): number {
  scratch.setFloat32(0, x, true);
  return scratch.getUint32(0, true);
}

/** The f32 value of 32 bits. */
export function f32FromBits(bits: number): number {
  scratch.setUint32(0, bits >>> 0, true);
  return scratch.getFloat32(0, true);
}

function f64Bits(x: number): bigint {
  scratch.setFloat64(0, x, true);
  return scratch.getBigUint64(0, true);
}

function show(dtype: DType, v: number | bigint | undefined): string {
  if (v === undefined) return 'missing';
  if (dtype === 'float32') return `${v} (0x${f32Bits(v as number).toString(16)})`;
  if (dtype === 'float64') return `${v} (0x${f64Bits(v as number).toString(16)})`;
  if (dtype === 'float16' || dtype === 'bfloat16') {
    return `0x${(v as number).toString(16)} (${halfBitsToNumber(v as number, dtype === 'float16' ? FLOAT16 : BFLOAT16)})`;
  }
  return String(v);
}
