/**
 * Contiguous runs of a box (a sub-block) moved between two row-major tensors: the data plane of
 * allGather, gather, reduceScatter and allToAll along any dim is "for each run, copy or reduce it".
 */
import { contiguousStrides } from '../../tensor/shape.js';

/** Called for each run: byte offsets relative to the source and destination tensors, and the run's bytes. */
export type RunVisitor = (srcByte: number, dstByte: number, runBytes: number) => void;

/**
 * Visits the contiguous runs of the box of shape `box` that starts at `srcStart` in a tensor of shape
 * `srcShape` and lands at `dstStart` in a tensor of shape `dstShape`. Trailing dims that the box covers
 * whole in both tensors merge into one run, so a box along dim 0 is a single run.
 */
export function forEachRun(
  box: readonly number[], srcShape: readonly number[], srcStart: readonly number[],
  dstShape: readonly number[], dstStart: readonly number[], itemBytes: number, visit: RunVisitor,
): void {
  const ndim = box.length;
  if (ndim === 0) {
    visit(0, 0, itemBytes);
    return;
  }
  for (const size of box) if (size === 0) return;
  // k: the first dim from which the box covers both tensors whole; the run spans dim k-1 and below.
  let k = ndim;
  while (k > 0 && box[k - 1] === srcShape[k - 1] && box[k - 1] === dstShape[k - 1]) k--;
  const runDim = Math.max(0, k - 1);
  const srcStrides = contiguousStrides(srcShape), dstStrides = contiguousStrides(dstShape);
  let runElems = 1;
  for (let d = runDim; d < ndim; d++) runElems *= box[d]!;
  const runBytes = runElems * itemBytes;
  let srcBase = 0, dstBase = 0;
  for (let d = 0; d < ndim; d++) {
    srcBase += srcStart[d]! * srcStrides[d]!;
    dstBase += dstStart[d]! * dstStrides[d]!;
  }
  // Odometer over dims 0..runDim-1.
  const index = new Array<number>(runDim).fill(0);
  let src = srcBase, dst = dstBase;
  for (;;) {
    visit(src * itemBytes, dst * itemBytes, runBytes);
    let d = runDim - 1;
    for (; d >= 0; d--) {
      index[d]! += 1;
      src += srcStrides[d]!;
      dst += dstStrides[d]!;
      if (index[d]! < box[d]!) break;
      src -= srcStrides[d]! * box[d]!;
      dst -= dstStrides[d]! * box[d]!;
      index[d] = 0;
    }
    if (d < 0) return;
  }
}
