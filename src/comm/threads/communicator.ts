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
import type { Arena, ArenaRegion } from '../../shm/arena.js';
import type { Kernels } from '../../shm/kernels.js';
import type { OpName, RankRecord } from '../../debug/rank-status.js';
import type { TraceRecorder } from '../../debug/trace.js';
import {
  DTYPES, dtypeInfo, effectiveReduceOp, REDUCE_OP_CODES, REDUCE_OPS, type DType, type ReduceOp,
} from '../../tensor/dtype.js';
import { empty, emptyLike, Tensor } from '../../tensor/tensor.js';
import { forEachRun } from './box.js';
import { allReduceKey, callKey, COLLECTIVE_INDEX, HeaderHash, reportMismatch, type CallSpec } from './fingerprint.js';
import {
  formatGroupBlock, GroupBlock, groupBlockLayout, INLINE_BYTES, INLINE_HEADER_BYTES, INLINE_MEMBER_STRIDE, SLOT,
} from './group-block.js';
import { hashString, type JobControl } from './job-control.js';
import { Mailboxes } from './mailbox.js';
import { MAILBOX_DEPTH } from './mailbox-format.js';
import { ArenaCopier, Scratch } from './scratch.js';
import type { QueueContext } from '../../shm/queue-group.js';
import type {
  CallDescriptor, CallOptions, CommCapabilities, CpuCommunicator, GroupSpec, OutOptions, Received, RecvAnyOptions,
  RecvCallOptions, SendOptions,
} from '../types.js';
import { sliceOf } from '../slices.js';

/** What the threads backend of a rank knows about its job; the same object serves every group of the rank. */
export interface RankContext {
  readonly arena: Arena;
  readonly kernels: Kernels;
  readonly job: JobControl;
  /** Rank in the job (world). */
  readonly rank: number;
  readonly spinIterations: number;
  /** This rank's status and flight recorder (shared with the driver): its waits mark it blocked there. */
  readonly record: RankRecord;
  /** Set when the job writes a trace: long waits become slices of their own. */
  readonly trace?: TraceRecorder | undefined;
}

/** What the threads communicator accepts: every dtype and reduce op, CPU tensors, checks in the arrival. */
export const THREADS_CAPABILITIES: CommCapabilities = Object.freeze({
  devices: Object.freeze(['cpu'] as const),
  dtypes: DTYPES,
  reduceOps: REDUCE_OPS,
  checksCallsInBand: true,
  eagerSendMessages: MAILBOX_DEPTH,
  p2pTags: true,
  p2pAnySource: true,
});

const NONE = -1;
const BARRIER_KEY = callKey(COLLECTIVE_INDEX.barrier, NONE, NONE, NONE, NONE, NONE);

export class ThreadsCommunicator implements CpuCommunicator {
  readonly name = 'threads';
  readonly capabilities = THREADS_CAPABILITIES;
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
  /** The group's deadline, and the one of the call running now (a per-call option sets it until the call ends). */
  readonly #timeoutMs: number;
  readonly #checkCalls: boolean;
  /** What `reduceStrided` is told about the fingerprint headers: where they are, or 0 (not checked). */
  readonly #tagBack: number;
  /** The current call (kept for a mismatch report). */
  #spec: CallSpec | undefined;
  readonly #headerHash: HeaderHash;

  constructor(ctx: RankContext, group: GroupSpec) {
    const { ranks, occurrence, timeoutMs } = group;
    this.#ctx = ctx;
    this.#timeoutMs = timeoutMs;
    this.#checkCalls = group.checkCalls;
    this.#tagBack = this.#checkCalls ? INLINE_HEADER_BYTES : 0;
    this.#headerHash = new HeaderHash(ctx.job.hashPoints);
    this.worldSize = ranks.length;
    this.rankInGroup = ranks.indexOf(ctx.rank);
    const membersHash = hashString(ranks.join(','));
    const { totalBytes } = groupBlockLayout(ranks.length);
    const offset = ctx.job.groupBlock(`${ranks.join(',')}#${occurrence}`, () => {
      const region = ctx.arena.alloc(totalBytes, ctx.job.owner);
      formatGroupBlock(ctx.arena, region.byteOffset, ranks, membersHash);
      return region.byteOffset;
    }, timeoutMs, ctx.record);
    this.#block = new GroupBlock(
      ctx.arena, ctx.job.abortWord, offset, ranks, this.rankInGroup, membersHash, timeoutMs, ctx.spinIterations,
      ctx.record,
      ctx.trace, group.name,
    );
    this.#io = new ArenaCopier(ctx.arena, ctx.kernels);
    const wait = { timeoutMs, spinIterations: ctx.spinIterations, abort: ctx.job.abortWord };
    this.#mail = new Mailboxes(this.#block, ctx.arena, ctx.job.owner, this.#io, ctx.record, wait);
    this.#scratchIn = new Scratch(ctx.arena, ctx.job.owner);
    this.#scratchOut = new Scratch(ctx.arena, ctx.job.owner);
    this.#table = ctx.arena.alloc(4 * ranks.length, ctx.job.owner);
    const tableEnd = this.#table.byteOffset + this.#table.byteLength;
    this.#tableWords = new Uint32Array(ctx.arena.buffer(tableEnd), this.#table.byteOffset, ranks.length);
    this.queueContext = {
      arena: ctx.arena, owner: ctx.job.owner, timeoutMs, spinIterations: ctx.spinIterations, abort: ctx.job.abortWord,
      record: ctx.record,
    };
  }

  /** Where a MessageQueue over this group lives: the job's arena. */
  readonly queueContext: QueueContext;

  get recordKey(): number {
    return this.#block.byteOffset;
  }

  get calls(): number {
    return this.#seq;
  }

  /** How a call of `bytes` bytes travels (for traces). */
  algorithm(op: string, bytes: number): string {
    if (op === 'send' || op === 'recv') return 'mailbox';
    return bytes <= INLINE_BYTES ? 'inline, 1 phase' : 'direct, 2 phases';
  }

  /**
   * Runs `call` under a per-call deadline. The deadline lives in the wait options of the block and the
   * mailboxes (read by every wait of the call), so it is set for the call and always put back.
   */
  #timed<T>(timeoutMs: number, call: () => T): T {
    this.#setDeadline(timeoutMs);
    try {
      return call();
    } finally {
      this.#setDeadline(this.#timeoutMs);
    }
  }

  #setDeadline(value: number): void {
    this.#block.timeoutMs = value;
    this.#mail.timeoutMs = value;
  }

  allReduce(t: Tensor, op: ReduceOp, o?: OutOptions): Tensor {
    if (o?.timeoutMs !== undefined) return this.#timed(o.timeoutMs, () => this.#allReduce(t, op, o.out));
    return this.#allReduce(t, op, o?.out);
  }

  allGather(t: Tensor, dim: number, o?: OutOptions): Tensor {
    if (o?.timeoutMs !== undefined) return this.#timed(o.timeoutMs, () => this.#allGather(t, dim, o.out));
    return this.#allGather(t, dim, o?.out);
  }

  gather(t: Tensor, dst: number, dim: number, o?: OutOptions): Tensor | null {
    if (o?.timeoutMs !== undefined) return this.#timed(o.timeoutMs, () => this.#gather(t, dst, dim, o.out));
    return this.#gather(t, dst, dim, o?.out);
  }

  reduceScatter(t: Tensor, dim: number, op: ReduceOp, o?: OutOptions): Tensor {
    if (o?.timeoutMs !== undefined) return this.#timed(o.timeoutMs, () => this.#reduceScatter(t, dim, op, o.out));
    return this.#reduceScatter(t, dim, op, o?.out);
  }

  broadcast(t: Tensor, src: number, o?: CallOptions): Tensor {
    if (o?.timeoutMs !== undefined) return this.#timed(o.timeoutMs, () => this.#broadcast(t, src));
    return this.#broadcast(t, src);
  }

  reduce(t: Tensor, dst: number, op: ReduceOp, o?: OutOptions): Tensor {
    if (o?.timeoutMs !== undefined) return this.#timed(o.timeoutMs, () => this.#reduce(t, dst, op, o.out));
    return this.#reduce(t, dst, op, o?.out);
  }

  /**
   * The shared-memory half of the mpi backend's small reductions (inputs up to INLINE_BYTES), with one
   * arrival per member: member 0 folds every member's `t` (in member order) into its `out`, `step(out)`
   * turns that into the result in place (the step between processes), and every other member, which
   * waits for nothing but that result, copies it into its `out` (which may be `t`). Not fingerprinted in
   * band: the mpi backend agrees on its calls first.
   */
  reduceAtLeader(t: Tensor, op: ReduceOp, out: Tensor, step: (result: Tensor) => void, o?: CallOptions): void {
    if (o?.timeoutMs !== undefined) {
      return this.#timed(o.timeoutMs, () => this.#reduceAtLeader(t, op, out, step));
    }
    return this.#reduceAtLeader(t, op, out, step);
  }

  allToAll(t: Tensor, scatterDim: number, gatherDim: number, o?: OutOptions): Tensor {
    if (o?.timeoutMs !== undefined) {
      return this.#timed(o.timeoutMs, () => this.#allToAll(t, scatterDim, gatherDim, o.out));
    }
    return this.#allToAll(t, scatterDim, gatherDim, o?.out);
  }

  barrier(o?: CallOptions): void {
    if (o?.timeoutMs !== undefined) return this.#timed(o.timeoutMs, () => this.#barrier());
    return this.#barrier();
  }

  agree(call: CallDescriptor, o?: CallOptions): void {
    if (o?.timeoutMs !== undefined) return this.#timed(o.timeoutMs, () => this.#agree(call));
    return this.#agree(call);
  }

  send(t: Tensor, dst: number, o?: SendOptions): void {
    if (o?.timeoutMs !== undefined) return this.#timed(o.timeoutMs, () => this.#mail.send(t, dst, o.tag));
    return this.#mail.send(t, dst, o?.tag);
  }

  recv(shape: readonly number[], dtype: DType, src: number, o?: RecvCallOptions): Tensor {
    const run = (): Tensor => this.#mail.recv(shape, dtype, src, o?.tag, o?.out);
    return o?.timeoutMs !== undefined ? this.#timed(o.timeoutMs, run) : run();
  }

  recvAnySource(shape: readonly number[], dtype: DType, o?: RecvAnyOptions): Received {
    const run = (): Received => this.#mail.recvAny(shape, dtype, o?.tag, o?.reserved, o?.out);
    return o?.timeoutMs !== undefined ? this.#timed(o.timeoutMs, run) : run();
  }

  probe(src: number | 'any', tag?: number, reserved?: readonly number[]): boolean {
    return this.#mail.probe(src, tag, reserved);
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
        if (m !== this.rankInGroup) {
          this.#ctx.kernels.copy(this.#ptr(m, SLOT.OUT_PTR) + lo * item, mine, (hi - lo) * item);
        }
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
  #collect(
    op: 'allGather' | 'gather', t: Tensor, dim: number, receives: boolean, root?: number, given?: Tensor,
  ): Tensor | null {
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
      // In place (the input is this member's slot of out, which the caller checked): its part is there.
      const inPlace = out.storage === t.storage;
      for (let m = 0; m < this.worldSize; m++) {
        if (inPlace && m === this.rankInGroup) continue;
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
    const seq = this.#begin(
      { op: 'reduceScatter', tensor: t, dim, reduceOp: op },
      this.#key(COLLECTIVE_INDEX.reduceScatter, t.info.code, code >> 8, NONE, dim, NONE),
    );
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
    const seq = this.#begin(
      { op: 'broadcast', tensor: t, root: src },
      this.#key(COLLECTIVE_INDEX.broadcast, t.info.code, NONE, src, NONE, NONE),
    );
    const isRoot = this.rankInGroup === src;
    const inline = t.byteLength <= INLINE_BYTES;
    if (isRoot) this.#arriveAny(t, seq, 'broadcast');
    else this.#arrive(seq, 'broadcast');
    if (!isRoot) {
      this.#io.toTensor(t, 0, inline ? this.#block.inlineOffset(src, seq) : this.#ptr(src, SLOT.IN_PTR), t.byteLength);
    }
    this.#leave(t, seq, 'broadcast');
    return t;
  }

  #reduce(t: Tensor, dst: number, op: ReduceOp, given?: Tensor): Tensor {
    const code = this.#reduceCodes(t, op);
    const out = this.rankInGroup === dst ? given ?? emptyLike(t) : undefined;
    const seq = this.#begin(
      { op: 'reduce', tensor: t, root: dst, reduceOp: op },
      this.#key(COLLECTIVE_INDEX.reduce, t.info.code, code >> 8, dst, NONE, NONE),
    );
    const outAt = out === undefined ? 0 : this.#io.target(out, this.#scratchOut);
    if (t.byteLength <= INLINE_BYTES) {
      this.#arriveInline(t, seq, 'reduce', out !== undefined);
      if (out !== undefined) this.#reduceInline(seq, outAt, t.numel, code);
    } else {
      this.#arriveShared(t, seq, 'reduce', outAt);
      const item = t.itemBytes;
      const [lo, hi] = sliceOf(t.numel, item, this.worldSize, this.rankInGroup);
      if (hi > lo) {
        this.#reduceFrom(
          (m) => this.#ptr(m, SLOT.IN_PTR), lo * item, this.#ptr(dst, SLOT.OUT_PTR) + lo * item, hi - lo, code,
        );
      }
      this.#block.finish(seq, 'reduce');
    }
    if (out === undefined) return t;
    this.#io.deliver(out, outAt);
    return out;
  }

  #reduceAtLeader(t: Tensor, op: ReduceOp, out: Tensor, step: (result: Tensor) => void): void {
    if (t.byteLength > INLINE_BYTES) {
      throw new RangeError(`reduceAtLeader takes inputs of up to ${INLINE_BYTES} bytes, got ${t.byteLength}`);
    }
    const code = this.#reduceCodes(t, op);
    const seq = this.#begin({ op: 'reduce', tensor: t, root: 0, reduceOp: op }, 0);
    const block = this.#block;
    this.#io.fromTensor(block.inlineOffset(this.rankInGroup, seq), t);
    if (this.rankInGroup !== 0) {
      block.arriveOnly(seq);
      block.awaitResult(seq, 0, 'reduce');
      this.#io.toTensor(out, 0, block.inlineOffset(0, seq), out.byteLength);
      return;
    }
    // Before the arrival: from it to the publish, nothing but the step may throw (the others would wait).
    const dst = this.#io.target(out, this.#scratchOut);
    block.arrive(seq, 'reduce');
    this.#reduceInline(seq, dst, t.numel, code, 0);
    this.#io.deliver(out, dst);
    try {
      step(out);
    } catch (error) {
      block.fail(error, 'reduce', seq); // a timeout leaves the members waiting: they fail now, naming it
      throw error;
    }
    // The result goes where this member's input was (read above; nobody else reads it in this call).
    this.#io.fromTensor(block.inlineOffset(0, seq), out);
    block.check(); // a member that timed out meanwhile failed the group: this call fails here too
    block.publishResult(seq);
  }

  #allToAll(t: Tensor, scatterDim: number, gatherDim: number, given?: Tensor): Tensor {
    const chunk = [...t.shape];
    chunk[scatterDim] = t.shape[scatterDim]! / this.worldSize;
    const outShape = [...chunk];
    outShape[gatherDim]! *= this.worldSize;
    const out = given ?? empty(outShape, { dtype: t.dtype });
    const seq = this.#begin(
      { op: 'allToAll', tensor: t, dim: scatterDim, dim2: gatherDim },
      this.#key(COLLECTIVE_INDEX.allToAll, t.info.code, NONE, NONE, scatterDim, gatherDim),
    );
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

  /** A barrier whose fingerprint is `call`: members that called something else fail at once. */
  #agree(call: CallDescriptor): void {
    const op = call.op as OpName;
    const opIndex = COLLECTIVE_INDEX[op];
    if (opIndex === undefined) throw new RangeError(`agree: unknown call ${JSON.stringify(call.op)}`);
    const dtypeCode = call.dtype === undefined ? NONE : dtypeInfo(call.dtype).code;
    const reduceCode = call.reduceOp === undefined ? NONE : REDUCE_OP_CODES[call.reduceOp];
    const spec: CallSpec = {
      op, dtype: call.dtype, shape: call.shape, root: call.root, reduceOp: call.reduceOp, dim: call.dim,
      dim2: call.dim2,
    };
    const key = this.#key(opIndex, dtypeCode, reduceCode, call.root ?? NONE, call.dim ?? NONE, call.dim2 ?? NONE);
    this.#arrive(this.#begin(spec, key), op);
  }

  destroy(): void {
    this.#mail.discard();
    this.#ctx.arena.free(this.#table);
    this.#scratchIn.free();
    this.#scratchOut.free();
  }

  /**
   * The call's key (callKey) for the fingerprint, or 0 when calls are not checked (so that they pay nothing for it).
   */
  #key(opIndex: number, dtypeCode: number, reduceCode: number, root: number, dim: number, dim2: number): number {
    return this.#checkCalls ? callKey(opIndex, dtypeCode, reduceCode, root, dim, dim2) : 0;
  }

  /** Starts call `spec` (`key`: its callKey): numbers it and stores its fingerprint in its inline header. */
  #begin(spec: CallSpec, key: number): number {
    const seq = ++this.#seq;
    // The steady state (the same call again) is the `holds` test alone, kept here so that it inlines.
    const shape = spec.tensor === undefined ? spec.shape : spec.tensor.shape;
    if (this.#checkCalls && !this.#headerHash.holds(key, shape)) this.#headerHash.write(this.#block, seq, key, shape);
    this.#spec = spec;
    return seq;
  }

  /**
   * Codes of (dtype, op), packed without allocating as requested op << 8 | dtype << 4 | the op the kernel
   * runs (bool sums are max): the fingerprint takes the op asked for, the kernel `codes & 255`. An op the
   * dtype refuses (avg on integers, bitwise ops on floats, all but sum and avg on complex) throws here,
   * before the call arrives.
   */
  #reduceCodes(t: Tensor, op: ReduceOp): number {
    const requested = REDUCE_OP_CODES[op];
    const plain = op === 'sum' && t.dtype !== 'bool';
    const runs = plain ? requested : REDUCE_OP_CODES[effectiveReduceOp(t.dtype, op)];
    return (requested << 8) | (t.info.code << 4) | runs;
  }

  /** k-input reduce: sources `base(m) + offset` for every member m, in member order. */
  #reduceFrom(base: (m: number) => number, offset: number, dst: number, count: number, codes: number): void {
    for (let m = 0; m < this.worldSize; m++) this.#tableWords[m] = base(m) + offset;
    this.#ctx.kernels.reduce((codes >> 4) & 15, codes & 15, dst, this.#table.byteOffset, this.worldSize, count);
  }

  /**
   * k-input reduce of every member's inline buffer of call `seq` (the latency path). With checks on, the
   * kernel first compares the fingerprints in the buffers' 16-byte headers (on lines it reads anyway): the
   * check then costs one wasm load per member instead of a JS pass over the members. `tagBack` 0: no
   * comparison (reduceAtLeader, whose calls the mpi backend agrees on first).
   */
  #reduceInline(seq: number, dst: number, count: number, codes: number, tagBack = this.#tagBack): void {
    const kernels = this.#ctx.kernels, dtype = (codes >> 4) & 15, op = codes & 15;
    const src0 = this.#block.inlineOffset(0, seq), stride = INLINE_MEMBER_STRIDE, k = this.worldSize;
    const table = this.#table.byteOffset;
    if (kernels.reduceStrided(dtype, op, dst, table, src0, stride, k, count, tagBack)) return;
    reportMismatch(this.#block, seq, this.#ctx.job, this.#spec!); // throws unless the full fingerprints agree
    kernels.reduceStrided(dtype, op, dst, table, src0, stride, k, count, 0);
  }

  #ptr(member: number, field: number): number {
    return this.#block.words[this.#block.callArea(member, this.#seq) + field]! >>> 0;
  }

  /** Arrives at call `seq`; then compares the fingerprints, unless `#reduceInline` will (`kernelChecks`). */
  #arrive(seq: number, what: OpName, kernelChecks = false): void {
    const block = this.#block;
    block.arrive(seq, what);
    if (!kernelChecks && this.#checkCalls && !block.sameHeaders(seq)) {
      reportMismatch(block, seq, this.#ctx.job, this.#spec!);
    }
  }

  /** Latency path: copy `t` into this member's inline buffer, arrive, check fingerprints. */
  #arriveInline(t: Tensor, seq: number, what: OpName, kernelChecks = false): void {
    this.#io.fromTensor(this.#block.inlineOffset(this.rankInGroup, seq), t);
    this.#arrive(seq, what, kernelChecks);
  }

  /** Bandwidth path: publish the input (staged when not in the arena) and output offsets, arrive. */
  #arriveShared(t: Tensor, seq: number, what: OpName, outAt = 0): void {
    const area = this.#block.callArea(this.rankInGroup, seq);
    this.#block.words[area + SLOT.IN_PTR] = this.#io.stage(t, this.#scratchIn) | 0;
    this.#block.words[area + SLOT.OUT_PTR] = outAt | 0;
    this.#arrive(seq, what);
  }

  /** Either path by size; returns where member m's input can be read. */
  #arriveAny(t: Tensor, seq: number, what: OpName): (m: number) => number {
    if (t.byteLength <= INLINE_BYTES) {
      this.#arriveInline(t, seq, what);
      return (m) => this.#block.inlineOffset(m, seq);
    }
    this.#arriveShared(t, seq, what);
    return (m) => this.#ptr(m, SLOT.IN_PTR);
  }

  /** The bandwidth path's second phase: wait until no peer reads this member's buffers any more. */
  #leave(t: Tensor, seq: number, what: OpName): void {
    if (t.byteLength > INLINE_BYTES) this.#block.finish(seq, what);
  }
}
