/**
 * FastVideo's differentiable collectives (`DistributedAutograd`): each has a forward and a backward
 * that a hand-written or library autograd can call, on a group's collectives:
 * - `AllReduce`: forward all-reduce; backward all-reduce of the gradient (with the same op);
 * - `AllGather`: forward all-gather along `dim`; backward reduce-scatter along the same dim (each member
 *   gets the sum over members of its own chunk of the gradient);
 * - `AllToAll4D`: forward the [B, S, H, D] all-to-all (scatterDim 2 / gatherDim 1, or 1 / 2); backward the
 *   same with the dims swapped (its inverse);
 * - `Slice`: forward this member's chunk along `dim`; backward all-gather of the gradient (divided by the
 *   group size when `scaleGrad`).
 * `apply` runs the forward and returns the output with the matching backward, as torch's `Function.apply`
 * records it.
 */
import type { ReduceOp } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';
import { normalizeDim } from '../tensor/shape.js';
import type { GroupCoordinator } from './coordinator.js';

/** A forward's output and the backward that maps the output's gradient to the input's. */
export interface Applied {
  readonly output: Tensor;
  backward(gradOutput: Tensor): Tensor;
}

/** `t` divided by `divisor`, element by element (a float gradient; rounded to the dtype as a store rounds). */
function divided(t: Tensor, divisor: number): Tensor {
  const out = t.clone();
  for (let i = 0; i < out.numel; i++) out.setFlat(i, (out.getFlat(i) as number) / divisor);
  return out;
}

function applied(output: Tensor, backward: (grad: Tensor) => Tensor): Applied {
  return { output, backward };
}

export const DistributedAutograd = Object.freeze({
  AllReduce: Object.freeze({
    forward: (group: GroupCoordinator, input: Tensor, op: ReduceOp = 'sum'): Tensor => group.allReduce(input, { op }),
    backward: (group: GroupCoordinator, grad: Tensor, op: ReduceOp = 'sum'): Tensor => group.allReduce(grad, { op }),
    apply(group: GroupCoordinator, input: Tensor, op: ReduceOp = 'sum'): Applied {
      return applied(this.forward(group, input, op), (grad) => this.backward(group, grad, op));
    },
  }),
  AllGather: Object.freeze({
    forward: (group: GroupCoordinator, input: Tensor, dim = -1): Tensor => group.allGather(input, { dim }),
    backward: (group: GroupCoordinator, grad: Tensor, dim = -1): Tensor =>
      group.reduceScatter(grad, { dim, op: 'sum' }),
    apply(group: GroupCoordinator, input: Tensor, dim = -1): Applied {
      const d = normalizeDim(dim, input.ndim, 'dim');
      return applied(this.forward(group, input, d), (grad) => this.backward(group, grad, d));
    },
  }),
  AllToAll4D: Object.freeze({
    forward: (group: GroupCoordinator, input: Tensor, scatterDim = 2, gatherDim = 1): Tensor =>
      group.allToAll4D(input, { scatterDim, gatherDim }),
    /** The inverse exchange: the same op with the dims swapped. */
    backward: (group: GroupCoordinator, grad: Tensor, scatterDim = 2, gatherDim = 1): Tensor =>
      group.allToAll4D(grad, { scatterDim: gatherDim, gatherDim: scatterDim }),
    apply(group: GroupCoordinator, input: Tensor, scatterDim = 2, gatherDim = 1): Applied {
      return applied(
        this.forward(group, input, scatterDim, gatherDim), (grad) => this.backward(group, grad, scatterDim, gatherDim),
      );
    },
  }),
  Slice: Object.freeze({
    forward(group: GroupCoordinator, input: Tensor, dim = -1): Tensor {
      const d = normalizeDim(dim, input.ndim, 'dim');
      const size = input.shape[d]! / group.worldSize;
      return input.narrow(d, group.rankInGroup * size, size).clone();
    },
    backward(group: GroupCoordinator, grad: Tensor, dim = -1, scaleGrad = false): Tensor {
      const gathered = group.allGather(grad, { dim });
      return scaleGrad ? divided(gathered, group.worldSize) : gathered;
    },
    apply(group: GroupCoordinator, input: Tensor, dim = -1, scaleGrad = false): Applied {
      const d = normalizeDim(dim, input.ndim, 'dim');
      return applied(this.forward(group, input, d), (grad) => this.backward(group, grad, d, scaleGrad));
    },
  }),
});
