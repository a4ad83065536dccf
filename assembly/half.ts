/**
 * float16 and bfloat16 (stored as u16 bit patterns) <-> f32 on i32x4 lanes, and the conversion exports.
 *
 * All conversions are exact where the value fits and round to nearest even otherwise; NaN stays a quiet
 * NaN, overflow gives inf, float16 subnormals are exact both ways. They start from the usual
 * conversions: bf16 by mask/shift with `rne2` (round to nearest even on the dropped half), float16 after
 * F. Giesen. The float16 pair is reworked for fewer instructions and registers (about 25 % faster f16
 * reductions): `h2fLo`/`h2fHi` read the element where it lies in the lane, and `f2h` clamps
 * overflow with `min_u` and ors in the quiet-NaN bit instead of two selects. The tests check all 65 536
 * patterns one way and every value, tie and tie neighbour the other way against an independent reference.
 *
 * Scalar tails go through the same vector code on a splatted element and store lane 0, so a tail element
 * gets the same bits as it would in the vector body.
 *
 * A u16 pair in an i32 lane (little endian): element 2i is bits 0..15 of lane i, element 2i+1 bits
 * 16..31. The reduce loops widen both halves in place (`lo`, `hi`) and put them back with `narrow`, so
 * they need no extend/narrow instructions.
 */

/** High 16 bits of the result: f32 lane `f` rounded to bfloat16, nearest even; NaN -> quiet NaN. */
@inline export function rne2(f: v128): v128 {
  const r = i32x4.add(f, i32x4.add(i32x4.splat(0x7fff), v128.and(i32x4.shr_u(f, 16), i32x4.splat(1))));
  return v128.bitselect(v128.or(f, i32x4.splat(0x00400000)), r, f32x4.ne(f, f));
}

/** f32 lanes from float16 bits already shifted to bits 13..27 (`t = em << 13`) and the sign in bit 31. */
@inline function h2fShifted(t: v128, sign: v128): v128 {
  const scaled = f32x4.mul(t, i32x4.splat(0x77800000)); // * 2^112 rebiases normals and subnormals exactly
  const infnan = v128.and(i32x4.gt_s(t, i32x4.splat(0x0f7fe000)), i32x4.splat(0x7f800000)); // em > 0x7bff
  return v128.or(v128.or(scaled, infnan), sign);
}

/** float16 in bits 0..15 of each i32 lane (bits 16..31 ignored) -> f32 lanes. */
@inline export function h2fLo(x: v128): v128 {
  const t = v128.and(i32x4.shl(x, 13), i32x4.splat(0x0fffe000));
  return h2fShifted(t, v128.and(i32x4.shl(x, 16), i32x4.splat(0x80000000)));
}

/** float16 in bits 16..31 of each i32 lane (bits 0..15 ignored) -> f32 lanes. */
@inline export function h2fHi(x: v128): v128 {
  const t = v128.and(i32x4.shr_u(x, 3), i32x4.splat(0x0fffe000));
  return h2fShifted(t, v128.and(x, i32x4.splat(0x80000000)));
}

/**
 * f32 lanes -> float16 in bits 0..15 of each i32 lane (bits 16..31 zero). Normals round with the
 * add-and-shift of Giesen; below 2^-14 the FPU rounds (`a + 0.5` puts the f16 subnormal ulp 2^-24 at
 * the f32 ulp); overflow and inf clamp to 0x7c00 (min_u), NaN ors in the quiet bit (0x7e00).
 */
@inline export function f2h(f: v128): v128 {
  const sign = v128.and(f, i32x4.splat(0x80000000));
  const a = v128.xor(f, sign);
  const nrm = i32x4.shr_u(i32x4.add(i32x4.add(a, i32x4.splat(0xc8000fff)), v128.and(i32x4.shr_u(a, 13), i32x4.splat(1))), 13);
  const sub = i32x4.sub(f32x4.add(a, i32x4.splat(0x3f000000)), i32x4.splat(0x3f000000));
  let o = v128.bitselect(sub, nrm, i32x4.gt_s(i32x4.splat(0x38800000), a));
  o = i32x4.min_u(o, i32x4.splat(0x7c00));
  o = v128.or(o, v128.and(i32x4.gt_s(a, i32x4.splat(0x7f800000)), i32x4.splat(0x0200)));
  return v128.or(o, i32x4.shr_u(sign, 16));
}

/** bfloat16 lanes for the reduce loops (compile-time parameter, never instantiated). */
@unmanaged export class BF16 {
  /** Two v128 per input per iteration (cheap conversions, registers to spare). */
  @inline wide(): bool { return true; }
  /** Even elements as f32. */
  @inline lo(x: v128): v128 { return i32x4.shl(x, 16); }
  /** Odd elements as f32 (already in place: mask off the even ones). */
  @inline hi(x: v128): v128 { return v128.and(x, i32x4.splat(0xffff0000)); }
  /** Rounds both f32 sets and interleaves them back into u16 pairs. */
  @inline narrow(lo: v128, hi: v128): v128 {
    return v128.or(v128.and(rne2(hi), i32x4.splat(0xffff0000)), i32x4.shr_u(rne2(lo), 16));
  }
}

/** float16 lanes for the reduce loops (compile-time parameter, never instantiated). */
@unmanaged export class F16 {
  /** One v128 per input per iteration: two would spill registers. */
  @inline wide(): bool { return false; }
  @inline lo(x: v128): v128 { return h2fLo(x); }
  @inline hi(x: v128): v128 { return h2fHi(x); }
  @inline narrow(lo: v128, hi: v128): v128 { return v128.or(f2h(lo), i32x4.shl(f2h(hi), 16)); }
}

/** `dst[i] = f32(src[i])` for n float16 elements; dst must not overlap src. */
export function f16ToF32(dst: usize, src: usize, n: i32): void {
  const nb = (<usize>n) << 1;
  const body = nb & ~(<usize>15);
  let o: usize = 0;
  for (; o < body; o += 16) {
    const x = v128.load(src + o);
    const d = dst + (o << 1);
    v128.store(d, h2fLo(i32x4.extend_low_i16x8_u(x)));
    v128.store(d, h2fLo(i32x4.extend_high_i16x8_u(x)), 16);
  }
  for (; o < nb; o += 2) v128.store_lane<i32>(dst + (o << 1), h2fLo(v128.load_splat<u16>(src + o)), 0);
}

/** `dst[i] = float16(src[i])` (nearest even) for n f32 elements; dst must not overlap src. */
export function f32ToF16(dst: usize, src: usize, n: i32): void {
  const nb = (<usize>n) << 1;
  const body = nb & ~(<usize>15);
  let o: usize = 0;
  for (; o < body; o += 16) {
    const s = src + (o << 1);
    v128.store(dst + o, i16x8.narrow_i32x4_u(f2h(v128.load(s)), f2h(v128.load(s, 16))));
  }
  for (; o < nb; o += 2) v128.store_lane<u16>(dst + o, f2h(v128.load_splat<f32>(src + (o << 1))), 0);
}

/** `dst[i] = f32(src[i])` for n bfloat16 elements; dst must not overlap src. */
export function bf16ToF32(dst: usize, src: usize, n: i32): void {
  const nb = (<usize>n) << 1;
  const body = nb & ~(<usize>15);
  let o: usize = 0;
  for (; o < body; o += 16) {
    const x = v128.load(src + o);
    const d = dst + (o << 1);
    v128.store(d, i32x4.shl(i32x4.extend_low_i16x8_u(x), 16));
    v128.store(d, i32x4.shl(i32x4.extend_high_i16x8_u(x), 16), 16);
  }
  for (; o < nb; o += 2) v128.store_lane<i32>(dst + (o << 1), i32x4.shl(v128.load_splat<u16>(src + o), 16), 0);
}

/** `dst[i] = bfloat16(src[i])` (nearest even, NaN stays NaN) for n f32 elements; dst must not overlap src. */
export function f32ToBf16(dst: usize, src: usize, n: i32): void {
  const nb = (<usize>n) << 1;
  const body = nb & ~(<usize>15);
  let o: usize = 0;
  for (; o < body; o += 16) {
    const s = src + (o << 1);
    const a = i32x4.shr_u(rne2(v128.load(s)), 16);
    const b = i32x4.shr_u(rne2(v128.load(s, 16)), 16);
    v128.store(dst + o, i16x8.narrow_i32x4_u(a, b));
  }
  for (; o < nb; o += 2) v128.store_lane<u16>(dst + o, i32x4.shr_u(rne2(v128.load_splat<f32>(src + (o << 1))), 16), 0);
}
