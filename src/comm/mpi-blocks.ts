/**
 * Byte moves of the `mpi` communicator (mpi.ts) between tensors and the contiguous buffers MPI sends:
 * cutting a block out of a tensor, and placing members' blocks side by side along a dim. Plain functions of
 * shapes and bytes (runs found by the threads backend's `forEachRun`), plus avg's final division.
 */
import { forEachRun } from './threads/box.js';

/** Start of a block at `offset` along `dim` (0 along every other dim) of a tensor of `shape`. */
export function startAlong(shape: readonly number[], dim: number, offset: number): number[] {
  return shape.map((_, d) => (d === dim ? offset : 0));
}

/**
 * The block of shape `block` starting at `at` in `src` (a contiguous tensor of `shape`), contiguous into
 * `dst` from byte `base`.
 */
export function copyBlock(src: Uint8Array, shape: readonly number[], block: readonly number[],
  at: readonly number[], itemBytes: number, dst: Uint8Array, base = 0): void {
  const copy = (s: number, d: number, n: number): void => dst.set(src.subarray(s, s + n), base + d);
  forEachRun(block, shape, at, block, block.map(() => 0), itemBytes, copy);
}

/**
 * The `count` contiguous blocks of `all` (each of shape `part`, `partBytes` long) side by side along `dim`
 * into `dst` (shape `whole`): block j at j x part[dim].
 */
export function placeBlocks(all: Uint8Array, count: number, part: readonly number[], partBytes: number,
  whole: readonly number[], dim: number, itemBytes: number, dst: Uint8Array): void {
  const zeros = part.map(() => 0);
  for (let j = 0; j < count; j++) {
    const at = startAlong(whole, dim, j * part[dim]!), base = j * partBytes;
    const copy = (s: number, d: number, n: number): void => dst.set(all.subarray(base + s, base + s + n), d);
    forEachRun(part, part, zeros, whole, at, itemBytes, copy);
  }
}
