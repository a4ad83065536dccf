/**
 * The threads communicator: collectives between worker-thread ranks that share one arena.
 *
 * Two paths (see group-block.ts for the phases):
 * - latency path (input <= INLINE_BYTES): each member copies its input into its inline buffer, arrives
 *   once, and then computes its own result from every member's inline buffer. One phase.
 * - bandwidth path: members publish the arena offsets of their input and output, arrive, read (and for
 *   reductions, reduce) straight from their peers' buffers with the fused k-input kernel, then finish:
 *   nobody leaves before every peer stopped touching its buffers. For allReduce, member r reduces slice r
 *   of all inputs and writes it into every member's output while it is cache-hot.
 * Every member reduces in the same order (by member index), so results are bit-identical on all members.
 */
import type { Arena, ArenaRegion } from '../shm/arena.js';
import type { Kernels } from '../shm/kernels.js';
import { dtypeInfo, effectiveReduceOp, REDUCE_OP_CODES, type DType, type ReduceOp } from '../tensor/dtype.js';
import { empty, Tensor } from '../tensor/tensor.js';
import { forEachRun } from './box.js';
import { checkFingerprints, writeFingerprint, type CallSpec } from './fingerprint.js';
import { formatGroupBlock, GroupBlock, groupBlockLayout, INLINE_BYTES, SLOT } from './group-block.js';
import { hashString, type JobControl } from './job-control.js';
import { Mailboxes } from './mailbox.js';
import type { DeviceCommunicator } from './types.js';

/** What a rank thread knows about its job; the same object serves every group of the rank. */
export interface RankContext {
  readonly arena: Arena;
  readonly kernels: Kernels;
  readonly job: JobControl;
  /** Rank in the job (world). */
  readonly rank: number;
  readonly timeoutMs: number;
  readonly spinIterations: number;
}

/** Slice [lo, hi) of `numel` elements owned by member `m` of `w`, cut at 64-byte boundaries. */
function sliceOf(numel: number, itemBytes: number, w: number, m: number): [number, number] {
  const align = Math.max(1, 64 / itemBytes);
  const per = Math.ceil(Math.ceil(numel / w) / align) * align;
  return [Math.min(numel, m * per), Math.min(numel, (m + 1) * per)];
}

export class ThreadsCommunicator implements DeviceCommunicator {
  readonly name = 'threads';
  readonly rankInGroup: number;
  readonly worldSize: number;
  readonly #ctx: RankContext;
  readonly #block: GroupBlock;
  readonly #mail: Mailboxes;
  readonly #table: ArenaRegion;
  readonly #tableWords: Uint32Array;
  #seq = 0;

  /** `ranks`: the group's world ranks in group order; `occurrence`: how many groups with the same ranks this rank made before. */
  constructor(ctx: RankContext, ranks: readonly number[], occurrence = 0) {
    this.#ctx = ctx;
    this.worldSize = ranks.length;
    this.rankInGroup = ranks.indexOf(ctx.rank);
    const key = `${ranks.join(',')}#${occurrence}`;
    const membersHash = hashString(ranks.join(','));
    const { totalBytes } = groupBlockLayout(ranks.length);
    const offset = ctx.job.groupBlock(key, () => {
      const region = ctx.arena.alloc(totalBytes);
      formatGroupBlock(ctx.arena, region.byteOffset, ranks.length, membersHash);
      return region.byteOffset;
    }, ctx.timeoutMs);
    this.#block = new GroupBlock(ctx.arena, ctx.job, offset, ranks, this.rankInGroup, membersHash, ctx.timeoutMs, ctx.spinIterations);
    this.#mail = new Mailboxes(this.#block, ctx.arena, ctx.kernels, { timeoutMs: ctx.timeoutMs, spinIterations: ctx.spinIterations, abort: ctx.job.abortWord });
    this.#table = ctx.arena.alloc(4 * ranks.length);
    this.#tableWords = new Uint32Array(ctx.arena.buffer(this.#table.byteOffset + this.#table.byteLength), this.#table.byteOffset, ranks.length);
  }

  allReduce(t: Tensor, op: ReduceOp, out?: Tensor): Tensor {
    const code = this.#reduceCodes(t.dtype, op);
    const result = this.#output(t.shape, t.dtype, out);
    const seq = this.#begin({ op: 'allReduce', dtype: t.dtype, shape: t.shape, reduceOp: op });
    if (t.byteLength <= INLINE_BYTES) {
      this.#arriveInline(t, seq, 'allReduce');
      this.#reduceFrom((m) => this.#block.inlineOffset(m, seq), 0, result.byteOffset, t.numel, code);
      return this.#deliver(result, out);
    }
    const input = this.#arriveShared(t, seq, 'allReduce', result);
    const item = dtypeInfo(t.dtype).itemBytes;
    const [lo, hi] = sliceOf(t.numel, item, this.worldSize, this.rankInGroup);
    if (hi > lo) {
      const mine = result.byteOffset + lo * item;
      this.#reduceFrom((m) => this.#ptr(m, SLOT.IN_PTR), lo * item, mine, hi - lo, code);
      for (let m = 0; m < this.worldSize; m++) {
        if (m !== this.rankInGroup) this.#ctx.kernels.copy(this.#ptr(m, SLOT.OUT_PTR) + lo * item, mine, (hi - lo) * item);
      }
    }
    this.#block.finish(seq, 'allReduce');
    this.#dropStaged(input, t);
    return this.#deliver(result, out);
  }

  allGather(t: Tensor, dim: number): Tensor {
    const shape = t.ndim === 0 ? [1] : [...t.shape];
    const outShape = [...shape];
    outShape[dim]! *= this.worldSize;
    const out = this.#output(outShape, t.dtype);
    this.#collectInto('allGather', t, shape, dim, out, outShape, true);
    return out;
  }

  gather(t: Tensor, dst: number, dim: number): Tensor | null {
    const shape = t.ndim === 0 ? [1] : [...t.shape];
    const outShape = [...shape];
    outShape[dim]! *= this.worldSize;
    const isDst = this.rankInGroup === dst;
    const out = isDst ? this.#output(outShape, t.dtype) : null;
    this.#collectInto('gather', t, shape, dim, out, outShape, isDst, dst);
    return out;
  }

  /** allGather / gather: when `copies`, pull every member's input into `out` at its place along `dim`. */
  #collectInto(op: 'allGather' | 'gather', t: Tensor, shape: number[], dim: number, out: Tensor | null, outShape: number[], copies: boolean, root?: number): void {
    const spec: CallSpec = { op, dtype: t.dtype, shape: t.shape, dim };
    if (root !== undefined) spec.root = root;
    const seq = this.#begin(spec);
    const inline = t.byteLength <= INLINE_BYTES;
    const input = inline ? this.#arriveInline(t, seq, op) : this.#arriveShared(t, seq, op);
    if (copies && out !== null) {
      const start = shape.map(() => 0);
      for (let m = 0; m < this.worldSize; m++) {
        const src = inline ? this.#block.inlineOffset(m, seq) : this.#ptr(m, SLOT.IN_PTR);
        const at = [...start];
        at[dim] = m * shape[dim]!;
        forEachRun(shape, shape, start, outShape, at, t.itemBytes, (s, d, n) => this.#ctx.kernels.copy(out.byteOffset + d, src + s, n));
      }
    }
    if (!inline) this.#block.finish(seq, op);
    this.#dropStaged(input, t);
  }

  reduceScatter(t: Tensor, dim: number, op: ReduceOp): Tensor {
    const code = this.#reduceCodes(t.dtype, op);
    const outShape = [...t.shape];
    outShape[dim] = t.shape[dim]! / this.worldSize;
    const out = this.#output(outShape, t.dtype);
    const seq = this.#begin({ op: 'reduceScatter', dtype: t.dtype, shape: t.shape, dim, reduceOp: op });
    const inline = t.byteLength <= INLINE_BYTES;
    const input = inline ? this.#arriveInline(t, seq, 'reduceScatter') : this.#arriveShared(t, seq, 'reduceScatter');
    const from = [...outShape].map(() => 0);
    from[dim] = this.rankInGroup * outShape[dim]!;
    const base = (m: number): number => (inline ? this.#block.inlineOffset(m, seq) : this.#ptr(m, SLOT.IN_PTR));
    forEachRun(outShape, t.shape, from, outShape, outShape.map(() => 0), t.itemBytes, (s, d, n) =>
      this.#reduceFrom(base, s, out.byteOffset + d, n / t.itemBytes, code),
    );
    if (!inline) this.#block.finish(seq, 'reduceScatter');
    this.#dropStaged(input, t);
    return out;
  }

  broadcast(t: Tensor, src: number): Tensor {
    const seq = this.#begin({ op: 'broadcast', dtype: t.dtype, shape: t.shape, root: src });
    const isRoot = this.rankInGroup === src;
    const inline = t.byteLength <= INLINE_BYTES;
    const input = inline ? (isRoot ? this.#arriveInline(t, seq, 'broadcast') : this.#arriveEmpty(seq, 'broadcast'))
      : isRoot ? this.#arriveShared(t, seq, 'broadcast') : this.#arriveEmpty(seq, 'broadcast');
    if (!isRoot) {
      const from = inline ? this.#block.inlineOffset(src, seq) : this.#ptr(src, SLOT.IN_PTR);
      this.#copyToTensor(t, from);
    }
    if (!inline) this.#block.finish(seq, 'broadcast');
    if (isRoot) this.#dropStaged(input, t);
    return t;
  }

  reduce(t: Tensor, dst: number, op: ReduceOp): Tensor {
    const code = this.#reduceCodes(t.dtype, op);
    const isDst = this.rankInGroup === dst;
    const out = isDst ? this.#output(t.shape, t.dtype) : undefined;
    const seq = this.#begin({ op: 'reduce', dtype: t.dtype, shape: t.shape, root: dst, reduceOp: op });
    if (t.byteLength <= INLINE_BYTES) {
      this.#arriveInline(t, seq, 'reduce');
      if (out !== undefined) this.#reduceFrom((m) => this.#block.inlineOffset(m, seq), 0, out.byteOffset, t.numel, code);
      return out ?? t;
    }
    const input = this.#arriveShared(t, seq, 'reduce', out);
    const item = t.itemBytes;
    const [lo, hi] = sliceOf(t.numel, item, this.worldSize, this.rankInGroup);
    if (hi > lo) this.#reduceFrom((m) => this.#ptr(m, SLOT.IN_PTR), lo * item, this.#ptr(dst, SLOT.OUT_PTR) + lo * item, hi - lo, code);
    this.#block.finish(seq, 'reduce');
    this.#dropStaged(input, t);
    return out ?? t;
  }

  allToAll(t: Tensor, scatterDim: number, gatherDim: number): Tensor {
    const chunk = [...t.shape];
    chunk[scatterDim] = t.shape[scatterDim]! / this.worldSize;
    const outShape = [...chunk];
    outShape[gatherDim]! *= this.worldSize;
    const out = this.#output(outShape, t.dtype);
    const seq = this.#begin({ op: 'allToAll', dtype: t.dtype, shape: t.shape, dim: scatterDim, dim2: gatherDim });
    const inline = t.byteLength <= INLINE_BYTES;
    const input = inline ? this.#arriveInline(t, seq, 'allToAll') : this.#arriveShared(t, seq, 'allToAll');
    const from = chunk.map(() => 0);
    from[scatterDim] = this.rankInGroup * chunk[scatterDim]!;
    for (let m = 0; m < this.worldSize; m++) {
      const src = inline ? this.#block.inlineOffset(m, seq) : this.#ptr(m, SLOT.IN_PTR);
      const at = chunk.map(() => 0);
      at[gatherDim] = m * chunk[gatherDim]!;
      forEachRun(chunk, t.shape, from, outShape, at, t.itemBytes, (s, d, n) => this.#ctx.kernels.copy(out.byteOffset + d, src + s, n));
    }
    if (!inline) this.#block.finish(seq, 'allToAll');
    this.#dropStaged(input, t);
    return out;
  }

  barrier(): void {
    const seq = this.#begin({ op: 'barrier' });
    this.#block.arrive(seq, 'barrier');
    checkFingerprints(this.#block, seq);
  }

  send(t: Tensor, dst: number): void {
    const input = this.#staged(t);
    this.#mail.send(input, dst);
    this.#dropStaged(input, t);
  }

  recv(shape: readonly number[], dtype: DType, src: number): Tensor {
    return this.#mail.recv(shape, dtype, src);
  }

  destroy(): void {
    this.#ctx.arena.free(this.#table);
  }

  #begin(spec: CallSpec): number {
    const seq = ++this.#seq;
    writeFingerprint(this.#block, seq, spec);
    return seq;
  }

  #reduceCodes(dtype: DType, op: ReduceOp): [number, number] {
    return [dtypeInfo(dtype).code, REDUCE_OP_CODES[effectiveReduceOp(dtype, op)]];
  }

  /** k-input reduce: sources `base(m) + offset` for every member m, in member order. */
  #reduceFrom(base: (m: number) => number, offset: number, dst: number, count: number, [dtype, op]: [number, number]): void {
    for (let m = 0; m < this.worldSize; m++) this.#tableWords[m] = base(m) + offset;
    this.#ctx.kernels.reduce(dtype, op, dst, this.#table.byteOffset, this.worldSize, count);
  }

  #ptr(member: number, field: number): number {
    return this.#block.words[this.#block.callArea(member, this.#seq) + field]! >>> 0;
  }

  /** Latency path: copy `t` into this member's inline buffer, arrive, check fingerprints. */
  #arriveInline(t: Tensor, seq: number, what: string): Tensor {
    const at = this.#block.inlineOffset(this.rankInGroup, seq);
    if (t.storage.arena === this.#ctx.arena) this.#ctx.kernels.copy(at, t.byteOffset, t.byteLength);
    else new Uint8Array(this.#ctx.arena.buffer(), at, t.byteLength).set(t.bytes());
    this.#block.arrive(seq, what);
    checkFingerprints(this.#block, seq);
    return t;
  }

  /** Bandwidth path: publish the input (staged into the arena when needed) and output offsets, arrive. */
  #arriveShared(t: Tensor, seq: number, what: string, out?: Tensor): Tensor {
    const input = this.#staged(t);
    const w = this.#block.words;
    const area = this.#block.callArea(this.rankInGroup, seq);
    w[area + SLOT.IN_PTR] = input.byteOffset | 0;
    w[area + SLOT.OUT_PTR] = out === undefined ? 0 : out.byteOffset | 0;
    this.#block.arrive(seq, what);
    checkFingerprints(this.#block, seq);
    return input;
  }

  #arriveEmpty(seq: number, what: string): undefined {
    this.#block.arrive(seq, what);
    checkFingerprints(this.#block, seq);
    return undefined;
  }

  /** `t` itself when it lives in the arena, else a copy there (peers can only read arena memory). */
  #staged(t: Tensor): Tensor {
    return t.storage.arena === this.#ctx.arena ? t : t.clone({ arena: this.#ctx.arena });
  }

  #dropStaged(input: Tensor | undefined, t: Tensor): void {
    if (input !== undefined && input !== t) input.release();
  }

  #output(shape: readonly number[], dtype: DType, out?: Tensor): Tensor {
    if (out !== undefined && out.storage.arena === this.#ctx.arena) return out;
    return empty(shape, { dtype, arena: this.#ctx.arena });
  }

  /** Copies the result into the caller's `out` when it could not be written in place. */
  #deliver(result: Tensor, out?: Tensor): Tensor {
    if (out === undefined || out === result) return result;
    out.copyFrom(result);
    result.release();
    return out;
  }

  #copyToTensor(t: Tensor, from: number): void {
    if (t.storage.arena === this.#ctx.arena) this.#ctx.kernels.copy(t.byteOffset, from, t.byteLength);
    else t.bytes().set(new Uint8Array(this.#ctx.arena.buffer(), from, t.byteLength));
  }
}
