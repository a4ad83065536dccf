/**
 * Shape ops over tensors: split/chunk/cat along a dim, movedim (copying), and the divisibility helpers
 * of the seeds (vLLM/FastVideo `divide`, `ensure_divisibility`, `split_tensor_along_last_dim`).
 */
import { checkInteger, invalidType, outOfRange, shapeError } from '../errors.js';
import { formatShape, normalizeDim } from './shape.js';
import { copyBlocks, empty, Tensor } from './tensor.js';
import type { SharedMemory } from './storage.js';
import { bf16ToNumber, f16ToNumber, numberToBf16, numberToF16 } from './half.js';
import type { DType } from './dtype.js';

function checkTensor(name: string, value: unknown): Tensor {
  if (!(value instanceof Tensor)) throw invalidType(name, 'a Tensor', value);
  return value;
}

/** Throws unless `numerator` is divisible by `denominator` (seeds: `ensure_divisibility`). */
export function ensureDivisibility(numerator: number, denominator: number): void {
  checkInteger('numerator', numerator);
  checkInteger('denominator', denominator, 1);
  if (numerator % denominator !== 0) throw outOfRange(`${numerator} is not divisible by ${denominator}`);
}

/** `numerator / denominator`, which must divide exactly (seeds: `divide`). */
export function divide(numerator: number, denominator: number): number {
  ensureDivisibility(numerator, denominator);
  return numerator / denominator;
}

/**
 * torch.split: an integer gives pieces of that size along `dim` (the last may be smaller); an array gives
 * the size of each piece, which must add up to the dim's size. Pieces along dim 0 are views.
 */
export function split(t: Tensor, sizeOrSections: number | readonly number[], dim = 0): Tensor[] {
  checkTensor('tensor', t);
  const d = normalizeDim(dim, t.ndim);
  const size = t.shape[d]!;
  let sections: number[];
  if (typeof sizeOrSections === 'number') {
    checkInteger('splitSize', sizeOrSections, size === 0 ? 0 : 1);
    sections = [];
    for (let start = 0; start < size; start += sizeOrSections) sections.push(Math.min(sizeOrSections, size - start));
    if (sections.length === 0) sections.push(0);
  } else {
    if (!Array.isArray(sizeOrSections)) {
      throw invalidType('sections', 'a positive integer or an array of sizes', sizeOrSections);
    }
    sizeOrSections.forEach((s, i) => checkInteger(`sections[${i}]`, s, 0));
    const total = sizeOrSections.reduce((a, b) => a + b, 0);
    if (total !== size) {
      throw shapeError(
        `split: \`sections\` [${sizeOrSections.join(', ')}] add up to ${total}, but dim ${d} has size ${size}`,
      );
    }
    sections = [...sizeOrSections];
  }
  let start = 0;
  return sections.map((length) => {
    const piece = t.narrow(d, start, length);
    start += length;
    return piece;
  });
}

/** torch.chunk: `chunks` pieces of ceil(size / chunks) along `dim` (fewer when the size runs out). */
export function chunk(t: Tensor, chunks: number, dim = 0): Tensor[] {
  checkTensor('tensor', t);
  checkInteger('chunks', chunks, 1);
  const size = t.shape[normalizeDim(dim, t.ndim)]!;
  return split(t, Math.max(1, Math.ceil(size / chunks)), dim);
}

/**
 * Splits the last dim into `numPartitions` equal parts (Megatron's and vLLM's `split_tensor_along_last_dim`);
 * throws when the last dim is not divisible. Upstream returns `torch.split` views; tensors here are
 * contiguous only, so a piece is a view of `t` exactly when upstream's piece is contiguous (every dim
 * before the last has size 1, or one part), and a copy otherwise. With `contiguousSplitChunks` true that
 * is upstream's result (its `.contiguous()` keeps a contiguous view and copies the others); with false
 * (the default) upstream's non-contiguous pieces are strided views, where writing into a piece writes
 * into `t`: here those pieces are copies. Upstream's callers take `.contiguous()` of their piece anyway.
 */
export function splitTensorAlongLastDim(t: Tensor, numPartitions: number, contiguousSplitChunks = false): Tensor[] {
  checkTensor('tensor', t);
  checkInteger('numPartitions', numPartitions, 1);
  if (typeof contiguousSplitChunks !== 'boolean') {
    throw invalidType('contiguousSplitChunks', 'a boolean', contiguousSplitChunks);
  }
  if (t.ndim === 0) throw shapeError('splitTensorAlongLastDim needs a tensor of at least one dimension, got a scalar');
  const last = t.shape[t.ndim - 1]!;
  if (last % numPartitions !== 0) {
    throw shapeError(
      `splitTensorAlongLastDim: the last dim of shape ${formatShape(t.shape)} (${last}) cannot be split into ` +
        `${numPartitions} equal parts`,
    );
  }
  // Both settings give the same pieces: the ones upstream has contiguous are views either way.
  return split(t, last / numPartitions, -1);
}

/** torch.cat: joins tensors that agree on every dim but `dim` and on dtype. */
export function cat(
  tensors: readonly Tensor[], dim = 0, options: { arena?: SharedMemory; shared?: boolean } = {},
): Tensor {
  if (!Array.isArray(tensors) || tensors.length === 0) {
    throw invalidType('tensors', 'a non-empty array of Tensors', tensors);
  }
  tensors.forEach((t, i) => checkTensor(`tensors[${i}]`, t));
  const first = tensors[0]!;
  const d = normalizeDim(dim, first.ndim);
  tensors.forEach((t, i) => {
    if (t.dtype !== first.dtype) throw invalidType(`tensors[${i}].dtype`, `"${first.dtype}" like tensors[0]`, t.dtype);
    const agrees = t.ndim === first.ndim && t.shape.every((s: number, j: number) => j === d || s === first.shape[j]);
    if (!agrees) {
      throw shapeError(
        `cat: \`tensors[${i}]\` has shape ${formatShape(t.shape)}, which does not match ${formatShape(first.shape)} ` +
          `outside dim ${d}`,
      );
    }
  });
  const shape = [...first.shape];
  shape[d] = tensors.reduce((sum, t) => sum + t.shape[d]!, 0);
  const out = empty(shape, { dtype: first.dtype, ...options });
  let at = 0;
  for (const t of tensors) {
    copyBlocks(t, out, d, 0, at, t.shape[d]!);
    at += t.shape[d]!;
  }
  return out;
}

/** torch.movedim for one dim: a copy with dim `source` moved to position `destination`. */
export function movedim(
  t: Tensor, source: number, destination: number, options: { arena?: SharedMemory; shared?: boolean } = {},
): Tensor {
  checkTensor('tensor', t);
  const s = normalizeDim(source, t.ndim, 'source');
  const dst = normalizeDim(destination, t.ndim, 'destination');
  const perm = t.shape.map((_, i) => i).filter((i) => i !== s);
  perm.splice(dst, 0, s);
  return permute(t, perm, options);
}

/** A copy whose dim i is the input's dim `perm[i]`. */
export function permute(
  t: Tensor, perm: readonly number[], options: { arena?: SharedMemory; shared?: boolean } = {},
): Tensor {
  const shape = perm.map((p) => t.shape[p]!);
  const out = empty(shape, { dtype: t.dtype, ...options });
  const src = t.data as unknown as ArrayLike<unknown> & Record<number, unknown>;
  const dst = out.data as unknown as Record<number, unknown>;
  const srcStrides = perm.map((p) => t.strides[p]!);
  const index = new Array<number>(shape.length).fill(0);
  const parts = t.info.isComplex ? 2 : 1; // storage entries per element
  for (let flat = 0, from = 0; flat < out.numel; flat++) {
    if (parts === 1) dst[flat] = src[from];
    else {
      dst[2 * flat] = src[2 * from];
      dst[2 * flat + 1] = src[2 * from + 1];
    }
    for (let d = shape.length - 1; d >= 0; d--) {
      index[d]! += 1;
      from += srcStrides[d]!;
      if (index[d]! < shape[d]!) break;
      from -= srcStrides[d]! * shape[d]!;
      index[d] = 0;
    }
  }
  return out;
}

/**
 * Divides every element of `values` (a dtype's storage) by `k`, rounded as the kernels' avg rounds its
 * sum / k: float32 and complex64 (each part) in float32, float16 and bfloat16 in float32 then once to 16
 * bits, float64 and complex128 in float64. For backends that reduce with sum and divide afterwards.
 * @throws TypeError for a dtype without avg (integers, bool).
 */
export function divideAsAvg(dtype: DType, values: Tensor['data'], k: number): void {
  const n = values.length;
  switch (dtype) {
    // A store into a Float32Array rounds once to float32, which is float32's division of two float32s.
    case 'float32': case 'complex64': case 'float64': case 'complex128': {
      const floats = values as Float32Array | Float64Array;
      for (let i = 0; i < n; i++) floats[i] = floats[i]! / k;
      return;
    }
    case 'float16': case 'bfloat16': {
      const bits = values as Uint16Array, f32 = new Float32Array(1);
      const toNumber = dtype === 'float16' ? f16ToNumber : bf16ToNumber;
      const toBits = dtype === 'float16' ? numberToF16 : numberToBf16;
      for (let i = 0; i < n; i++) {
        f32[0] = toNumber(bits[i]!) / k;
        bits[i] = toBits(f32[0]!);
      }
      return;
    }
    default: throw new TypeError(`avg is not defined on ${dtype}`);
  }
}
