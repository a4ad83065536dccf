/**
 * Plain-JS reference for every collective of a group, written independently of `src/` (only types are
 * imported from there): inputs are flat typed arrays in row-major order with a shape, one per member in
 * member order, and each function returns what every member must hold afterwards.
 *
 * Semantics mirrored (torch.distributed / vLLM GroupCoordinator):
 * - reductions fold the members' elements left to right in member order (the elementwise fold, with f32
 *   steps for float32 and an f32 accumulator rounded once for float16/bfloat16, is `referenceReduce` of
 *   `reference.ts`); a group of one member returns its input unchanged (vLLM returns `input_` as is);
 * - allGather / gather join the members' inputs along `dim`; reduceScatter gives member m the m-th of W
 *   equal parts of the reduction along `dim`; allToAll sends part j (along `scatterDim`) of member m's
 *   input to member j, which joins the parts it receives along `gatherDim` in sender order;
 * - broadcast copies the root's input; reduce gives the root the reduction (others keep their input);
 * - ring send/recv: member m receives what member m-1 sent.
 *
 * Shapes and dims count the arrays' entries: for a complex dtype (two entries per element) the caller
 * passes the element shape with a trailing 2.
 */
import type { DType, ReduceOp, StorageArray } from '../../src/tensor/dtype.js';
import { referenceReduce } from './reference.js';

/** Element counts of a shape. */
export function numelOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** A dim that may count from the end (-1 is the last), as a non-negative index; a scalar has one dim. */
export function normDim(dim: number, shape: readonly number[]): number {
  return dim < 0 ? dim + Math.max(shape.length, 1) : dim;
}

/** A new zeroed array of the same type as `like`, of `length` elements. */
function alike(like: StorageArray, length: number): StorageArray {
  const ctor = like.constructor as new (n: number) => StorageArray;
  return new ctor(length);
}

/** The sizes around `dim`: elements before it (outer), its size, and elements after it (inner). */
function split3(shape: readonly number[], dim: number): [number, number, number] {
  const s = shape.length === 0 ? [1] : shape;
  dim = normDim(dim, s);
  return [numelOf(s.slice(0, dim)), s[dim]!, numelOf(s.slice(dim + 1))];
}

/** Entries [start, start + length) of `dim` of `input` (shape `shape`), as a new flat array. */
export function narrowFlat(input: StorageArray, shape: readonly number[], dim: number, start: number, length: number): StorageArray {
  const [outer, size, inner] = split3(shape, dim);
  const out = alike(input, outer * length * inner);
  const run = length * inner;
  for (let o = 0; o < outer; o++) {
    const from = (o * size + start) * inner;
    out.set(input.subarray(from, from + run) as never, o * run);
  }
  return out;
}

/** Joins `parts` (each of shape `shape`) along `dim`. */
export function catFlat(parts: readonly StorageArray[], shape: readonly number[], dim: number): StorageArray {
  const [outer, size, inner] = split3(shape, dim);
  const run = size * inner;
  const out = alike(parts[0]!, outer * run * parts.length);
  parts.forEach((part, p) => {
    for (let o = 0; o < outer; o++) out.set(part.subarray(o * run, (o + 1) * run) as never, (o * parts.length + p) * run);
  });
  return out;
}

/** A copy of `input`. */
function copyOf(input: StorageArray): StorageArray {
  return input.slice() as StorageArray;
}

/** allReduce: the fold of every member's input (a group of one returns the input). */
export function refAllReduce(dtype: DType, op: ReduceOp, inputs: readonly StorageArray[]): StorageArray {
  if (inputs.length === 1) return copyOf(inputs[0]!);
  const perElement = dtype === 'complex64' || dtype === 'complex128' ? 2 : 1; // entries: (re, im)
  return referenceReduce(dtype, op, inputs, inputs[0]!.length / perElement);
}

/** reduce: the root gets the fold; every other member keeps its input. */
export function refReduce(dtype: DType, op: ReduceOp, inputs: readonly StorageArray[], root: number): StorageArray[] {
  const folded = refAllReduce(dtype, op, inputs);
  return inputs.map((input, m) => (m === root ? folded : copyOf(input)));
}

/** allGather (and gather on the root): the members' inputs joined along `dim` (a scalar counts as [1]). */
export function refAllGather(inputs: readonly StorageArray[], shape: readonly number[], dim: number): StorageArray {
  if (inputs.length === 1) return copyOf(inputs[0]!);
  return catFlat(inputs, shape.length === 0 ? [1] : shape, dim);
}

/** reduceScatter: member m's part m (of W along `dim`) of the fold. */
export function refReduceScatter(dtype: DType, op: ReduceOp, inputs: readonly StorageArray[], shape: readonly number[], dim: number): StorageArray[] {
  const folded = refAllReduce(dtype, op, inputs);
  const w = inputs.length;
  if (w === 1) return [folded];
  const part = shape[normDim(dim, shape)]! / w;
  return inputs.map((_, m) => narrowFlat(folded, shape, dim, m * part, part));
}

/** allToAll: member j gets part j (along `scatterDim`) of every member's input, joined along `gatherDim`. */
export function refAllToAll(inputs: readonly StorageArray[], shape: readonly number[], scatterDim: number, gatherDim: number): StorageArray[] {
  const w = inputs.length;
  if (w === 1) return [copyOf(inputs[0]!)];
  const part = shape[normDim(scatterDim, shape)]! / w;
  const partShape = [...shape];
  partShape[normDim(scatterDim, shape)] = part;
  return inputs.map((_, j) => catFlat(inputs.map((input) => narrowFlat(input, shape, scatterDim, j * part, part)), partShape, gatherDim));
}

/** broadcast: every member holds the root's input. */
export function refBroadcast(inputs: readonly StorageArray[], root: number): StorageArray[] {
  return inputs.map(() => copyOf(inputs[root]!));
}

/** Ring send/recv: member m receives member m-1's message. */
export function refRing<T>(messages: readonly T[]): T[] {
  const w = messages.length;
  return messages.map((_, m) => messages[(m - 1 + w) % w]!);
}

/** The output shape of allGather / gather of inputs of `shape` over `w` members along `dim`. */
export function gatheredShape(shape: readonly number[], w: number, dim: number): number[] {
  if (w === 1) return [...shape];
  const out = shape.length === 0 ? [1] : [...shape];
  out[normDim(dim, out)]! *= w;
  return out;
}
