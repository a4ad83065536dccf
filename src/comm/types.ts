/**
 * `out`, where a method takes it, receives the result (the caller checked its dtype and size, and that
 * it does not share storage with the input); a tensor in the arena is then written without copies.
 *
 * The one interface every communicator implements (threads now; nccl, hccl and tcp behind the same
 * shape). Ranks named here are ranks within the group (0..worldSize-1). Callers validate arguments
 * (GroupCoordinator does); communicators assert.
 */
import type { DType, ReduceOp } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';

export interface DeviceCommunicator {
  readonly name: string;
  readonly rankInGroup: number;
  readonly worldSize: number;
  /** Deadline of the following blocking waits, in ms (per group; the group coordinator sets it per call too). */
  timeoutMs: number;
  /** Reduction of every member's `t`; a new tensor (or `out`). */
  allReduce(t: Tensor, op: ReduceOp, out?: Tensor): Tensor;
  /** Every member's `t` joined along `dim`. */
  allGather(t: Tensor, dim: number, out?: Tensor): Tensor;
  /** This member's part (along `dim`) of the reduction of every member's `t`. */
  reduceScatter(t: Tensor, dim: number, op: ReduceOp, out?: Tensor): Tensor;
  /** Every member's `t` joined along `dim` on `dst`; null elsewhere. */
  gather(t: Tensor, dst: number, dim: number, out?: Tensor): Tensor | null;
  /** `src`'s `t` copied into every member's `t` (in place); returns `t`. */
  broadcast(t: Tensor, src: number): Tensor;
  /** The reduction on `dst` (a new tensor); other members get their `t` back unchanged. */
  reduce(t: Tensor, dst: number, op: ReduceOp, out?: Tensor): Tensor;
  /** Chunk j of `t` along `scatterDim` goes to member j; received chunks are joined along `gatherDim`. */
  allToAll(t: Tensor, scatterDim: number, gatherDim: number, out?: Tensor): Tensor;
  send(t: Tensor, dst: number): void;
  /** The oldest message from `src`, which must have `shape` and `dtype`: a new tensor (or `out`). */
  recv(shape: readonly number[], dtype: DType, src: number, out?: Tensor): Tensor;
  barrier(): void;
  destroy(): void;
}
