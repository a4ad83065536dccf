/**
 * Seeded test data per dtype: mostly ordinary values (so folds of many inputs stay finite and round
 * often), with special values mixed in (NaN, ±inf, ±0, subnormals, values near the largest, integer
 * extremes), plus the fixed lists of special values that the exhaustive special-value tests cross.
 */
import { storageView, type DType, type StorageArray } from '../../src/tensor/dtype.js';
import type { Rng } from '../helpers/mulberry32.js';
import { BFLOAT16, f32FromBits, FLOAT16, partDtype, type HalfFormat } from '../helpers/reference.js';

const f64View = new DataView(new ArrayBuffer(8));

function f64FromWords(hi: number, lo: number): number {
  f64View.setUint32(0, lo >>> 0, true);
  f64View.setUint32(4, hi >>> 0, true);
  return f64View.getFloat64(0, true);
}

function randomF32(rng: Rng): number {
  const r = rng.float();
  const sign = rng.chance(0.5) ? 0x80000000 : 0;
  if (r < 0.01) return NaN;
  if (r < 0.03) return sign ? -Infinity : Infinity;
  if (r < 0.06) return sign ? -0 : 0;
  if (r < 0.09) return f32FromBits(sign | (rng.u32() & 0x7fffff)); // subnormal
  if (r < 0.11) return f32FromBits(sign | (rng.int(0xfd, 0xfe) << 23) | (rng.u32() & 0x7fffff)); // near max
  if (r < 0.4) return rng.int(-8, 8);
  return f32FromBits(sign | ((127 + rng.int(-20, 20)) << 23) | (rng.u32() & 0x7fffff));
}

function randomF64(rng: Rng): number {
  const r = rng.float();
  const sign = rng.chance(0.5) ? 0x80000000 : 0;
  if (r < 0.01) return NaN;
  if (r < 0.03) return sign ? -Infinity : Infinity;
  if (r < 0.06) return sign ? -0 : 0;
  if (r < 0.09) return f64FromWords(sign | (rng.u32() & 0xfffff), rng.u32()); // subnormal
  if (r < 0.11) return f64FromWords(sign | (rng.int(0x7fd, 0x7fe) << 20) | (rng.u32() & 0xfffff), rng.u32());
  if (r < 0.4) return rng.int(-8, 8);
  return f64FromWords(sign | ((1023 + rng.int(-60, 60)) << 20) | (rng.u32() & 0xfffff), rng.u32());
}

/** Notable 16-bit patterns of a format: zeros, subnormal ends, normal ends, inf, quiet and signalling NaN. */
export function halfSpecials(f: HalfFormat): number[] {
  return f === FLOAT16 ? F16_SPECIALS : BF16_SPECIALS;
}

function makeHalfSpecials(f: HalfFormat): number[] {
  const m = f.mantissaBits;
  const inf = ((1 << f.exponentBits) - 1) << m;
  const one = ((1 << (f.exponentBits - 1)) - 1) << m;
  const list = [0, 1, (1 << m) - 1, 1 << m, inf - 1, inf, inf | (1 << (m - 1)), inf | 1, one, one | 1, one + (1 << m)];
  return [...list, ...list.map((b) => b | 0x8000)];
}

const F16_SPECIALS = makeHalfSpecials(FLOAT16);
const BF16_SPECIALS = makeHalfSpecials(BFLOAT16);

function randomHalf(rng: Rng, f: HalfFormat): number {
  const r = rng.float();
  if (r < 0.25) return rng.u32() & 0xffff;
  if (r < 0.35) return rng.pick(halfSpecials(f));
  const sign = rng.chance(0.5) ? 0x8000 : 0;
  const mantissa = rng.u32() & ((1 << f.mantissaBits) - 1);
  if (r < 0.45) return sign | mantissa; // subnormal
  const exponent = (1 << (f.exponentBits - 1)) - 1 + rng.int(-4, 4);
  return sign | (exponent << f.mantissaBits) | mantissa;
}

const INT_EXTREMES: Record<'int8' | 'uint8' | 'int32', number[]> = {
  int8: [-128, 127, -1, 0, 1, 2, -2, 64, -64],
  uint8: [0, 1, 2, 254, 255, 128, 127, 16],
  int32: [-(2 ** 31), 2 ** 31 - 1, -1, 0, 1, 2, -2, 65536, -65536, 46341],
};
export const INT64_EXTREMES = [-(2n ** 63n), 2n ** 63n - 1n, -1n, 0n, 1n, 2n, -2n, 2n ** 32n, 3037000500n];

/** The element of a random integer dtype for one raw u32. */
function randomInt(rng: Rng, dtype: 'int8' | 'uint8' | 'int32'): number {
  if (rng.chance(0.2)) return rng.pick(INT_EXTREMES[dtype]);
  const u = rng.u32();
  return dtype === 'int8' ? (u << 24) >> 24 : dtype === 'uint8' ? u & 0xff : u | 0;
}

/**
 * A new array of `count` random elements of `dtype` (16-bit floats as bit patterns; a complex element is
 * two entries, re and im, each a random float32 / float64).
 */
export function randomArray(dtype: DType, count: number, rng: Rng): StorageArray {
  const bytes = new ArrayBuffer(Math.max(count, 1) * 16);
  const out = storageView(dtype, bytes, 0, count);
  const part = partDtype(dtype);
  for (let i = 0; i < out.length; i++) out[i] = randomElement(part, rng) as never;
  return out;
}

function randomElement(dtype: DType, rng: Rng): number | bigint {
  switch (dtype) {
    case 'float32': return randomF32(rng);
    case 'float64': return randomF64(rng);
    case 'float16': return randomHalf(rng, FLOAT16);
    case 'bfloat16': return randomHalf(rng, BFLOAT16);
    case 'int8':
    case 'uint8':
    case 'int32': return randomInt(rng, dtype);
    case 'int64': return rng.chance(0.2) ? rng.pick(INT64_EXTREMES) : rng.i64();
    case 'bool': return rng.u32() & 1;
    default: throw new Error(`no random ${dtype} element: draw its parts`);
  }
}

/** Special values of each dtype, for the exhaustive tuple tests. */
export function specialValues(dtype: DType): (number | bigint)[] {
  const min32 = f32FromBits(1);
  const maxSub32 = f32FromBits(0x7fffff);
  const max32 = f32FromBits(0x7f7fffff);
  switch (dtype) {
    case 'float32': return [NaN, Infinity, -Infinity, 0, -0, min32, -min32, maxSub32, 2 ** -126, max32, -max32, 1, -1, 1.5, 2 ** 24 + 2, 3];
    case 'float64': return [NaN, Infinity, -Infinity, 0, -0, Number.MIN_VALUE, -Number.MIN_VALUE, 2 ** -1022, Number.MAX_VALUE, -Number.MAX_VALUE, 1, -1, 1.5, 2 ** 53 + 2, 3];
    case 'float16': return halfSpecials(FLOAT16);
    case 'bfloat16': return halfSpecials(BFLOAT16);
    case 'int8':
    case 'uint8':
    case 'int32': return INT_EXTREMES[dtype];
    case 'int64': return INT64_EXTREMES;
    case 'bool': return [0, 1];
    case 'complex64':
    case 'complex128': return specialValues(partDtype(dtype)); // the parts' values
  }
}

/**
 * Every k-tuple of `values`, as k arrays (tuple t is element t of each array). For a complex dtype the
 * values are parts: element t takes the tuple's value as its real part and the value at the mirrored
 * index as its imaginary part, so both parts meet every special value.
 */
export function allTuples(dtype: DType, values: readonly (number | bigint)[], k: number): StorageArray[] {
  const count = values.length ** k;
  const arrays = Array.from({ length: k }, () => storageView(dtype, new ArrayBuffer(Math.max(count, 1) * 16), 0, count));
  const complex = arrays[0]!.length === 2 * count;
  for (let t = 0; t < count; t++) {
    let rest = t;
    for (let j = 0; j < k; j++) {
      const v = rest % values.length;
      if (complex) {
        arrays[j]![2 * t] = values[v] as never;
        arrays[j]![2 * t + 1] = values[values.length - 1 - v] as never;
      } else arrays[j]![t] = values[v] as never;
      rest = Math.floor(rest / values.length);
    }
  }
  return arrays;
}
