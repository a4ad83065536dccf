/**
 * Fold operations on f32 and f64 lanes, one class per (type, op).
 *
 * A class is used only as a compile-time parameter of the generic loops (`changetype<Op>(0)`): it is never
 * instantiated and its methods are inlined, so every (dtype, op) gets its own loop with no branch inside.
 * `vec` folds one more input into the accumulator; `fin` runs once on the accumulator before the store
 * (avg divides by k there, a true division; the other ops leave it as is).
 *
 * min/max are the wasm `f32x4.min`/`f32x4.max`: any NaN input gives NaN, and -0 < +0 (as torch).
 * The f32 ops also serve float16 and bfloat16, which accumulate in f32.
 */

@unmanaged export class F32Sum {
  @inline vec(a: v128, b: v128): v128 { return f32x4.add(a, b); }
  @inline fin(a: v128, k: i32): v128 { return a; }
}

@unmanaged export class F32Prod {
  @inline vec(a: v128, b: v128): v128 { return f32x4.mul(a, b); }
  @inline fin(a: v128, k: i32): v128 { return a; }
}

@unmanaged export class F32Min {
  @inline vec(a: v128, b: v128): v128 { return f32x4.min(a, b); }
  @inline fin(a: v128, k: i32): v128 { return a; }
}

@unmanaged export class F32Max {
  @inline vec(a: v128, b: v128): v128 { return f32x4.max(a, b); }
  @inline fin(a: v128, k: i32): v128 { return a; }
}

@unmanaged export class F32Avg {
  @inline vec(a: v128, b: v128): v128 { return f32x4.add(a, b); }
  @inline fin(a: v128, k: i32): v128 { return f32x4.div(a, f32x4.splat(<f32>k)); }
}

@unmanaged export class F64Sum {
  @inline vec(a: v128, b: v128): v128 { return f64x2.add(a, b); }
  @inline fin(a: v128, k: i32): v128 { return a; }
}

@unmanaged export class F64Prod {
  @inline vec(a: v128, b: v128): v128 { return f64x2.mul(a, b); }
  @inline fin(a: v128, k: i32): v128 { return a; }
}

@unmanaged export class F64Min {
  @inline vec(a: v128, b: v128): v128 { return f64x2.min(a, b); }
  @inline fin(a: v128, k: i32): v128 { return a; }
}

@unmanaged export class F64Max {
  @inline vec(a: v128, b: v128): v128 { return f64x2.max(a, b); }
  @inline fin(a: v128, k: i32): v128 { return a; }
}

@unmanaged export class F64Avg {
  @inline vec(a: v128, b: v128): v128 { return f64x2.add(a, b); }
  @inline fin(a: v128, k: i32): v128 { return f64x2.div(a, f64x2.splat(<f64>k)); }
}
