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
 * Tensors in the arena are read and written in place (zero-copy); plain tensors go through the group's
 * reusable scratch (scratch.ts). Every member reduces in the same order (by member index), so results
 * are bit-identical on all members.
 */
import type { Arena, ArenaRegion } from '../shm/arena.js';
import type { Kernels } from '../shm/kernels.js';
import { OPS, type RankRecord } from '../debug/rank-status.js';
import { dtypeInfo, effectiveReduceOp, REDUCE_OP_CODES, type DType, type ReduceOp } from '../tensor/dtype.js';
import { empty, emptyLike, Tensor } from '../tensor/tensor.js';
import { forEachRun } from './box.js';
import { allReduceKey, callKey, COLLECTIVE_INDEX, HeaderHash, reportMismatch, type CallSpec, type CollectiveName } from './fingerprint.js';
import { numelOf } from '../tensor/shape.js';
import { nowUs, type TraceRecorder } from '../debug/trace.js';
import type { Chaos } from '../debug/chaos.js';
import { formatGroupBlock, GroupBlock, groupBlockLayout, INLINE_BYTES, INLINE_HEADER_BYTES, INLINE_MEMBER_STRIDE, SLOT } from './group-block.js';
import { hashString, type JobControl } from './job-control.js';
import { Mailboxes } from './mailbox.js';
import { ArenaCopier, Scratch } from './scratch.js';
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
  /** This rank's status and flight recorder (shared with the driver). */
  readonly record: RankRecord;
  /** Set when the job runs in chaos mode. */
  readonly chaos?: Chaos | undefined;
  /** Set when the job writes a trace. */
  readonly trace?: TraceRecorder | undefined;
  /** Fingerprint checks (default on; off only to measure what they cost: MULTIRANK_CHECK_CALLS=0). */
  readonly checkCalls?: boolean | undefined;
  /** The name of the group a communicator serves (tp, dp, ...), for messages and reports. */
  readonly groupName?: string | undefined;
}

const NONE = -1;
const OP_SEND = OPS.indexOf('send'), OP_RECV = OPS.indexOf('recv');
const BARRIER_KEY = callKey(COLLECTIVE_INDEX.barrier, NONE, NONE, NONE, NONE, NONE);

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
  readonly #io: ArenaCopier;
  readonly #scratchIn: Scratch;
  readonly #scratchOut: Scratch;
  readonly #table: ArenaRegion;
  readonly #tableWords: Uint32Array;
  #seq = 0;
  readonly #trace: TraceRecorder | undefined;
  readonly #checkCalls: boolean;
  /** What `reduceStrided` is told about the fingerprint tags: where they are, or 0 (not checked). */
  readonly #tagBack: number;
  /** The current call (kept for a mismatch report). */
  #spec: CallSpec | undefined;
  readonly #headerHash = new HeaderHash();

  /** `ranks`: the group's world ranks in group order; `occurrence`: how many groups with the same ranks this rank made before. */
  constructor(ctx: RankContext, ranks: readonly number[], occurrence = 0) {
    this.#ctx = ctx;
    this.#trace = ctx.trace;
    this.#checkCalls = ctx.checkCalls !== false;
    this.#tagBack = this.#checkCalls ? INLINE_HEADER_BYTES : 0;
    this.worldSize = ranks.length;
    this.rankInGroup = ranks.indexOf(ctx.rank);
    const membersHash = hashString(ranks.join(','));
    const { totalBytes } = groupBlockLayout(ranks.length);
    const offset = ctx.job.groupBlock(`${ranks.join(',')}#${occurrence}`, () => {
      const region = ctx.arena.alloc(totalBytes, ctx.job.owner);
      formatGroupBlock(ctx.arena, region.byteOffset, ranks, membersHash);
      return region.byteOffset;
    }, ctx.timeoutMs, ctx.record);
    this.#block = new GroupBlock(ctx.arena, ctx.job, offset, ranks, this.rankInGroup, membersHash, ctx.timeoutMs, ctx.spinIterations, ctx.record, ctx.trace, ctx.groupName);
    this.#io = new ArenaCopier(ctx.arena, ctx.kernels);
    this.#mail = new Mailboxes(this.#block, ctx.arena, ctx.job.owner, this.#io, ctx.record, { timeoutMs: ctx.timeoutMs, spinIterations: ctx.spinIterations, abort: ctx.job.abortWord });
    this.#scratchIn = new Scratch(ctx.arena, ctx.job.owner);
    this.#scratchOut = new Scratch(ctx.arena, ctx.job.owner);
    this.#table = ctx.arena.alloc(4 * ranks.length, ctx.job.owner);
    this.#tableWords = new Uint32Array(ctx.arena.buffer(this.#table.byteOffset + this.#table.byteLength), this.#table.byteOffset, ranks.length);
  }

  get timeoutMs(): number {
    return this.#block.timeoutMs;
  }

  set timeoutMs(value: number) {
    this.#block.timeoutMs = value;
    this.#mail.timeoutMs = value;
  }

  allReduce(t: Tensor, op: ReduceOp, out?: Tensor): Tensor {
    return this.#trace === undefined ? this.#allReduce(t, op, out) : this.#traced('allReduce', t.byteLength, () => this.#allReduce(t, op, out));
  }

  allGather(t: Tensor, dim: number, out?: Tensor): Tensor {
    return this.#trace === undefined ? this.#allGather(t, dim, out) : this.#traced('allGather', t.byteLength, () => this.#allGather(t, dim, out));
  }

  gather(t: Tensor, dst: number, dim: number, out?: Tensor): Tensor | null {
    return this.#trace === undefined ? this.#gather(t, dst, dim, out) : this.#traced('gather', t.byteLength, () => this.#gather(t, dst, dim, out));
  }

  reduceScatter(t: Tensor, dim: number, op: ReduceOp, out?: Tensor): Tensor {
    return this.#trace === undefined ? this.#reduceScatter(t, dim, op, out) : this.#traced('reduceScatter', t.byteLength, () => this.#reduceScatter(t, dim, op, out));
  }

  broadcast(t: Tensor, src: number): Tensor {
    return this.#trace === undefined ? this.#broadcast(t, src) : this.#traced('broadcast', t.byteLength, () => this.#broadcast(t, src));
  }

  reduce(t: Tensor, dst: number, op: ReduceOp, out?: Tensor): Tensor {
    return this.#trace === undefined ? this.#reduce(t, dst, op, out) : this.#traced('reduce', t.byteLength, () => this.#reduce(t, dst, op, out));
  }

  allToAll(t: Tensor, scatterDim: number, gatherDim: number, out?: Tensor): Tensor {
    return this.#trace === undefined ? this.#allToAll(t, scatterDim, gatherDim, out) : this.#traced('allToAll', t.byteLength, () => this.#allToAll(t, scatterDim, gatherDim, out));
  }

  barrier(): void {
    return this.#trace === undefined ? this.#barrier() : this.#traced('barrier', 0, () => this.#barrier());
  }

  send(t: Tensor, dst: number): void {
    return this.#trace === undefined ? this.#send(t, dst) : this.#traced('send', t.byteLength, () => this.#send(t, dst));
  }

  recv(shape: readonly number[], dtype: DType, src: number, out?: Tensor): Tensor {
    return this.#trace === undefined ? this.#recv(shape, dtype, src, out) : this.#traced('recv', 0, () => this.#recv(shape, dtype, src, out));
  }

  #allReduce(t: Tensor, op: ReduceOp, out?: Tensor): Tensor {
    const code = this.#reduceCodes(t, op);
    const result = out ?? emptyLike(t);
    const seq = this.#begin({ op: 'allReduce', tensor: t, reduceOp: op }, this.#checkCalls ? allReduceKey(code) : 0);
    if (t.byteLength <= INLINE_BYTES) {
      this.#arriveInline(t, seq, 'allReduce', true);
      const dst = this.#io.target(result, this.#scratchOut);
      this.#reduceInline(seq, dst, t.numel, code);
      this.#io.deliver(result, dst);
      return result;
    }
    const outAt = this.#io.target(result, this.#scratchOut);
    this.#arriveShared(t, seq, 'allReduce', outAt);
    const item = t.itemBytes;
    const [lo, hi] = sliceOf(t.numel, item, this.worldSize, this.rankInGroup);
    if (hi > lo) {
      const mine = outAt + lo * item;
      this.#reduceFrom((m) => this.#ptr(m, SLOT.IN_PTR), lo * item, mine, hi - lo, code);
      for (let m = 0; m < this.worldSize; m++) {
        if (m !== this.rankInGroup) this.#ctx.kernels.copy(this.#ptr(m, SLOT.OUT_PTR) + lo * item, mine, (hi - lo) * item);
      }
    }
    this.#block.finish(seq, 'allReduce');
    this.#io.deliver(result, outAt);
    return result;
  }

  #allGather(t: Tensor, dim: number, out?: Tensor): Tensor {
    return this.#collect('allGather', t, dim, true, undefined, out)!;
  }

  #gather(t: Tensor, dst: number, dim: number, out?: Tensor): Tensor | null {
    return this.#collect('gather', t, dim, this.rankInGroup === dst, dst, out);
  }

  /** allGather / gather: when `receives`, pull every member's input into the result at its place along `dim`. */
  #collect(op: 'allGather' | 'gather', t: Tensor, dim: number, receives: boolean, root?: number, given?: Tensor): Tensor | null {
    const shape = t.ndim === 0 ? [1] : [...t.shape];
    const outShape = [...shape];
    outShape[dim]! *= this.worldSize;
    const out = receives ? given ?? empty(outShape, { dtype: t.dtype }) : null;
    const spec: CallSpec = { op, tensor: t, dim };
    if (root !== undefined) spec.root = root;
    const seq = this.#begin(spec, this.#key(COLLECTIVE_INDEX[op], t.info.code, NONE, root ?? NONE, dim, NONE));
    const source = this.#arriveAny(t, seq, op);
    if (out !== null) {
      const start = shape.map(() => 0);
      for (let m = 0; m < this.worldSize; m++) {
        const at = [...start];
        at[dim] = m * shape[dim]!;
        const from = source(m);
        forEachRun(shape, shape, start, outShape, at, t.itemBytes, (s, d, n) => this.#io.toTensor(out, d, from + s, n));
      }
    }
    this.#leave(t, seq, op);
    return out;
  }

  #reduceScatter(t: Tensor, dim: number, op: ReduceOp, given?: Tensor): Tensor {
    const code = this.#reduceCodes(t, op);
    const outShape = [...t.shape];
    outShape[dim] = t.shape[dim]! / this.worldSize;
    const out = given ?? empty(outShape, { dtype: t.dtype });
    const seq = this.#begin({ op: 'reduceScatter', tensor: t, dim, reduceOp: op }, this.#key(COLLECTIVE_INDEX.reduceScatter, t.info.code, code >> 8, NONE, dim, NONE));
    const source = this.#arriveAny(t, seq, 'reduceScatter');
    const from = outShape.map(() => 0);
    from[dim] = this.rankInGroup * outShape[dim]!;
    const dst = this.#io.target(out, this.#scratchOut);
    forEachRun(outShape, t.shape, from, outShape, outShape.map(() => 0), t.itemBytes, (s, d, n) =>
      this.#reduceFrom(source, s, dst + d, n / t.itemBytes, code),
    );
    this.#leave(t, seq, 'reduceScatter');
    this.#io.deliver(out, dst);
    return out;
  }

  #broadcast(t: Tensor, src: number): Tensor {
    const seq = this.#begin({ op: 'broadcast', tensor: t, root: src }, this.#key(COLLECTIVE_INDEX.broadcast, t.info.code, NONE, src, NONE, NONE));
    const isRoot = this.rankInGroup === src;
    const inline = t.byteLength <= INLINE_BYTES;
    if (isRoot) this.#arriveAny(t, seq, 'broadcast');
    else this.#arrive(seq, 'broadcast');
    if (!isRoot) this.#io.toTensor(t, 0, inline ? this.#block.inlineOffset(src, seq) : this.#ptr(src, SLOT.IN_PTR), t.byteLength);
    this.#leave(t, seq, 'broadcast');
    return t;
  }

  #reduce(t: Tensor, dst: number, op: ReduceOp, given?: Tensor): Tensor {
    const code = this.#reduceCodes(t, op);
    const out = this.rankInGroup === dst ? given ?? emptyLike(t) : undefined;
    const seq = this.#begin({ op: 'reduce', tensor: t, root: dst, reduceOp: op }, this.#key(COLLECTIVE_INDEX.reduce, t.info.code, code >> 8, dst, NONE, NONE));
    const outAt = out === undefined ? 0 : this.#io.target(out, this.#scratchOut);
    if (t.byteLength <= INLINE_BYTES) {
      this.#arriveInline(t, seq, 'reduce', out !== undefined);
      if (out !== undefined) this.#reduceInline(seq, outAt, t.numel, code);
    } else {
      this.#arriveShared(t, seq, 'reduce', outAt);
      const item = t.itemBytes;
      const [lo, hi] = sliceOf(t.numel, item, this.worldSize, this.rankInGroup);
      if (hi > lo) this.#reduceFrom((m) => this.#ptr(m, SLOT.IN_PTR), lo * item, this.#ptr(dst, SLOT.OUT_PTR) + lo * item, hi - lo, code);
      this.#block.finish(seq, 'reduce');
    }
    if (out === undefined) return t;
    this.#io.deliver(out, outAt);
    return out;
  }

  #allToAll(t: Tensor, scatterDim: number, gatherDim: number, given?: Tensor): Tensor {
    const chunk = [...t.shape];
    chunk[scatterDim] = t.shape[scatterDim]! / this.worldSize;
    const outShape = [...chunk];
    outShape[gatherDim]! *= this.worldSize;
    const out = given ?? empty(outShape, { dtype: t.dtype });
    const seq = this.#begin({ op: 'allToAll', tensor: t, dim: scatterDim, dim2: gatherDim }, this.#key(COLLECTIVE_INDEX.allToAll, t.info.code, NONE, NONE, scatterDim, gatherDim));
    const source = this.#arriveAny(t, seq, 'allToAll');
    const from = chunk.map(() => 0);
    from[scatterDim] = this.rankInGroup * chunk[scatterDim]!;
    for (let m = 0; m < this.worldSize; m++) {
      const at = chunk.map(() => 0);
      at[gatherDim] = m * chunk[gatherDim]!;
      const base = source(m);
      forEachRun(chunk, t.shape, from, outShape, at, t.itemBytes, (s, d, n) => this.#io.toTensor(out, d, base + s, n));
    }
    this.#leave(t, seq, 'allToAll');
    return out;
  }

  #barrier(): void {
    this.#arrive(this.#begin({ op: 'barrier' }, BARRIER_KEY), 'barrier');
  }

  #send(t: Tensor, dst: number): void {
    this.#ctx.chaos?.beforeCollective('send');
    this.#ctx.record.recordStart(0, OP_SEND, this.#block.byteOffset, t.info.code, t.numel);
    this.#mail.send(t, dst);
  }

  #recv(shape: readonly number[], dtype: DType, src: number, out?: Tensor): Tensor {
    this.#ctx.record.recordStart(0, OP_RECV, this.#block.byteOffset, dtypeInfo(dtype).code, numelOf(shape));
    return this.#mail.recv(shape, dtype, src, out);
  }

  destroy(): void {
    this.#ctx.arena.free(this.#table);
    this.#scratchIn.free();
    this.#scratchOut.free();
  }

  /** The call's key (callKey) for the fingerprint, or 0 when calls are not checked (so that they pay nothing for it). */
  #key(opIndex: number, dtypeCode: number, reduceCode: number, root: number, dim: number, dim2: number): number {
    return this.#checkCalls ? callKey(opIndex, dtypeCode, reduceCode, root, dim, dim2) : 0;
  }

  /** Starts call `spec` (`key`: its callKey): numbers it, stores its fingerprint hash, records it. */
  #begin(spec: CallSpec, key: number): number {
    this.#ctx.chaos?.beforeCollective(spec.op);
    const seq = ++this.#seq;
    const opIndex = COLLECTIVE_INDEX[spec.op];
    // The steady state (the same call again) is the `holds` test alone, kept here so that it inlines.
    const t = spec.tensor;
    const shape = t?.shape;
    if (this.#checkCalls && !this.#headerHash.holds(key, shape)) this.#headerHash.write(this.#block, seq, key, shape);
    this.#spec = spec;
    this.#ctx.record.recordStart(seq, opIndex, this.#block.byteOffset, t === undefined ? -1 : t.info.code, t === undefined ? 0 : t.numel);
    return seq;
  }

  /** Runs `call` and records it as a trace slice (only when this rank traces). */
  #traced<T>(name: string, bytes: number, call: () => T): T {
    const start = nowUs();
    const value = call();
    this.#trace!.add(name, 'collective', start, {
      bytes, group: this.#block.ranks, algorithm: name === 'send' || name === 'recv' ? 'mailbox' : bytes <= INLINE_BYTES ? 'inline, 1 phase' : 'direct, 2 phases',
    });
    return value;
  }

  /**
   * Codes of (dtype, op), packed without allocating as requested op << 8 | dtype << 4 | the op the kernel
   * runs (bool sums are max): the fingerprint takes the op asked for, the kernel `codes & 255`.
   */
  #reduceCodes(t: Tensor, op: ReduceOp): number {
    const requested = REDUCE_OP_CODES[op];
    const runs = op === 'avg' || t.dtype === 'bool' ? REDUCE_OP_CODES[effectiveReduceOp(t.dtype, op)] : requested;
    return (requested << 8) | (t.info.code << 4) | runs;
  }

  /** k-input reduce: sources `base(m) + offset` for every member m, in member order. */
  #reduceFrom(base: (m: number) => number, offset: number, dst: number, count: number, codes: number): void {
    for (let m = 0; m < this.worldSize; m++) this.#tableWords[m] = base(m) + offset;
    this.#ctx.kernels.reduce((codes >> 4) & 15, codes & 15, dst, this.#table.byteOffset, this.worldSize, count);
  }

  /**
   * k-input reduce of every member's inline buffer of call `seq` (the latency path). With checks on, the
   * kernel first compares the fingerprint hashes in the buffers' headers (on lines it reads anyway): the
   * check then costs a few wasm loads instead of a JS pass over the members.
   */
  #reduceInline(seq: number, dst: number, count: number, codes: number): void {
    const kernels = this.#ctx.kernels, dtype = (codes >> 4) & 15, op = codes & 15;
    const src0 = this.#block.inlineOffset(0, seq), stride = INLINE_MEMBER_STRIDE, k = this.worldSize;
    if (kernels.reduceStrided(dtype, op, dst, this.#table.byteOffset, src0, stride, k, count, this.#tagBack)) return;
    reportMismatch(this.#block, seq, this.#ctx.job, this.#spec!); // throws unless the full fingerprints agree
    kernels.reduceStrided(dtype, op, dst, this.#table.byteOffset, src0, stride, k, count, 0);
  }

  #ptr(member: number, field: number): number {
    return this.#block.words[this.#block.callArea(member, this.#seq) + field]! >>> 0;
  }

  /** Arrives at call `seq`; then compares the fingerprint hashes, unless `#reduceInline` will (`kernelChecks`). */
  #arrive(seq: number, what: CollectiveName, kernelChecks = false): void {
    const block = this.#block;
    block.arrive(seq, what);
    if (!kernelChecks && this.#checkCalls && !block.sameHashes(seq)) reportMismatch(block, seq, this.#ctx.job, this.#spec!);
  }

  /** Latency path: copy `t` into this member's inline buffer, arrive, check fingerprints. */
  #arriveInline(t: Tensor, seq: number, what: CollectiveName, kernelChecks = false): void {
    this.#io.fromTensor(this.#block.inlineOffset(this.rankInGroup, seq), t);
    this.#arrive(seq, what, kernelChecks);
  }

  /** Bandwidth path: publish the input (staged when not in the arena) and output offsets, arrive. */
  #arriveShared(t: Tensor, seq: number, what: CollectiveName, outAt = 0): void {
    const area = this.#block.callArea(this.rankInGroup, seq);
    this.#block.words[area + SLOT.IN_PTR] = this.#io.stage(t, this.#scratchIn) | 0;
    this.#block.words[area + SLOT.OUT_PTR] = outAt | 0;
    this.#arrive(seq, what);
  }

  /** Either path by size; returns where member m's input can be read. */
  #arriveAny(t: Tensor, seq: number, what: CollectiveName): (m: number) => number {
    if (t.byteLength <= INLINE_BYTES) {
      this.#arriveInline(t, seq, what);
      return (m) => this.#block.inlineOffset(m, seq);
    }
    this.#arriveShared(t, seq, what);
    return (m) => this.#ptr(m, SLOT.IN_PTR);
  }

  /** The bandwidth path's second phase: wait until no peer reads this member's buffers any more. */
  #leave(t: Tensor, seq: number, what: CollectiveName): void {
    if (t.byteLength > INLINE_BYTES) this.#block.finish(seq, what);
  }
}
