/**
 * The kernel ABI: dtype codes, reduce-op codes and status codes.
 *
 * The numbers are binding: `src/tensor/dtype.ts` (`dtypeInfo(d).code`, `REDUCE_OP_CODES`) and
 * `src/shm/kernels.ts` (`KERNEL_STATUS`) use the same values. These are compile-time constants: they are
 * inlined where used and leave no global in the module.
 */

export const DTYPE_F32: i32 = 0;
export const DTYPE_F64: i32 = 1;
export const DTYPE_F16: i32 = 2;
export const DTYPE_BF16: i32 = 3;
export const DTYPE_I8: i32 = 4;
export const DTYPE_U8: i32 = 5;
export const DTYPE_I32: i32 = 6;
export const DTYPE_I64: i32 = 7;
export const DTYPE_BOOL: i32 = 8;
/** Interleaved (re, im) f32 pairs: sum and avg run the f32 loops over 2n parts. */
export const DTYPE_C64: i32 = 9;
/** Interleaved (re, im) f64 pairs: sum and avg run the f64 loops over 2n parts. */
export const DTYPE_C128: i32 = 10;

export const OP_SUM: i32 = 0;
export const OP_PROD: i32 = 1;
export const OP_MIN: i32 = 2;
export const OP_MAX: i32 = 3;
export const OP_AVG: i32 = 4;
export const OP_BAND: i32 = 5;
export const OP_BOR: i32 = 6;
export const OP_BXOR: i32 = 7;

/** The reduction ran. */
export const STATUS_OK: i32 = 0;
/** `dtype` is not one of the codes above. */
export const STATUS_BAD_DTYPE: i32 = 1;
/** `op` is not one of the codes above. */
export const STATUS_BAD_OP: i32 = 2;
/**
 * The op is not defined on the dtype: avg on an integer or bool dtype, band/bor/bxor on a float or
 * complex dtype, prod/min/max on a complex dtype.
 */
export const STATUS_OP_NOT_ALLOWED: i32 = 3;
/** `k` (the number of inputs) is below 1. */
export const STATUS_BAD_K: i32 = 4;
/** `n` (the element count) is negative. */
export const STATUS_BAD_N: i32 = 5;
/** `reduceStrided`: the inputs' tags differ (dst was not written). */
export const STATUS_TAG_MISMATCH: i32 = 6;
