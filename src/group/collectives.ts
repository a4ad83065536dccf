/**
 * A group's tensor collectives, blocking and `...Async` (torch's `async_op=True`; point to point is in p2p.ts):
 * arguments are checked here, so that every communicator receives only well-formed calls; the call then
 * goes to the communicator of the tensor's device, after the group's queued collectives (work.ts).
 */
import { outOfRange, shapeError } from '../errors.js';
import type { ReduceOp } from '../tensor/dtype.js';
import { formatShape, normalizeDim } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { checkDivisible, checkGatherOut, checkOut, reduceOpFor, scaledShape } from './args.js';
import { GroupBase } from './group-base.js';
import type { Work } from './work.js';

export class GroupCollectives extends GroupBase {
  /** Sum (or `op`) of every member's tensor. With one member, returns `t` itself (as vLLM does). */
  allReduce(t: Tensor, options: { op?: ReduceOp; out?: Tensor; timeoutMs?: number } = {}): Tensor {
    const op = this.#allReduceArgs(t, options);
    if (this.worldSize === 1) return options.out === undefined ? t : options.out.copyFrom(t);
    return this.comm(t).allReduce(t, op, this.opts(options));
  }

  /** Every member's tensor joined along `dim` (default -1, as vLLM). */
  allGather(t: Tensor, options: { dim?: number; out?: Tensor; timeoutMs?: number } = {}): Tensor {
    const dim = this.#allGatherArgs(t, options);
    const out = options.out;
    if (this.worldSize === 1) return out === undefined || out.storage === t.storage ? out ?? t : out.copyFrom(t);
    return this.comm(t).allGather(t, dim, this.opts(options));
  }

  /** This member's slice (along `dim`, default -1) of the reduction; the dim must divide by worldSize. */
  reduceScatter(t: Tensor, options: { dim?: number; op?: ReduceOp; out?: Tensor; timeoutMs?: number } = {}): Tensor {
    const { dim, op } = this.#reduceScatterArgs(t, options);
    if (this.worldSize === 1) return options.out === undefined ? t : options.out.copyFrom(t);
    return this.comm(t).reduceScatter(t, dim, op, this.opts(options));
  }

  /** Every member's tensor joined along `dim` on member `dst`; null on the others (as vLLM's `gather`). */
  gather(t: Tensor, options: { dst?: number; dim?: number; out?: Tensor; timeoutMs?: number } = {}): Tensor | null {
    const { dst, dim } = this.#gatherArgs(t, options);
    const out = this.rankInGroup === dst ? options.out : undefined;
    if (this.worldSize === 1) return out === undefined ? t : out.copyFrom(t);
    return this.comm(t).gather(t, dst, dim, this.opts(options));
  }

  /** Member `src`'s tensor copied into every member's `t` in place; returns `t`. */
  broadcast(t: Tensor, options: { src?: number; timeoutMs?: number } = {}): Tensor {
    const src = this.#broadcastArgs(t, options);
    if (this.worldSize === 1) return t;
    return this.comm(t).broadcast(t, src, this.opts(options));
  }

  /** The reduction, on member `dst` (a new tensor); the others get `t` back. */
  reduce(t: Tensor, options: { dst?: number; op?: ReduceOp; out?: Tensor; timeoutMs?: number } = {}): Tensor {
    const { dst, op } = this.#reduceArgs(t, options);
    const out = this.rankInGroup === dst ? options.out : undefined;
    if (this.worldSize === 1) return out === undefined ? t : out.copyFrom(t);
    return this.comm(t).reduce(t, dst, op, this.opts(options));
  }

  /** Chunk j of `t` along `scatterDim` goes to member j; the chunks received are joined along `gatherDim`. */
  allToAll(
    t: Tensor, options: { scatterDim?: number; gatherDim?: number; out?: Tensor; timeoutMs?: number } = {},
  ): Tensor {
    const { scatterDim, gatherDim } = this.#allToAllArgs(t, options);
    if (this.worldSize === 1) return options.out === undefined ? t : options.out.copyFrom(t);
    return this.comm(t).allToAll(t, scatterDim, gatherDim, this.opts(options));
  }

  // Each collective's argument checks, in one place: the blocking form and its `...Async` form (which
  // checks at the call, as torch raises there) both run them; `opts` then checks the call's deadline and
  // supplies the group's default (`setTimeoutMs`).

  #allReduceArgs(t: Tensor, options: { op?: ReduceOp; out?: Tensor; timeoutMs?: number }): ReduceOp {
    this.input(t);
    const op = reduceOpFor(t, options.op);
    checkOut(options.out, t, t.shape, true);
    return op;
  }

  #allGatherArgs(t: Tensor, options: { dim?: number; out?: Tensor; timeoutMs?: number }): number {
    this.input(t);
    const dim = normalizeDim(options.dim ?? -1, t.ndim, 'options.dim');
    checkGatherOut(options.out, t, scaledShape(t, dim, this.worldSize), dim, this.rankInGroup);
    return dim;
  }

  #reduceScatterArgs(
    t: Tensor, options: { dim?: number; op?: ReduceOp; out?: Tensor; timeoutMs?: number },
  ): { dim: number; op: ReduceOp } {
    this.input(t);
    const op = reduceOpFor(t, options.op);
    const dim = normalizeDim(options.dim ?? -1, t.ndim, 'options.dim');
    checkDivisible('reduceScatter', t, dim, this.worldSize);
    checkOut(options.out, t, scaledShape(t, dim, 1 / this.worldSize));
    return { dim, op };
  }

  #gatherArgs(
    t: Tensor, options: { dst?: number; dim?: number; out?: Tensor; timeoutMs?: number },
  ): { dst: number; dim: number } {
    this.input(t);
    const dst = this.member('options.dst', options.dst ?? 0);
    const dim = normalizeDim(options.dim ?? -1, t.ndim, 'options.dim');
    if (this.rankInGroup === dst) checkOut(options.out, t, scaledShape(t, dim, this.worldSize));
    return { dst, dim };
  }

  #broadcastArgs(t: Tensor, options: { src?: number; timeoutMs?: number }): number {
    this.input(t);
    const src = this.member('options.src', options.src ?? 0);
    return src;
  }

  #reduceArgs(
    t: Tensor, options: { dst?: number; op?: ReduceOp; out?: Tensor; timeoutMs?: number },
  ): { dst: number; op: ReduceOp } {
    this.input(t);
    const dst = this.member('options.dst', options.dst ?? 0);
    const op = reduceOpFor(t, options.op);
    if (this.rankInGroup === dst) checkOut(options.out, t, t.shape);
    return { dst, op };
  }

  #allToAllArgs(
    t: Tensor, options: { scatterDim?: number; gatherDim?: number; out?: Tensor; timeoutMs?: number },
  ): { scatterDim: number; gatherDim: number } {
    this.input(t);
    const scatterDim = normalizeDim(options.scatterDim ?? 0, t.ndim, 'options.scatterDim');
    const gatherDim = normalizeDim(options.gatherDim ?? 0, t.ndim, 'options.gatherDim');
    checkDivisible('allToAll', t, scatterDim, this.worldSize);
    const shape = [...t.shape];
    if (t.ndim > 0) {
      shape[scatterDim] = shape[scatterDim]! / this.worldSize;
      shape[gatherDim] = shape[gatherDim]! * this.worldSize;
    }
    checkOut(options.out, t, shape);
    return { scatterDim, gatherDim };
  }

  barrier(options: { timeoutMs?: number } = {}): void {
    this.live();
    this.work.beforeCollective();
    if (this.worldSize > 1) this.cpuSide.barrier(this.opts(options));
  }

  /**
   * FastVideo's sequence-parallel exchange on a 4-D tensor: [B, S/W, H, D] -> [B, S, H/W, D] with
   * scatterDim 2, gatherDim 1 (the default), and back with scatterDim 1, gatherDim 2.
   */
  allToAll4D(t: Tensor, options: { scatterDim?: number; gatherDim?: number } = {}): Tensor {
    this.input(t);
    if (t.ndim !== 4) throw shapeError(`allToAll4D needs a 4-D tensor [B, S, H, D], got shape ${formatShape(t.shape)}`);
    const scatterDim = options.scatterDim ?? 2, gatherDim = options.gatherDim ?? 1;
    if (!((scatterDim === 2 && gatherDim === 1) || (scatterDim === 1 && gatherDim === 2))) {
      throw outOfRange(
        `allToAll4D supports scatterDim 2 with gatherDim 1, or scatterDim 1 with gatherDim 2; got ${scatterDim} and ` +
          `${gatherDim}`,
      );
    }
    return this.allToAll(t, { scatterDim, gatherDim });
  }

  // The `...Async` forms check their arguments now (as torch raises at the call) and run when waited on,
  // in issue order with the group's other collectives (see work.ts).
  allReduceAsync(t: Tensor, options: { op?: ReduceOp; out?: Tensor; timeoutMs?: number } = {}): Work<Tensor> {
    this.#allReduceArgs(t, options);
    this.opts(options);
    return this.work.collective(() => this.allReduce(t, options));
  }

  allGatherAsync(t: Tensor, options: { dim?: number; out?: Tensor; timeoutMs?: number } = {}): Work<Tensor> {
    this.#allGatherArgs(t, options);
    this.opts(options);
    return this.work.collective(() => this.allGather(t, options));
  }

  reduceScatterAsync(
    t: Tensor, options: { dim?: number; op?: ReduceOp; out?: Tensor; timeoutMs?: number } = {},
  ): Work<Tensor> {
    this.#reduceScatterArgs(t, options);
    this.opts(options);
    return this.work.collective(() => this.reduceScatter(t, options));
  }

  broadcastAsync(t: Tensor, options: { src?: number; timeoutMs?: number } = {}): Work<Tensor> {
    this.#broadcastArgs(t, options);
    this.opts(options);
    return this.work.collective(() => this.broadcast(t, options));
  }

  allToAllAsync(
    t: Tensor, options: { scatterDim?: number; gatherDim?: number; out?: Tensor; timeoutMs?: number } = {},
  ): Work<Tensor> {
    this.#allToAllArgs(t, options);
    this.opts(options);
    return this.work.collective(() => this.allToAll(t, options));
  }

  gatherAsync(
    t: Tensor, options: { dst?: number; dim?: number; out?: Tensor; timeoutMs?: number } = {},
  ): Work<Tensor | null> {
    this.#gatherArgs(t, options);
    this.opts(options);
    return this.work.collective(() => this.gather(t, options));
  }

  reduceAsync(
    t: Tensor, options: { dst?: number; op?: ReduceOp; out?: Tensor; timeoutMs?: number } = {},
  ): Work<Tensor> {
    this.#reduceArgs(t, options);
    this.opts(options);
    return this.work.collective(() => this.reduce(t, options));
  }

  barrierAsync(options: { timeoutMs?: number } = {}): Work<void> {
    this.live();
    this.opts(options);
    return this.work.collective(() => this.barrier(options));
  }
}
