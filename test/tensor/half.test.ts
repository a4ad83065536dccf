/**
 * `src/tensor/half.ts` (16-bit floats <-> JS numbers, for element access) against references written
 * without it: every one of the 65 536 patterns of each format decoded, and rounding checked at every
 * value, every midpoint between neighbours (ties go to the even pattern) and the doubles and floats on
 * either side of each midpoint: subnormals, the subnormal/normal boundary, overflow to infinity, NaN.
 *
 * Decoding is compared with `halfBitsToNumber` (helpers/reference.ts: sign, exponent, mantissa, from the
 * IEEE definition) and, for float16, with a float32 assembled bit by bit. Rounding is compared with the
 * table search of helpers/half-table.ts. float16 rounds once from the double (as torch does for a Python
 * float); bfloat16 rounds to float32 first, then to 16 bits (as torch's float -> bfloat16).
 */
import test from 'ava';
import { bf16ToNumber, f16ToNumber, numberToBf16, numberToF16 } from '../../src/tensor/half.js';
import {
  BFLOAT16, f32Bits, f32FromBits, f32ToHalfBits, FLOAT16, halfBitsToNumber, isHalfNaN, isHalfQuiet,
  type HalfFormat,
} from '../helpers/reference.js';
import { adjacentValues, nearestHalfBits } from '../helpers/half-table.js';

const PATTERNS = Array.from({ length: 65536 }, (_, bits) => bits);
const hex = (bits: number): string => `0x${bits.toString(16).padStart(4, '0')}`;
const same = (a: number, b: number): boolean => Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));

/** float16 -> float32 by assembling the float32's bits (subnormals normalised; inf, NaN keep their bits). */
function f16ViaF32Bits(bits: number): number {
  const sign = (bits & 0x8000) << 16;
  let exponent = (bits >> 10) & 0x1f;
  let mantissa = bits & 0x3ff;
  if (exponent === 0x1f) return f32FromBits(sign | 0x7f800000 | (mantissa << 13));
  if (exponent === 0 && mantissa === 0) return f32FromBits(sign);
  if (exponent === 0) {
    exponent = 1;
    while ((mantissa & 0x400) === 0) {
      mantissa <<= 1;
      exponent--;
    }
    mantissa &= 0x3ff;
  }
  return f32FromBits((sign | ((exponent - 15 + 127) << 23) | (mantissa << 13)) >>> 0);
}

/** The double just above (+1) or below (-1) a positive finite double. */
function nextDouble(x: number, direction: 1 | -1): number {
  const bits = new BigInt64Array(new Float64Array([x]).buffer);
  bits[0]! += BigInt(direction);
  return new Float64Array(bits.buffer)[0]!;
}

/** Doubles to round: every value, each midpoint to the next value, the doubles (and floats) beside each. */
function roundingCases(f: HalfFormat, floatsToo: boolean): number[] {
  const cases = [0, Number.MIN_VALUE, 2 ** -1022, 1e300, Number.MAX_VALUE, Infinity];
  for (const [value, next] of adjacentValues(f)) {
    const mid = (value + next) / 2;
    cases.push(value, mid, nextDouble(mid, 1), nextDouble(mid, -1));
    if (floatsToo) cases.push(f32FromBits(f32Bits(mid) + 1), f32FromBits(f32Bits(mid) - 1));
  }
  return cases.flatMap((x) => [x, -x]);
}

const FORMATS = [
  { name: 'float16', f: FLOAT16, decode: f16ToNumber, encode: numberToF16 },
  { name: 'bfloat16', f: BFLOAT16, decode: bf16ToNumber, encode: numberToBf16 },
] as const;

for (const { name, f, decode, encode } of FORMATS) {
  test(`${name}: every pattern decodes to its IEEE value, exact in float32`, (t) => {
    const wrong = PATTERNS.filter((bits) => {
      const value = decode(bits);
      const viaBits = f === FLOAT16 ? same(value, f16ViaF32Bits(bits)) : true;
      return !same(value, halfBitsToNumber(bits, f)) || !viaBits || !same(Math.fround(value), value);
    });
    t.deepEqual(wrong.map(hex), []);
    t.is(PATTERNS.filter((bits) => Number.isNaN(decode(bits))).length, 2 * (2 ** f.mantissaBits - 1));
  });

  test(`${name}: every pattern survives a round trip; NaN patterns come back as a quiet NaN`, (t) => {
    const wrong = PATTERNS.filter((bits) => {
      const back = encode(decode(bits));
      return isHalfNaN(bits, f) ? !isHalfNaN(back, f) || !isHalfQuiet(back, f) : back !== bits;
    });
    t.deepEqual(wrong.map(hex), []);
  });

  test(`${name}: NaN encodes to a quiet NaN`, (t) => {
    for (const nan of [NaN, f32FromBits(0x7f800001), f32FromBits(0xffc00000)]) {
      t.true(isHalfNaN(encode(nan), f) && isHalfQuiet(encode(nan), f), hex(encode(nan)));
    }
  });
}

type Encode = (x: number) => number;

/** The first few cases where `encode` and `expected` disagree, readably. */
function disagreements(cases: number[], encode: Encode, expected: Encode): string[] {
  const wrong = cases.filter((x) => encode(x) !== expected(x));
  return wrong.slice(0, 10).map((x) => `${x}: ${hex(encode(x))}, expected ${hex(expected(x))}`);
}

test('float16 rounds once from the double: nearest, ties to even, overflow to inf, subnormals', (t) => {
  const cases = roundingCases(FLOAT16, false);
  const expected = (x: number): number => nearestHalfBits(x, FLOAT16);
  t.deepEqual(disagreements(cases, numberToF16, expected), []);
  // The kernels' reference (arithmetic rounding) agrees with the table on the float32 cases.
  const floats = cases.filter((x) => Math.fround(x) === x);
  t.deepEqual(floats.filter((x) => f32ToHalfBits(x, FLOAT16) !== expected(x)), []);
  t.true(cases.length > 6 * 30_000, `${cases.length} cases`);
});

test('bfloat16 rounds to float32, then to 16 bits: nearest, ties to even, overflow, subnormals', (t) => {
  const cases = roundingCases(BFLOAT16, true);
  const expected = (x: number): number => nearestHalfBits(Math.fround(x), BFLOAT16);
  t.deepEqual(disagreements(cases, numberToBf16, expected), []);
  // Rounding to float32 first can make a tie of a value just above one: torch's float -> bfloat16 does too.
  t.is(numberToBf16(1 + 2 ** -8 + 2 ** -30), 0x3f80);
  const floats = cases.filter((x) => Math.fround(x) === x);
  t.deepEqual(floats.filter((x) => f32ToHalfBits(x, BFLOAT16) !== expected(x)), []);
  t.true(cases.length > 10 * 30_000, `${cases.length} cases`);
});

test('the table reference itself, at points worked out by hand', (t) => {
  const f16 = (x: number): number => nearestHalfBits(x, FLOAT16);
  t.is(f16(65504), 0x7bff); // the largest finite value
  t.is(f16(65519.99), 0x7bff);
  t.is(f16(65520), 0x7c00); // halfway to 2^16: the tie goes to the even pattern, infinity
  t.is(f16(-1e9), 0xfc00);
  t.is(f16(1 + 2 ** -11), 0x3c00); // halfway between 1 and 1 + 2^-10: even
  t.is(f16(1 + 3 * 2 ** -11), 0x3c02); // halfway between 0x3c01 and 0x3c02: even
  t.is(f16(2 ** -25), 0x0000); // half the smallest subnormal: ties to zero
  t.is(f16(nextDouble(2 ** -25, 1)), 0x0001);
  t.is(f16(1.5 * 2 ** -24), 0x0002);
  t.is(f16(2 ** -14 - 2 ** -25), 0x0400); // between the largest subnormal and the smallest normal: even
  t.is(f16(-0), 0x8000);
  const bf16 = (x: number): number => nearestHalfBits(x, BFLOAT16);
  t.is(bf16(1 + 2 ** -8), 0x3f80);
  t.is(bf16(nextDouble(1 + 2 ** -8, 1)), 0x3f81);
  t.is(bf16((2 - 2 ** -8) * 2 ** 127), 0x7f80); // halfway from the largest finite to 2^128: infinity
  t.is(bf16(2 ** -134), 0x0000);
});
