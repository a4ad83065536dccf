/**
 * Data shared by the collective tests and their rank bodies: the case description passed to the ranks,
 * seeded inputs (the same bytes in a rank and in the test process), and digests that let a rank report a
 * large output as a short string. Independent of `src/` except for types.
 *
 * Two digests: `rawDigest` hashes the bytes as they are (bit identity across ranks), `canonicalDigest`
 * first maps every quiet NaN of a float dtype to one pattern (so outputs compare NaN-aware with the
 * reference, whose NaN payloads are not specified); a float16/bfloat16 signalling NaN is kept as is, so a
 * reduction that leaves one unquieted does not match. `compact` shrinks received objects the same way.
 */
import type { DType, ReduceOp, StorageArray } from '../../src/tensor/dtype.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { BFLOAT16, FLOAT16, numberToHalfBits, type HalfFormat } from '../helpers/reference.js';

/** Every dtype, in the table's order. */
export const ALL_DTYPES: readonly DType[] = [
  'float32', 'float64', 'float16', 'bfloat16', 'int8', 'uint8', 'int32', 'int64', 'bool', 'complex64', 'complex128',
];
/** The real floating dtypes. */
export const FLOAT_DTYPES: readonly DType[] = ['float32', 'float64', 'float16', 'bfloat16'];
/** The complex dtypes: (re, im) pairs of float32 / float64, stored interleaved. */
export const COMPLEX_DTYPES: readonly DType[] = ['complex64', 'complex128'];
/** Bytes per element (restated here: the reference does not read src's dtype table). */
export const ITEM_BYTES: Record<DType, number> = {
  float32: 4, float64: 8, float16: 2, bfloat16: 2, int8: 1, uint8: 1, int32: 4, int64: 8, bool: 1,
  complex64: 8, complex128: 16,
};

/**
 * The ops a dtype allows, as torch: avg on floats and complex, band/bor/bxor on integers and bool,
 * only sum and avg on complex.
 */
export function opsFor(dtype: DType): ReduceOp[] {
  if (COMPLEX_DTYPES.includes(dtype)) return ['sum', 'avg'];
  const ops: ReduceOp[] = ['sum', 'prod', 'min', 'max'];
  return FLOAT_DTYPES.includes(dtype) ? [...ops, 'avg'] : [...ops, 'band', 'bor', 'bxor'];
}

/** The shape of a tensor's storage entries: a complex tensor of shape S is a real one of [...S, 2]. */
export function entryShape(dtype: DType, shape: readonly number[]): number[] {
  if (!COMPLEX_DTYPES.includes(dtype)) return [...shape];
  return [...(shape.length === 0 ? [1] : shape), 2];
}

/**
 * How inputs are drawn: `int` small integers (exact sums and products), `rand` ordinary random values of
 * the dtype, `bits` random bit patterns (NaN, inf, subnormals, -0 and wrap-around all occur), `special`
 * mostly special values (±0, ±inf, NaN, extremes) for min/max.
 */
export type ValueKind = 'int' | 'rand' | 'bits' | 'special';

/** What a case calls; `ring` is send to the next member and recv from the previous one, twice. */
export type CollectiveKind = 'allReduce' | 'allGather' | 'reduceScatter' | 'gather' | 'broadcast' | 'reduce' | 'allToAll' | 'ring' | 'barrier';

/** One call, as the test describes it to every rank (structured-cloneable). Roots are group ranks. */
export interface CaseSpec {
  coll: CollectiveKind;
  /** Name of the group the call runs on (`world` or a name from the job's `groups`). */
  group: string;
  dtype: DType;
  shape: number[];
  kind: ValueKind;
  seed: number;
  op?: ReduceOp;
  dim?: number;
  scatterDim?: number;
  gatherDim?: number;
  root?: number;
  /** allReduce: pass `out` in the arena, in plain memory, or the input itself (in place). */
  out?: 'arena' | 'plain' | 'self';
  /** The input lives in plain memory (the default for tensors), else in the arena (`shared: true`, zero-copy). */
  plain?: boolean;
  /** The input is a view this many elements into a larger buffer (so not 64-byte aligned). */
  offset?: number;
  /**
   * ring only: the two messages go with tags 3 and 2 around a third (tag 1), and are received by tag in
   * another order (test/fixtures/mpi-cases.ts); the expected results are the ring's.
   */
  tags?: boolean;
}

/** What a rank reports for one case: digests of its result and of its input after the call. */
export interface CaseResult {
  out: string;
  raw: string;
  input: string;
  /** Shape of the result (or null where the collective returns null). */
  shape: number[] | null;
  /** Whether the result is the tensor the caller passed (input or `out`) rather than a new one. */
  same: boolean;
}

/** The seed of the input of world rank `rank` in a case of seed `seed`. */
export function inputSeed(seed: number, rank: number): number {
  return (Math.imul(seed ^ 0x5bd1e995, 0x01000193) + Math.imul(rank + 1, 0x9e3779b1)) >>> 0;
}

/** mulberry32 as a closure (no object per call): a uniform u32 per call, the same stream for a seed everywhere. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

const HALF_SPECIALS = (f: HalfFormat): number[] => {
  const m = f.mantissaBits, inf = ((1 << f.exponentBits) - 1) << m;
  const list = [0, 1, (1 << m) - 1, 1 << m, inf - 1, inf, inf | (1 << (m - 1)), inf | 1];
  return [...list, ...list.map((b) => b | 0x8000)];
};
const F16_SPECIALS = HALF_SPECIALS(FLOAT16), BF16_SPECIALS = HALF_SPECIALS(BFLOAT16);
const F32_SPECIALS = [0, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00001, 0x7f800001, 1, 0x807fffff, 0x7f7fffff, 0xff7fffff, 0x3f800000];
const F64_SPECIALS: [number, number][] = [[0, 0], [0x80000000, 0], [0x7ff00000, 0], [0xfff00000, 0], [0x7ff80000, 0], [0xfff80000, 5], [0x7ff00000, 1], [0, 1], [0x7fefffff, 0xffffffff], [0x3ff00000, 0]];

/** A small integer in -8..8 from a u32 (17 values, nearly uniform). */
const smallInt = (u: number): number => (u % 17) - 8;
/** True for about 60 % of u32s (the low byte picks). */
const mostly = (u: number): boolean => (u & 0xff) < 154;

/**
 * Random values of a float format from one u32: a random sign and mantissa with an exponent within
 * ±4 of the bias (magnitudes in [2^-4, 2^4)), so that sums and products of 8 stay finite and round.
 */
function randFloatBits(u: number, exponentBits: number, mantissaBits: number, width: number): number {
  const bias = (1 << (exponentBits - 1)) - 1;
  const exponent = bias - 4 + ((u >>> (width - 4)) & 7);
  return (((u >>> (width - 1)) & 1) << (width - 1)) | (exponent << mantissaBits) | (u & ((1 << mantissaBits) - 1));
}

function fillFloat32(words: Uint32Array, next: () => number, kind: ValueKind): void {
  const f = new Float32Array(words.buffer, words.byteOffset, words.length);
  for (let i = 0; i < words.length; i++) {
    const u = next();
    if (kind === 'int') f[i] = smallInt(u);
    else if (kind === 'rand') words[i] = randFloatBits(u, 8, 23, 32) >>> 0;
    else words[i] = mostly(u) ? F32_SPECIALS[(u >>> 8) % F32_SPECIALS.length]! : next();
  }
}

function fillFloat64(words: Uint32Array, next: () => number, kind: ValueKind): void {
  const f = new Float64Array(words.buffer, words.byteOffset, words.length / 2);
  for (let i = 0; i < f.length; i++) {
    const u = next();
    if (kind === 'int') f[i] = smallInt(u);
    else if (kind === 'rand') [words[2 * i + 1], words[2 * i]] = [randFloatBits(u, 11, 20, 32) >>> 0, next()];
    else [words[2 * i + 1], words[2 * i]] = mostly(u) ? F64_SPECIALS[(u >>> 8) % F64_SPECIALS.length]! : [next(), next()];
  }
}

function fillHalf(out: Uint16Array, next: () => number, kind: ValueKind, f: HalfFormat): void {
  const specials = f === FLOAT16 ? F16_SPECIALS : BF16_SPECIALS;
  for (let i = 0; i < out.length; i++) {
    const u = next();
    if (kind === 'int') out[i] = numberToHalfBits(smallInt(u), f);
    else if (kind === 'rand') out[i] = randFloatBits(u & 0xffff, f.exponentBits, f.mantissaBits, 16);
    else out[i] = mostly(u) ? specials[(u >>> 8) % specials.length]! : u >>> 16;
  }
}

function fillInt(out: Int8Array | Uint8Array | Int32Array, next: () => number, kind: ValueKind, lo: number, hi: number): void {
  const extremes = [lo, hi, 0, -1, 1];
  for (let i = 0; i < out.length; i++) {
    const u = next();
    if (kind === 'int') out[i] = Math.max(lo, (u % 7) - 3);
    else if (kind === 'special' && mostly(u)) out[i] = extremes[(u >>> 8) % extremes.length]!;
    else out[i] = next() | 0;
  }
}

/** The input of one member: `numel` elements of `dtype` drawn from `kind` with `seed` (16-bit floats as bits). */
export function makeInput(dtype: DType, numel: number, seed: number, kind: ValueKind): StorageArray {
  const next = mulberry32(seed);
  const buffer = new ArrayBuffer(Math.ceil((numel * ITEM_BYTES[dtype]) / 8) * 8);
  if (kind === 'bits' && dtype !== 'bool') {
    const words = new Uint32Array(buffer);
    for (let i = 0; i < words.length; i++) words[i] = next();
    return view(dtype, buffer, numel);
  }
  switch (dtype) {
    case 'float32': fillFloat32(new Uint32Array(buffer, 0, numel), next, kind); break;
    case 'float64': fillFloat64(new Uint32Array(buffer, 0, numel * 2), next, kind); break;
    case 'complex64': fillFloat32(new Uint32Array(buffer, 0, numel * 2), next, kind); break; // re, im, re, ...
    case 'complex128': fillFloat64(new Uint32Array(buffer, 0, numel * 4), next, kind); break;
    case 'float16': fillHalf(new Uint16Array(buffer, 0, numel), next, kind, FLOAT16); break;
    case 'bfloat16': fillHalf(new Uint16Array(buffer, 0, numel), next, kind, BFLOAT16); break;
    case 'int8': fillInt(new Int8Array(buffer, 0, numel), next, kind, -128, 127); break;
    case 'uint8': fillInt(new Uint8Array(buffer, 0, numel), next, kind, 0, 255); break;
    case 'int32': fillInt(new Int32Array(buffer, 0, numel), next, kind, -(2 ** 31), 2 ** 31 - 1); break;
    case 'int64': {
      const a = new BigInt64Array(buffer, 0, numel);
      for (let i = 0; i < numel; i++) a[i] = kind === 'int' ? BigInt((next() % 7) - 3) : BigInt.asIntN(64, (BigInt(next()) << 32n) | BigInt(next()));
      break;
    }
    case 'bool': {
      const a = new Uint8Array(buffer, 0, numel);
      for (let i = 0; i < numel; i++) a[i] = (next() & 0xff) < (kind === 'int' ? 205 : 128) ? 1 : 0;
      break;
    }
  }
  return view(dtype, buffer, numel);
}

/** The typed array of `dtype` over the first `numel` elements of `buffer`. */
function view(dtype: DType, buffer: ArrayBuffer, numel: number): StorageArray {
  switch (dtype) {
    case 'float32': return new Float32Array(buffer, 0, numel);
    case 'float64': return new Float64Array(buffer, 0, numel);
    case 'float16':
    case 'bfloat16': return new Uint16Array(buffer, 0, numel);
    case 'int8': return new Int8Array(buffer, 0, numel);
    case 'uint8':
    case 'bool': return new Uint8Array(buffer, 0, numel);
    case 'int32': return new Int32Array(buffer, 0, numel);
    case 'int64': return new BigInt64Array(buffer, 0, numel);
    case 'complex64': return new Float32Array(buffer, 0, 2 * numel);
    case 'complex128': return new Float64Array(buffer, 0, 2 * numel);
  }
}

/** The bytes as 32-bit words: a view when aligned and a multiple of 4 long, else a zero-padded copy. */
function wordsOf(bytes: Uint8Array): Uint32Array {
  if (bytes.byteOffset % 4 === 0 && bytes.length % 4 === 0) return new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >>> 2);
  const padded = new Uint8Array(Math.ceil(bytes.length / 4) * 4);
  padded.set(bytes);
  return new Uint32Array(padded.buffer);
}

/** Maps NaN words to one pattern per dtype, in a copy (quiet NaNs only for 16-bit floats). */
function canonicalWords(dtype: DType, words: Uint32Array): Uint32Array {
  const out = words.slice();
  if (dtype === 'complex64') dtype = 'float32'; // complex: each part as a float
  if (dtype === 'complex128') dtype = 'float64';
  if (dtype === 'float32') {
    for (let i = 0; i < out.length; i++) if ((out[i]! & 0x7fffffff) > 0x7f800000) out[i] = 0x7fc00000;
  } else if (dtype === 'float64') {
    for (let i = 0; i + 1 < out.length; i += 2) {
      const hi = out[i + 1]! & 0x7fffffff;
      if (hi > 0x7ff00000 || (hi === 0x7ff00000 && out[i] !== 0)) [out[i], out[i + 1]] = [0, 0x7ff80000];
    }
  } else if (dtype === 'float16' || dtype === 'bfloat16') {
    const quiet = dtype === 'float16' ? 0x7e00 : 0x7fc0;
    const halves = new Uint16Array(out.buffer, out.byteOffset, out.length * 2);
    for (let i = 0; i < halves.length; i++) if ((halves[i]! & 0x7fff & quiet) === quiet) halves[i] = quiet;
  }
  return out;
}

function hashWords(words: Uint32Array, byteLength: number): string {
  let a = 0x811c9dc5 ^ byteLength, b = 0x2545f491 ^ Math.imul(byteLength, 0x9e3779b1);
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    a = Math.imul(a ^ w, 0x01000193);
    b = Math.imul((b << 5) | (b >>> 27), 0x85ebca6b) ^ w;
  }
  return `${byteLength}:${(a >>> 0).toString(16).padStart(8, '0')}${(b >>> 0).toString(16).padStart(8, '0')}`;
}

/** Hash of the bytes as they are (the length is part of it, so zero padding is unambiguous). */
export function rawDigest(bytes: Uint8Array): string {
  return hashWords(wordsOf(bytes), bytes.length);
}

/** Hash with NaNs mapped to one pattern per dtype. */
export function canonicalDigest(dtype: DType, bytes: Uint8Array): string {
  return hashWords(canonicalWords(dtype, wordsOf(bytes)), bytes.length);
}

/** The bytes of a typed array. */
export function bytesOf(array: StorageArray): Uint8Array {
  return new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
}

/**
 * A copy of `value` in which typed arrays of more than 1 KiB are replaced by their length and digest
 * (ava's deep comparison walks element by element); cycles map to cycles.
 */
export function compact(value: unknown, seen = new Map<object, unknown>()): unknown {
  if (typeof value !== 'object' || value === null || value instanceof Date) return value;
  if (seen.has(value)) return seen.get(value);
  if (ArrayBuffer.isView(value) && value.byteLength > 1024) {
    return { typedArray: value.constructor.name, digest: rawDigest(new Uint8Array(value.buffer, value.byteOffset, value.byteLength)) };
  }
  if (ArrayBuffer.isView(value)) return value;
  if (value instanceof Map) {
    const out = new Map();
    seen.set(value, out);
    for (const [k, v] of value) out.set(compact(k, seen), compact(v, seen));
    return out;
  }
  if (value instanceof Set) return value;
  const out: Record<string, unknown> | unknown[] = Array.isArray(value) ? [] : {};
  seen.set(value, out);
  for (const [k, v] of Object.entries(value)) (out as Record<string, unknown>)[k] = compact(v, seen);
  return out;
}

/** A case's report: digests of the result and of the input after the call, the result's shape, and `same`. */
export function caseResult(spec: CaseSpec, result: Tensor | null, input: Tensor, same: boolean): CaseResult {
  return {
    out: result === null ? 'null' : canonicalDigest(spec.dtype, result.bytes()),
    raw: result === null ? 'null' : rawDigest(result.bytes()),
    input: canonicalDigest(spec.dtype, input.bytes()),
    shape: result === null ? null : [...result.shape],
    same,
  };
}
