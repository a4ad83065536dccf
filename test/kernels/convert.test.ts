import test from 'ava';
import { Rng } from '../helpers/mulberry32.js';
import {
  BFLOAT16, f32Bits, f32FromBits, f32ToHalfBits, FLOAT16, halfBitsToNumber, isHalfNaN, isHalfQuiet, type HalfFormat,
} from '../helpers/reference.js';
import { createEnv } from './harness.js';

const env = createEnv(512);
const SRC = 1 << 20;
const DST = 12 << 20;
const formats = [
  { f: FLOAT16, toF32: 'f16ToF32', fromF32: 'f32ToF16' },
  { f: BFLOAT16, toF32: 'bf16ToF32', fromF32: 'f32ToBf16' },
] as const;

/** Converts 16-bit patterns to f32 in the kernel at the given byte shifts. */
function widen(name: 'f16ToF32' | 'bf16ToF32', bits: Uint16Array, shift: number): Float32Array {
  new Uint16Array(env.memory.buffer, SRC + 2 * shift, bits.length).set(bits);
  env.kernels[name](DST + 4 * shift, SRC + 2 * shift, bits.length);
  return new Float32Array(env.memory.buffer, DST + 4 * shift, bits.length).slice();
}

/** Converts f32 values to 16-bit patterns in the kernel. */
function narrow(name: 'f32ToF16' | 'f32ToBf16', values: Float32Array, shift: number): Uint16Array {
  new Float32Array(env.memory.buffer, SRC + 4 * shift, values.length).set(values);
  env.kernels[name](DST + 2 * shift, SRC + 4 * shift, values.length);
  return new Uint16Array(env.memory.buffer, DST + 2 * shift, values.length).slice();
}

function firstWideningError(f: HalfFormat, bits: Uint16Array, out: Float32Array): string | undefined {
  for (let i = 0; i < bits.length; i++) {
    const expected = halfBitsToNumber(bits[i]!, f);
    const ok = Number.isNaN(expected) ? Number.isNaN(out[i]) : f32Bits(expected) === f32Bits(out[i]!);
    if (!ok) return `0x${bits[i]!.toString(16)}: expected ${expected}, got ${out[i]} (0x${f32Bits(out[i]!).toString(16)})`;
  }
  return undefined;
}

function firstNarrowingError(f: HalfFormat, values: Float32Array, out: Uint16Array): string | undefined {
  for (let i = 0; i < values.length; i++) {
    const expected = f32ToHalfBits(values[i]!, f);
    const ok = isHalfNaN(expected, f) ? isHalfNaN(out[i]!, f) && isHalfQuiet(out[i]!, f) : expected === out[i];
    if (!ok) return `${values[i]} (0x${f32Bits(values[i]!).toString(16)}): expected 0x${expected.toString(16)}, got 0x${out[i]!.toString(16)}`;
  }
  return undefined;
}

const ALL_PATTERNS = Uint16Array.from({ length: 65536 }, (_, i) => i);

/** Every finite 16-bit value, each midpoint to its successor, and the f32 neighbours of each midpoint. */
function roundingCases(f: HalfFormat): number[] {
  const out: number[] = [];
  for (let b = 0; b < 0x7fff; b++) {
    if (isHalfNaN(b, f)) continue;
    const v = halfBitsToNumber(b, f);
    out.push(v, -v);
    const next = halfBitsToNumber(b + 1, f);
    if (!Number.isFinite(next)) continue;
    const mid = f32Bits((v + next) / 2);
    for (const m of [mid - 1, mid, mid + 1]) out.push(f32FromBits(m), -f32FromBits(m));
  }
  return out;
}

const EDGE_BITS = [
  0x7fc00000, 0x7f800001, 0xffc00001, 0x7f802000, 0x7fffffff, 0x7f8000ff, 0x7f800000, 0xff800000, 0, 0x80000000,
  1, 0x80000001, 0x7f7fffff, 0xff7fffff, 0x00800000, 0x007fffff, 0x7f7f8000, 0x7f7f7fff, 0x7f7f8001,
];
const EDGE_VALUES = [65504, 65519, 65519.99609375, 65520, 65520.00390625, 65536, 1e10, 2 ** -24, 2 ** -25, 2 ** -25 * 3, 2 ** -14 - 2 ** -25, 2 ** -26];

for (const { f, toF32 } of formats) {
  test(`${f.name} -> f32: all 65536 bit patterns match the reference`, (t) => {
    t.is(firstWideningError(f, ALL_PATTERNS, widen(toF32, ALL_PATTERNS, 3)), undefined);
  });
}

for (const { f, fromF32 } of formats) {
  test(`f32 -> ${f.name}: every value, midpoint (tie) and its neighbours, edges, NaN payloads`, (t) => {
    const edges = [...EDGE_BITS.map(f32FromBits), ...EDGE_VALUES.flatMap((v) => [v, -v])];
    const values = Float32Array.from([...roundingCases(f), ...edges]);
    t.true(values.length > 240_000);
    t.is(firstNarrowingError(f, values, narrow(fromF32, values, 5)), undefined);
  });

  test(`f32 -> ${f.name}: 1 M random f32 bit patterns`, (t) => {
    const rng = new Rng(42);
    const values = new Float32Array(1 << 20);
    new Uint32Array(values.buffer).forEach((_, i, a) => (a[i] = rng.u32()));
    t.is(firstNarrowingError(f, values, narrow(fromF32, values, 0)), undefined);
  });
}

for (const { f, toF32, fromF32 } of formats) {
  test(`${f.name} conversions: short lengths and misaligned offsets give the same bits in tail and body`, (t) => {
    const rng = new Rng(9);
    for (let count = 0; count <= 40; count++) {
      const shift = rng.int(0, 15);
      const bits = Uint16Array.from({ length: count }, () => rng.u32() & 0xffff);
      t.is(firstWideningError(f, bits, widen(toF32, bits, shift)), undefined, `n=${count}`);
      const values = Float32Array.from(bits, (b) => halfBitsToNumber(b, f) + (rng.chance(0.5) ? 2 ** -30 : 0));
      t.is(firstNarrowingError(f, values, narrow(fromF32, values, shift)), undefined, `n=${count}`);
    }
  });
}
