/**
 * The shape hashes of the call fingerprint (src/comm/threads/shape-hash.ts): the modular arithmetic is
 * exact (checked against BigInt), the coefficient encoding is one-to-one, and different shapes get
 * different fingerprints, the pair that collided under the old 32-bit hash and a large set of near misses
 * included. The points are drawn at random as a job draws them; a failure prints them.
 */
import test from 'ava';
import {
  drawHashPoints, mulMod, P, shapeCoefficients, shapeHash, shapeHashes,
} from '../../src/comm/threads/shape-hash.js';
import { JobControl } from '../../src/comm/threads/job-control.js';
import { Arena } from '../../src/shm/arena.js';
import { Rng } from '../helpers/mulberry32.js';

const BIG_P = BigInt(P);
/** Values where a split or a fold could go wrong, then random ones. */
const EDGES = [0, 1, 2, 0xffff, 0x10000, 0x10001, 0x7fff0000, 0x3fffffff, 0x40000000, P - 2, P - 1];

function randomBelowP(rng: Rng): number {
  return rng.chance(0.2) ? rng.pick(EDGES) : rng.u32() % P;
}

/** The hash as the proof defines it: Horner over the coefficients, in BigInt. */
function referenceHash(shape: readonly number[] | undefined, r: number): number {
  let h = 0n;
  for (const c of shapeCoefficients(shape)) h = (h * BigInt(r) + BigInt(c)) % BIG_P;
  return Number(h);
}

/** A random dim: mostly small, sometimes at the 2^30 boundary or wide (up to 2^53 - 1). */
function randomDim(rng: Rng): number {
  const kind = rng.int(0, 9);
  if (kind < 6) return rng.int(0, 70);
  if (kind < 8) return rng.u32() % 2 ** 30;
  if (kind === 8) return 2 ** 30 + rng.int(-2, 2);
  return rng.u32() * 2 ** 21 + (rng.u32() % 2 ** 21);
}

test('mulMod is a * b mod 2^31 - 1, exactly: BigInt agrees on edge values and 200 000 random pairs', (t) => {
  const rng = new Rng(31);
  const bad: string[] = [];
  const check = (a: number, b: number): void => {
    const expected = Number((BigInt(a) * BigInt(b)) % BIG_P);
    if (mulMod(a, b) !== expected) bad.push(`${a} * ${b}: ${mulMod(a, b)}, expected ${expected}`);
  };
  for (const a of EDGES) for (const b of EDGES) check(a, b);
  for (let i = 0; i < 200_000; i++) check(randomBelowP(rng), randomBelowP(rng));
  t.deepEqual(bad.slice(0, 5), []);
});

test('shapeHashes: the coefficient polynomials at r1 and r2 mod 2^31 - 1 (BigInt agrees, 20 000 shapes)', (t) => {
  const rng = new Rng(37);
  const bad: string[] = [];
  const out = new Int32Array(4);
  for (let i = 0; i < 20_000; i++) {
    const shape = i === 0 ? undefined : Array.from({ length: rng.int(0, 9) }, () => randomDim(rng));
    const r1 = randomBelowP(rng), r2 = randomBelowP(rng);
    shapeHashes(shape, r1, r2, out, 1);
    const expected = [referenceHash(shape, r1), referenceHash(shape, r2)];
    const alone = shapeHash(shape, r1);
    if (out[1] !== expected[0] || out[2] !== expected[1] || alone !== expected[0]) {
      bad.push(`[${shape}] at ${r1}, ${r2}: ${out[1]}, ${out[2]} (alone ${alone}); expected ${expected}`);
    }
  }
  t.deepEqual(bad.slice(0, 5), []);
});

test('shapeCoefficients is one-to-one: coefficients below P, and the sequence reads back to the shape', (t) => {
  const decode = (c: number[]): number[] | undefined => {
    if (c[0] === 0) return undefined;
    const shape: number[] = [];
    for (let i = 1; i < c.length; i++) {
      shape.push(c[i]! < 2 ** 30 ? c[i]! : (c[i]! - 2 ** 30) * 2 ** 30 + c[++i]!);
    }
    t.is(shape.length, c[0]! - 1);
    return shape;
  };
  const rng = new Rng(41);
  const shapes = [undefined, [], [0], [2 ** 30 - 1], [2 ** 30], [2 ** 53 - 1], [0, 2 ** 30], [1, 0]];
  for (let i = 0; i < 5000; i++) shapes.push(Array.from({ length: rng.int(0, 8) }, () => randomDim(rng)));
  for (const shape of shapes) {
    const c = shapeCoefficients(shape);
    t.true(c.every((x) => Number.isInteger(x) && x >= 0 && x < P), `[${shape}]`);
    t.deepEqual(decode(c), shape);
  }
});

test('the pair that collided under the 32-bit hash differs at 10 000 drawn point pairs', (t) => {
  for (let i = 0; i < 10_000; i++) {
    const [r1, r2] = drawHashPoints();
    const a = [shapeHash([1, 1, 61, 64], r1), shapeHash([1, 1, 61, 64], r2)];
    const b = [shapeHash([1, 2, 34, 3, 14], r1), shapeHash([1, 2, 34, 3, 14], r2)];
    if (a[0] === b[0] && a[1] === b[1]) t.fail(`collision at points ${r1}, ${r2}`);
  }
  t.pass();
});

/** Shapes one edit away from `shape`: a dim +-1, two dims swapped, a 1 put in or taken out, a dim split, ... */
function nearMisses(shape: number[], rng: Rng): number[][] {
  const out: number[][] = [];
  const d = rng.int(0, Math.max(0, shape.length - 1));
  if (shape.length > 0) {
    out.push(shape.map((x, i) => (i === d ? x + 1 : x)));
    if (shape[d]! > 0) out.push(shape.map((x, i) => (i === d ? x - 1 : x)));
    if (shape.length > 1) {
      const e = (d + 1) % shape.length, swapped = [...shape];
      [swapped[d], swapped[e]] = [shape[e]!, shape[d]!];
      out.push(swapped);
    }
    if (shape[d] === 1) out.push(shape.filter((_, i) => i !== d));
    const split = [...shape.slice(0, d), 2, shape[d]! / 2, ...shape.slice(d + 1)];
    if (shape[d]! % 2 === 0 && shape[d]! > 0) out.push(split);
  }
  out.push([...shape.slice(0, d), 1, ...shape.slice(d)], [...shape, 0], [...shape, 1]);
  return out;
}

test('different shapes get different fingerprints: 20 000 random shapes and their near misses', (t) => {
  const [r1, r2] = drawHashPoints();
  const rng = new Rng(43);
  const seen = new Map<string, string>();
  const add = (shape: number[] | undefined): void => {
    const name = shape === undefined ? 'none' : `[${shape}]`;
    const fingerprint = `${shapeHash(shape, r1)},${shapeHash(shape, r2)}`;
    const before = seen.get(fingerprint);
    if (before !== undefined && before !== name) {
      t.fail(`${name} and ${before} share ${fingerprint} (points ${r1}, ${r2})`);
    }
    seen.set(fingerprint, name);
  };
  add(undefined);
  add([]);
  for (let i = 0; i < 20_000; i++) {
    const dim = (): number => (rng.chance(0.9) ? rng.int(1, 64) : randomDim(rng));
    const shape = Array.from({ length: rng.int(1, 6) }, dim);
    add(shape);
    for (const near of nearMisses(shape, rng)) add(near);
  }
  t.true(seen.size > 100_000, `${seen.size} distinct shapes`);
});

test('a job draws its points when its control block is made, and every rank reads the same ones', (t) => {
  const arena = Arena.create({ initialBytes: 4 << 20, maxBytes: 8 << 20 });
  const a = JobControl.create(arena, 2), b = JobControl.create(arena, 2);
  for (const r of [...a.hashPoints, ...b.hashPoints]) t.true(Number.isInteger(r) && r >= 0 && r < P);
  t.deepEqual(new JobControl(arena, a.byteOffset).hashPoints, a.hashPoints);
  t.notDeepEqual(a.hashPoints, b.hashPoints, 'two jobs draw their own (equal with probability 2^-62)');
  // Each job's two points are drawn apart (a job reading one word twice would hash the shape twice at one point).
  for (const job of [a, b]) t.not(job.hashPoints[0], job.hashPoints[1], 'two points (equal with probability 2^-31)');
});
