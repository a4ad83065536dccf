/**
 * The argument checks of a group's calls, shared by the blocking and the `...Async` forms: each names the
 * argument, the value and what is allowed.
 */
import { checkTimeoutMs, invalidType, shapeError } from '../errors.js';
import { checkReduceOp, effectiveReduceOp, type DType, type ReduceOp } from '../tensor/dtype.js';
import { formatShape, sameShape } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';

/** A deadline in ms: a positive, finite number (the error shows a wrong value's type). */
export const checkTimeout = checkTimeoutMs;

/**
 * Checks `options.op` and that the tensor's dtype allows it (`reduceOpRefusal`), before any shortcut: avg
 * on an integer tensor, a bitwise op on a float one or max on a complex one is refused on a group of one
 * member too, not only where the kernels run.
 */
export function reduceOpFor(t: Tensor, op: unknown): ReduceOp {
  const checked = checkReduceOp(op ?? 'sum', 'options.op');
  effectiveReduceOp(t.dtype, checked);
  return checked;
}

export function checkTensor(name: string, value: unknown): Tensor {
  if (!(value instanceof Tensor)) throw invalidType(name, 'a Tensor', value);
  value.storage.assertLive(name); // before the call starts: a failure mid-call would put the group out of step
  return value;
}

/** `options.out` must be a tensor of exactly `dtype` and `shape` (`what` says why, in the error). */
export function checkOutShape(out: Tensor, dtype: DType, shape: readonly number[], what: string): void {
  checkTensor('options.out', out);
  if (out.dtype !== dtype || !sameShape(out.shape, shape)) {
    throw shapeError(
      `\`options.out\` (${out.dtype} ${formatShape(out.shape)}) must be ${dtype} ${formatShape(shape)}, ${what}`,
    );
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
export function checkOut(
  out: Tensor | undefined, t: Tensor, shape: readonly number[], inPlace = false,
): Tensor | undefined {
  if (out === undefined) return undefined;
  checkOutShape(out, t.dtype, shape, 'the result of this call');
  if (out.device !== t.device) {
    throw invalidType('options.out', `a tensor on ${t.device} (the input's device)`, `a tensor on ${out.device}`);
  }
  if (out.storage === t.storage && !(inPlace && out.byteOffset === t.byteOffset)) {
    throw shapeError(
      '`options.out` must not share storage with the input (peers may still read the input while the result is ' +
        'written)',
    );
  }
  return out;
}

/**
 * `out` of an allGather: as `checkOut`, but `t` may be this member's own slot inside `out` (torch's
 * `all_gather_into_tensor(out, out[rank])`, vLLM's in-place gather), which needs every slot to be one
 * contiguous run: the dims before `dim` must all be 1.
 */
export function checkGatherOut(
  out: Tensor | undefined, t: Tensor, shape: readonly number[], dim: number, member: number,
): Tensor | undefined {
  if (out === undefined || out.storage !== t.storage) return checkOut(out, t, shape);
  checkOutShape(out, t.dtype, shape, 'the result of this call');
  const leading = shape.slice(0, dim).reduce((a, b) => a * b, 1);
  if (leading !== 1 || t.byteOffset !== out.byteOffset + member * t.byteLength) {
    throw shapeError(
      '`options.out` shares storage with the input: that is allowed only when the input is this member\'s own slot ' +
        'of `out` ' +
        `(bytes ${member * t.byteLength}..${(member + 1) * t.byteLength} of it, with every dim before \`dim\` ` +
        `of size 1)`,
    );
  }
  return out;
}

/** Throws unless dim `dim` of `t` divides by the group size. */
export function checkDivisible(op: string, t: Tensor, dim: number, worldSize: number): void {
  const size = t.ndim === 0 ? 1 : t.shape[dim]!;
  if (size % worldSize !== 0) {
    throw shapeError(
      `${op}: dim ${dim} of the input (shape ${formatShape(t.shape)}) has size ${size}, which is not divisible by ` +
        `the group size ${worldSize}`,
    );
  }
}
