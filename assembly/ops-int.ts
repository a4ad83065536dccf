/**
 * Fold operations on integer lanes, one class per (lane type, op); used like the classes of
 * `ops-float.ts` (compile-time parameters, never instantiated, all inlined).
 *
 * sum and prod wrap (two's complement), so they are the same for signed and unsigned lanes. min/max are
 * signed for int8/int32/int64 and unsigned for uint8 and bool. wasm has no `i8x16.mul` and no
 * `i64x2.min/max`: `I8Prod` multiplies the even and odd bytes in 16-bit lanes, the i64 min/max select with
 * `i64x2.gt_s`.
 *
 * The bitwise ops do not depend on the lane width: one class each serves every integer dtype and bool
 * (where and, or and xor of 0/1 bytes are the logical ones).
 */

@unmanaged export class BAnd {
  @inline vec(a: v128, b: v128): v128 { return v128.and(a, b); }
  @inline fin(a: v128, k: i32): v128 { return a; }
}

@unmanaged export class BOr {
  @inline vec(a: v128, b: v128): v128 { return v128.or(a, b); }
  @inline fin(a: v128, k: i32): v128 { return a; }
}

@unmanaged export class BXor {
  @inline vec(a: v128, b: v128): v128 { return v128.xor(a, b); }
  @inline fin(a: v128, k: i32): v128 { return a; }
}

@unmanaged export class I8Sum {
  @inline vec(a: v128, b: v128): v128 { return i8x16.add(a, b); }
  @inline fin(a: v128, k: i32): v128 { return a; }
}

@unmanaged export class I8Prod {
  /**
   * Low byte of a 16-bit product depends only on the low bytes: `i16x8.mul(a, b)` gives the even bytes.
   * `(a >> 8) * (b & 0xff00)` puts the odd bytes' product in the high byte and zero in the low byte.
   */
  @inline vec(a: v128, b: v128): v128 {
    const even = v128.and(i16x8.mul(a, b), i16x8.splat(0x00ff));
    const odd = i16x8.mul(i16x8.shr_u(a, 8), v128.and(b, i16x8.splat(<i16>0xff00)));
    return v128.or(even, odd);
  }
  @inline fin(a: v128, k: i32): v128 { return a; }
}

@unmanaged export class I8Min {
  @inline vec(a: v128, b: v128): v128 { return i8x16.min_s(a, b); }
  @inline fin(a: v128, k: i32): v128 { return a; }
}

@unmanaged export class I8Max {
  @inline vec(a: v128, b: v128): v128 { return i8x16.max_s(a, b); }
  @inline fin(a: v128, k: i32): v128 { return a; }
}

/** uint8 min, and bool min (logical and on 0/1 bytes). */
@unmanaged export class U8Min {
  @inline vec(a: v128, b: v128): v128 { return i8x16.min_u(a, b); }
  @inline fin(a: v128, k: i32): v128 { return a; }
}

/** uint8 max, and bool max (logical or on 0/1 bytes). */
@unmanaged export class U8Max {
  @inline vec(a: v128, b: v128): v128 { return i8x16.max_u(a, b); }
  @inline fin(a: v128, k: i32): v128 { return a; }
}

@unmanaged export class I32Sum {
  @inline vec(a: v128, b: v128): v128 { return i32x4.add(a, b); }
  @inline fin(a: v128, k: i32): v128 { return a; }
}

@unmanaged export class I32Prod {
  @inline vec(a: v128, b: v128): v128 { return i32x4.mul(a, b); }
  @inline fin(a: v128, k: i32): v128 { return a; }
}

@unmanaged export class I32Min {
  @inline vec(a: v128, b: v128): v128 { return i32x4.min_s(a, b); }
  @inline fin(a: v128, k: i32): v128 { return a; }
}

@unmanaged export class I32Max {
  @inline vec(a: v128, b: v128): v128 { return i32x4.max_s(a, b); }
  @inline fin(a: v128, k: i32): v128 { return a; }
}

@unmanaged export class I64Sum {
  @inline vec(a: v128, b: v128): v128 { return i64x2.add(a, b); }
  @inline fin(a: v128, k: i32): v128 { return a; }
}

@unmanaged export class I64Prod {
  @inline vec(a: v128, b: v128): v128 { return i64x2.mul(a, b); }
  @inline fin(a: v128, k: i32): v128 { return a; }
}

@unmanaged export class I64Min {
  /** Where a > b take b, else a. */
  @inline vec(a: v128, b: v128): v128 { return v128.bitselect(b, a, i64x2.gt_s(a, b)); }
  @inline fin(a: v128, k: i32): v128 { return a; }
}

@unmanaged export class I64Max {
  /** Where a > b take a, else b. */
  @inline vec(a: v128, b: v128): v128 { return v128.bitselect(a, b, i64x2.gt_s(a, b)); }
  @inline fin(a: v128, k: i32): v128 { return a; }
}
