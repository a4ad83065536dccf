/**
 * multirank kernels: fused reductions, copies and 16-bit float conversions over the host's shared memory.
 *
 * Kernels only: no allocation, no strings, no mutable globals, no data segment, no start function; the
 * only import is the memory. The host owns the layout and passes byte offsets (u32) and element counts.
 * Codes and status values are in `abi.ts`; the host side is `src/shm/kernels.ts`.
 */
import { STATUS_BAD_K, STATUS_BAD_N, STATUS_TAG_MISMATCH } from './abi';
import { dispatch, PairForm, TableForm } from './dispatch';

export { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from './half';

/**
 * `dst[i] = fold_op(src_0[i], ..., src_{k-1}[i])` for i < n, left fold in input order, one pass; `src_j`
 * is the u32 byte offset at `table + 4*j`. dst may be exactly equal to any src (never a part of one) and
 * must not overlap the table, which is read for every block. Returns 0, or a status
 * of `abi.ts` (bad dtype/op, an op the dtype refuses, k < 1, n < 0) without touching memory.
 */
export function reduce(dtype: i32, op: i32, dst: usize, table: usize, k: i32, n: i32): i32 {
  if (n < 0) return STATUS_BAD_N;
  if (k < 1) return STATUS_BAD_K;
  return dispatch<TableForm>(dtype, op, dst, table, <usize>k, n);
}

/**
 * `reduce` of k inputs spaced `stride` bytes apart from `src0` (the inline buffers of a group), building
 * the input table at `table` itself. With `tagBack` > 0 every input carries a 16-byte tag
 * `tagBack` bytes before its data (the communicator's call fingerprint, in the inline buffer's header):
 * when any byte of any tag differs from the first input's, returns STATUS_TAG_MISMATCH without writing
 * dst. The tags sit on lines the reduction reads anyway, so the check costs one v128 load per input.
 */
export function reduceStrided(dtype: i32, op: i32, dst: usize, table: usize, src0: usize, stride: usize, k: i32, n: i32, tagBack: usize): i32 {
  if (k < 1) return STATUS_BAD_K;
  if (tagBack > 0) {
    const tag = v128.load(src0 - tagBack);
    for (let j = 1; j < k; j++) {
      const theirs = v128.load(src0 + <usize>j * stride - tagBack);
      if (v128.any_true(v128.xor(theirs, tag))) return STATUS_TAG_MISMATCH;
    }
  }
  for (let j = 0; j < k; j++) store<u32>(table + (<usize>j << 2), <u32>(src0 + <usize>j * stride));
  return reduce(dtype, op, dst, table, k, n);
}

/** `reduce` with k = 2 and the two inputs given directly: in place `dst op= src` is `reduce2(d, o, dst, dst, src, n)`. */
export function reduce2(dtype: i32, op: i32, dst: usize, a: usize, b: usize, n: i32): i32 {
  if (n < 0) return STATUS_BAD_N;
  return dispatch<PairForm>(dtype, op, dst, a, b, n);
}

/** `memory.copy`: nbytes from src to dst (overlap allowed). */
export function copy(dst: usize, src: usize, nbytes: usize): void {
  memory.copy(dst, src, nbytes);
}

/** `memory.fill`: nbytes at dst set to the low byte of value. */
export function fill(dst: usize, value: i32, nbytes: usize): void {
  memory.fill(dst, <u8>value, nbytes);
}
