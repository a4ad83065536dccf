/**
 * The shape part of a call's fingerprint: two polynomial hashes modulo the prime P = 2^31 - 1, each at a
 * point drawn at random once per job (the job control block holds both, so every rank of the job uses the
 * same ones). The rest of the call (op, dtype, reduce op, root, dims) is an exact key compared as it is.
 *
 * Encoding. A shape becomes the coefficient sequence c = [ndim + 1, enc(d_0), ..., enc(d_{ndim-1})], and
 * "no shape" (barrier) becomes [0]. A dim below 2^30 is one coefficient, itself; a larger one (up to 2^53)
 * is two, [2^30 + floor(d / 2^30), d mod 2^30]. Every coefficient is below 2^30 + 2^23 < P, and reading the
 * sequence back left to right recovers the shape, so different shapes give different sequences.
 *
 * Hash. h_r(c) = c_0 r^n + c_1 r^(n-1) + ... + c_n mod P (Horner), for a sequence of n + 1 coefficients.
 *
 * Claim: for two different shapes s != t whose sequences have at most n + 1 coefficients (n = ndim for
 * dims below 2^30), and points r1, r2 drawn independently and uniformly from [0, P) after s and t were
 * chosen, Pr[h_r1(s) = h_r1(t) and h_r2(s) = h_r2(t)] <= (n / P)^2, e.g. <= 1.4e-17 for 8 dims.
 * Proof: let D(x) = h_x(s) - h_x(t), a polynomial over the field Z_P. If the sequences have the same
 * length they differ in some coefficient, below P in both, so D has a nonzero coefficient. If their
 * lengths differ, the longer sequence's first coefficient (ndim + 1 >= 1) is the leading coefficient of
 * D. Either way D is a nonzero polynomial of degree <= n, with at most n roots in Z_P, so one point hits
 * a root with probability <= n / P (Schwartz-Zippel), and two independent points both do with
 * probability <= (n / P)^2. Rank code chooses its shapes without reading the points, and they are fresh
 * in every job: no pair of shapes collides in more than that fraction of jobs, so a collision cannot be
 * constructed, and accidental ones are negligible. (A program that tries q pairs in one job, learning
 * only which ones failed, gets one through with probability at most q (n / P)^2: a union bound.)
 *
 * Arithmetic. Every value below is an integer under 2^53, so each double operation is exact. A product
 * h * r (both below 2^31) would not be: r is split into r_hi = r >>> 16 (below 2^15) and r_lo = r & 0xffff,
 * h * r = (h * r_hi) * 2^16 + h * r_lo, and the first part is folded before it is shifted. Folding uses
 * 2^31 = 1 (mod P): for 0 <= x < 2^53, x - floor(x / 2^31) * P = (x mod 2^31) + floor(x / 2^31) is
 * congruent to x and below 2^31 + 2^22.
 */
import { randomInt } from 'node:crypto';

/** The modulus: the Mersenne prime 2^31 - 1. */
export const P = 0x7fffffff;
const TWO_POW_MINUS_31 = 2 ** -31;
/** Dims from here on take two coefficients. */
const WIDE_DIM = 2 ** 30;

/** x mod P up to one extra P: for an integer 0 <= x < 2^53, a congruent value below 2^31 + 2^22. */
function fold(x: number): number {
  return x - Math.floor(x * TWO_POW_MINUS_31) * P;
}

/** a * b mod P for integers a, b in [0, P), exactly (for tests and the proof's reference). */
export function mulMod(a: number, b: number): number {
  const y = fold(fold(a * (b >>> 16)) * 65536 + a * (b & 0xffff));
  return y >= P ? y - P : y;
}

/** h * r + c mod P for h, r in [0, P) and c in [0, 2^31): one Horner step (r split as r_hi, r_lo). */
function step(h: number, rHi: number, rLo: number, c: number): number {
  // h * rHi < 2^46 folds below 2^31 + 2^15, so y < 2^49, and fold(y) < 2^31 + 2^18 < 2P.
  const y = fold(fold(h * rHi) * 65536 + h * rLo + c);
  return y >= P ? y - P : y;
}

/**
 * Stores the hashes of `shape` at points r1 and r2 (in [0, P)) into out[at] and out[at + 1]: both in one
 * pass over the dims (this runs whenever a member's call changes).
 */
export function shapeHashes(
  shape: readonly number[] | undefined, r1: number, r2: number, out: Int32Array, at: number,
): void {
  if (shape === undefined) {
    out[at] = 0;
    out[at + 1] = 0;
    return;
  }
  const a = r1 >>> 16, b = r1 & 0xffff, c = r2 >>> 16, d = r2 & 0xffff;
  let h1 = shape.length + 1, h2 = h1;
  for (let i = 0; i < shape.length; i++) {
    const x = shape[i]!;
    if (x >= WIDE_DIM) return wideShapeHashes(shape, r1, r2, out, at);
    // step(h1, a, b, x) and step(h2, c, d, x), written out so that the two chains interleave.
    const y1 = fold(fold(h1 * a) * 65536 + h1 * b + x), y2 = fold(fold(h2 * c) * 65536 + h2 * d + x);
    h1 = y1 >= P ? y1 - P : y1;
    h2 = y2 >= P ? y2 - P : y2;
  }
  out[at] = h1;
  out[at + 1] = h2;
}

/** `shapeHashes` of a shape with a dim of 2^30 or more (two coefficients for such a dim). */
function wideShapeHashes(shape: readonly number[], r1: number, r2: number, out: Int32Array, at: number): void {
  const c = shapeCoefficients(shape);
  let h1 = 0, h2 = 0;
  for (const x of c) {
    h1 = step(h1, r1 >>> 16, r1 & 0xffff, x);
    h2 = step(h2, r2 >>> 16, r2 & 0xffff, x);
  }
  out[at] = h1;
  out[at + 1] = h2;
}

const one = new Int32Array(2);
/** The hash of `shape` at point `r` alone (for tests and reports). */
export function shapeHash(shape: readonly number[] | undefined, r: number): number {
  shapeHashes(shape, r, r, one, 0);
  return one[0]!;
}

/** The coefficient sequence of `shape` (see the header): what `shapeHash` evaluates, for tests. */
export function shapeCoefficients(shape: readonly number[] | undefined): number[] {
  if (shape === undefined) return [0];
  const c = [shape.length + 1];
  for (const d of shape) {
    if (d < WIDE_DIM) c.push(d);
    else c.push(WIDE_DIM + Math.floor(d / WIDE_DIM), d % WIDE_DIM);
  }
  return c;
}

/** Two independent points, uniform in [0, P), from the platform's cryptographic generator. */
export function drawHashPoints(): [number, number] {
  return [randomInt(0, P), randomInt(0, P)];
}
