/**
 * The argument checks of a group's calls, shared by the blocking and the `...Async` forms: each names the
 * argument, the value and what is allowed.
 */
import { invalidType, shapeError } from '../errors.js';
import { checkReduceOp, effectiveReduceOp, type DType, type ReduceOp } from '../tensor/dtype.js';
import { formatShape, sameShape } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';

export function checkTimeout(name: string, value: unknown): number {
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) throw invalidType(name, 'a positive, finite number of milliseconds', value);
  return value;
}

/**
 * Checks `options.op` and that the tensor's dtype allows it, before any shortcut: avg on an integer or
 * bool tensor is refused on a group of one member too, not only where the kernels run.
 */
export function reduceOpFor(t: Tensor, op: unknown): ReduceOp {
  const checked = checkReduceOp(op ?? 'sum', 'options.op');
  effectiveReduceOp(t.dtype, checked);
  return checked;
}

export function checkTensor(name: string, value: unknown): Tensor {
  if (!(value instanceof Tensor)) throw invalidType(name, 'a Tensor', value);
  return value;
}

/** `options.out` must be a tensor of exactly `dtype` and `shape` (`what` says why, in the error). */
export function checkOutShape(out: Tensor, dtype: DType, shape: readonly number[], what: string): void {
  checkTensor('options.out', out);
  if (out.dtype !== dtype || !sameShape(out.shape, shape)) {
    throw shapeError(`\`options.out\` (${out.dtype} ${formatShape(out.shape)}) must be ${dtype} ${formatShape(shape)}, ${what}`);
  }
}


/** `t`'s shape with dim `dim` multiplied by `factor` (a scalar counts as [1]). */
export function scaledShape(t: Tensor, dim: number, factor: number): number[] {
  const shape = t.ndim === 0 ? [1] : [...t.shape];
  shape[dim] = shape[dim]! * factor;
  return shape;
}

/**
 * Checks a caller's `out`: a Tensor of the input's dtype and the result's shape, not sharing the input's
 * storage unless the collective works in place (allReduce: each member reads only its own slice).
 */
export function checkOut(out: Tensor | undefined, t: Tensor, shape: readonly number[], inPlace = false): Tensor | undefined {
  if (out === undefined) return undefined;
  checkOutShape(out, t.dtype, shape, 'the result of this call');
  if (out.device !== t.device) throw invalidType('options.out', `a tensor on ${t.device} (the input's device)`, `a tensor on ${out.device}`);
  if (out.storage === t.storage && !(inPlace && out.byteOffset === t.byteOffset)) {
    throw shapeError('`options.out` must not share storage with the input (peers may still read the input while the result is written)');
  }
  return out;
}

/** Throws unless dim `dim` of `t` divides by the group size. */
export function checkDivisible(op: string, t: Tensor, dim: number, worldSize: number): void {
  const size = t.ndim === 0 ? 1 : t.shape[dim]!;
  if (size % worldSize !== 0) {
    throw shapeError(
      `${op}: dim ${dim} of the input (shape ${formatShape(t.shape)}) has size ${size}, which is not divisible by the group size ${worldSize}`,
    );
  }
}
