/**
 * How a device collective along a dim maps onto the vendor's calls, which work on flat buffers: NCCL and
 * HCCL gather and scatter along dim 0 only. Along another dim, part j of a tensor is `outer` rows of
 * `block` bytes with a pitch of `rowBytes` (the dim's full row), which one 2-D copy moves (cudaMemcpy2D /
 * aclrtMemcpy2d) into or out of a contiguous staging buffer, as vLLM's movedim + contiguous does.
 */
import { numelOf } from '../tensor/shape.js';

/** Part j of W equal parts of a tensor along a dim: `outer` rows of `block` bytes, `rowBytes` apart. */
export interface Parts {
  /** Elements before the dim (rows); 1 when each part is one contiguous run. */
  readonly outer: number;
  /** Bytes of one row of one part. */
  readonly block: number;
  /** Bytes of one row of the whole tensor along the dim (the parts side by side). */
  readonly rowBytes: number;
  /** Bytes of one part (outer * block). */
  readonly partBytes: number;
}

/** The W parts of a tensor of `shape` (a scalar counts as [1]) along `dim`, `itemBytes` per element. */
export function partsOf(shape: readonly number[], dim: number, w: number, itemBytes: number): Parts {
  const s = shape.length === 0 ? [1] : shape;
  const outer = numelOf(s.slice(0, dim));
  const rowBytes = numelOf(s.slice(dim)) * itemBytes;
  const block = rowBytes / w;
  return { outer, block, rowBytes, partBytes: outer * block };
}

/** One 2-D copy: `height` rows of `width` bytes. Offsets are bytes from each buffer's start. */
export interface Copy2d {
  readonly dstOffset: number;
  readonly dpitch: number;
  readonly srcOffset: number;
  readonly spitch: number;
  readonly width: number;
  readonly height: number;
}

/** Copies that lay the parts of a tensor side by side in a staging buffer, part j at j * partBytes. */
export function packParts(p: Parts, w: number): Copy2d[] {
  return Array.from({ length: w }, (_, j) => ({
    dstOffset: j * p.partBytes, dpitch: p.block, srcOffset: j * p.block, spitch: p.rowBytes, width: p.block,
    height: p.outer,
  }));
}

/** The inverse: parts laid side by side in a staging buffer back into a tensor whose rows hold all W. */
export function unpackParts(p: Parts, w: number): Copy2d[] {
  return Array.from({ length: w }, (_, j) => ({
    dstOffset: j * p.block, dpitch: p.rowBytes, srcOffset: j * p.partBytes, spitch: p.block, width: p.block,
    height: p.outer,
  }));
}
