/**
 * A second reference for rounding to 16-bit floats, by table search rather than arithmetic: independent
 * of `src/tensor/half.ts` and of `roundToHalf` in reference.ts. The table holds every finite non-negative
 * value of the format in pattern order (patterns 0 .. largest finite, decoded by `halfBitsToNumber` from
 * the IEEE definition), then the infinity pattern standing for 2^(bias + 1), the value its bits would
 * have with an ordinary exponent: so overflow follows the same rounding rule as everything else.
 *
 * Rounding: the nearest table value; on an exact tie, the even pattern (the one whose mantissa ends in 0).
 * Midpoints of neighbours are exact doubles (a few more bits than the format's), so every compare is exact.
 */
import { halfBitsToNumber, type HalfFormat } from './reference.js';

const tables = new Map<HalfFormat, Float64Array>();

/** Values of patterns 0 .. infinity (see the file header). */
function table(f: HalfFormat): Float64Array {
  let values = tables.get(f);
  if (values === undefined) {
    const inf = (2 ** f.exponentBits - 1) * 2 ** f.mantissaBits;
    values = Float64Array.from({ length: inf + 1 }, (_, bits) => halfBitsToNumber(bits, f));
    values[inf] = 2 ** (2 ** (f.exponentBits - 1)); // 2^(bias + 1)
    tables.set(f, values);
  }
  return values;
}

/** The pattern of the format's quiet NaN (exponent all ones, top mantissa bit set). */
export function quietNaNBits(f: HalfFormat): number {
  return (2 ** f.exponentBits - 1) * 2 ** f.mantissaBits + 2 ** (f.mantissaBits - 1);
}

/** `x` (any double) rounded once to the format, nearest value, ties to even, as a 16-bit pattern. */
export function nearestHalfBits(x: number, f: HalfFormat): number {
  if (Number.isNaN(x)) return quietNaNBits(f);
  const sign = x < 0 || Object.is(x, -0) ? 2 ** (f.exponentBits + f.mantissaBits) : 0;
  const a = Math.abs(x);
  const values = table(f);
  const top = values.length - 1;
  if (a >= values[top]!) return sign + top;
  let lo = 0, hi = top; // values[lo] <= a < values[hi]
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    if (values[mid]! <= a) lo = mid;
    else hi = mid;
  }
  if (values[lo] === a) return sign + lo;
  const half = (values[lo]! + values[hi]!) / 2;
  return sign + (a < half ? lo : a > half ? hi : lo % 2 === 0 ? lo : hi);
}

/** Each pair of neighbouring table values, (0, smallest subnormal) .. (largest finite, 2^(bias + 1)). */
export function adjacentValues(f: HalfFormat): Array<[number, number]> {
  const values = table(f);
  return Array.from({ length: values.length - 1 }, (_, i) => [values[i]!, values[i + 1]!]);
}
