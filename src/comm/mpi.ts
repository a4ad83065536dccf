/**
 * The `mpi` communicator: collectives on CPU tensors for a group whose members live in different
 * processes, over MPI (the native binding, src/native/mpi.ts). This version serves groups with one member
 * per process, which call MPI directly; the bytes travel by MPI, every reduction is folded by the kernels
 * in member order (mpi-process-ops.ts), so each member gets bit-identical results, equal to a one-process
 * run of the same group.
 *
 * Calls are not fingerprinted in band: the checks wrapper agrees on each one first (`agree`, one small
 * allGather of every member's call). `send` is eager: MPI sends a private copy of the message, and up to
 * EAGER_SENDS may be unread per peer before a sender waits (as the threads backend's mailboxes).
 */
import { ErrorCodes, MismatchError, MultirankError } from '../errors.js';
import { MPI_TAG_LIMIT, MPI_WORLD } from '../native/mpi.js';
import { DTYPES, dtypeFromCode, dtypeInfo, effectiveReduceOp, REDUCE_OP_CODES, REDUCE_OPS, type DType, type ReduceOp } from '../tensor/dtype.js';
import { empty, emptyLike, type Tensor } from '../tensor/tensor.js';
import { ProcessOps, type ProcessOpsContext } from './mpi-process-ops.js';
import { hashString } from './threads/job-control.js';
import { forEachRun } from './threads/box.js';
import type { CallDescriptor, CallOptions, CommCapabilities, DeviceCommunicator, GroupSpec, OutOptions } from './types.js';

/** What the mpi backend of a rank knows: the cross-process context, this rank, and where every rank lives. */
export interface MpiContext extends ProcessOpsContext {
  /** Rank in the job (world). */
  readonly rank: number;
  /** The process (MPI world rank) that runs world rank `rank`. */
  processOf(rank: number): number;
}


/** Tag of point-to-point messages (each group has a communicator of its own, so one tag serves). */
const P2P_TAG = 1;
/** A message's header: magic, dtype code, ndim, dims. */
const HEADER_WORDS = 16;
const HEADER_BYTES = 4 * HEADER_WORDS;
/** Sends to one peer that may be unread before `send` waits (as the threads backend's mailboxes). */
const EAGER_SENDS = 10;
const HEADER_MAGIC = 0x4d504931;
const NDIM_MAX = HEADER_WORDS - 3;
/** Bytes of a call description in `agree` (longer descriptions are cut; they still compare by hash). */
const AGREE_BYTES = 256;

export const MPI_CAPABILITIES: CommCapabilities = Object.freeze({
  devices: Object.freeze(['cpu'] as const),
  dtypes: DTYPES,
  reduceOps: REDUCE_OPS,
  checksCallsInBand: false,
  eagerSendMessages: EAGER_SENDS,
});

export class MpiCommunicator implements DeviceCommunicator {
  readonly name = 'mpi';
  readonly capabilities = MPI_CAPABILITIES;
  readonly rankInGroup: number;
  readonly worldSize: number;
  readonly recordKey: number;
  readonly #group: GroupSpec;
  readonly #ops: ProcessOps;
  #calls = 0;

  constructor(ctx: MpiContext, group: GroupSpec) {
    const { ranks, occurrence, timeoutMs } = group;
    this.#group = group;
    this.worldSize = ranks.length;
    this.rankInGroup = ranks.indexOf(ctx.rank);
    const processes = ranks.map((r) => ctx.processOf(r));
    if (new Set(processes).size !== processes.length) {
      throw new MultirankError(ErrorCodes.BACKEND_UNAVAILABLE, `The "mpi" backend serves groups with one member per ` +
        `process; group ${group.name} [${ranks.join(', ')}] has several in one process (processes [${processes.join(', ')}])`);
    }
    const key = `${ranks.join(',')}#${occurrence}`;
    this.recordKey = hashString(key) >>> 0;
    const tag = (this.recordKey % (MPI_TAG_LIMIT - 1)) + 1;
    const handle = ctx.binding.commCreate(MPI_WORLD, Int32Array.from(processes), tag, timeoutMs);
    if (handle < 0) {
      const e = ctx.binding.lastError();
      throw new MultirankError(ErrorCodes.MPI, `Creating group ${group.name} [${ranks.join(', ')}] over MPI failed: ${e.text}`);
    }
    this.#ops = new ProcessOps(ctx, handle, (call) => this.#where(call));
  }

  get calls(): number {
    return this.#calls;
  }

  #where(call: string): string {
    const { name, ranks } = this.#group;
    const others = ranks.filter((_, i) => i !== this.rankInGroup);
    return `${call} on group ${name} [${ranks.join(', ')}] (rank ${ranks[this.rankInGroup]}), waiting for ranks [${others.join(', ')}] in other processes`;
  }

  #ms(o: CallOptions | undefined): number {
    return o?.timeoutMs ?? this.#group.timeoutMs;
  }

  allReduce(t: Tensor, op: ReduceOp, o?: OutOptions): Tensor {
    this.#calls++;
    const out = o?.out ?? emptyLike(t);
    this.#reduceInto(t, out, op, this.#ms(o), 'allReduce');
    return out;
  }

  #reduceInto(t: Tensor, out: Tensor, op: ReduceOp, timeoutMs: number, call: string): void {
    const info = dtypeInfo(t.dtype);
    const opCode = REDUCE_OP_CODES[effectiveReduceOp(t.dtype, op)];
    this.#ops.allReduce(t.bytes(), out.bytes(), t.numel, t.itemBytes, info.code, opCode, timeoutMs, call);
  }

  reduce(t: Tensor, dst: number, op: ReduceOp, o?: OutOptions): Tensor {
    this.#calls++;
    const mine = this.rankInGroup === dst;
    const out = mine ? o?.out ?? emptyLike(t) : emptyLike(t);
    this.#reduceInto(t, out, op, this.#ms(o), 'reduce');
    return mine ? out : t;
  }

  reduceScatter(t: Tensor, dim: number, op: ReduceOp, o?: OutOptions): Tensor {
    this.#calls++;
    const whole = emptyLike(t);
    this.#reduceInto(t, whole, op, this.#ms(o), 'reduceScatter');
    const part = [...t.shape];
    part[dim] = t.shape[dim]! / this.worldSize;
    const out = o?.out ?? empty(part, { dtype: t.dtype });
    const start = t.shape.map((_, d) => (d === dim ? this.rankInGroup * part[dim]! : 0));
    const src = whole.bytes(), dst = out.bytes();
    forEachRun(part, t.shape, start, part, part.map(() => 0), t.itemBytes, (s, d, n) => dst.set(src.subarray(s, s + n), d));
    return out;
  }

  allGather(t: Tensor, dim: number, o?: OutOptions): Tensor {
    this.#calls++;
    return this.#gatherAll(t, dim, o?.out, this.#ms(o), 'allGather');
  }

  gather(t: Tensor, dst: number, dim: number, o?: OutOptions): Tensor | null {
    this.#calls++;
    const mine = this.rankInGroup === dst;
    const out = this.#gatherAll(t, dim, mine ? o?.out : undefined, this.#ms(o), 'gather');
    return mine ? out : null;
  }

  /** Every member's `t` joined along `dim` (into `given` when there is one). */
  #gatherAll(t: Tensor, dim: number, given: Tensor | undefined, timeoutMs: number, call: string): Tensor {
    const shape = [...t.shape];
    shape[dim] = t.shape[dim]! * this.worldSize;
    const out = given ?? empty(shape, { dtype: t.dtype });
    const outer = t.shape.slice(0, dim).every((s) => s === 1);
    const all = outer ? out.bytes() : new Uint8Array(t.byteLength * this.worldSize);
    this.#ops.allGather(t.bytes(), all, timeoutMs, call);
    if (!outer) this.#place(all, t.shape, t.byteLength, shape, dim, t.itemBytes, out.bytes());
    return out;
  }

  /** Member j's block of `all` (shape `part`) into `dst` (shape `whole`) at j x part[dim] along `dim`. */
  #place(all: Uint8Array, part: readonly number[], partBytes: number, whole: readonly number[], dim: number,
    itemBytes: number, dst: Uint8Array): void {
    for (let j = 0; j < this.worldSize; j++) {
      const at = whole.map((_, d) => (d === dim ? j * part[dim]! : 0));
      const base = j * partBytes;
      forEachRun(part, part, part.map(() => 0), whole, at, itemBytes, (s, d, n) => dst.set(all.subarray(base + s, base + s + n), d));
    }
  }

  broadcast(t: Tensor, src: number, o?: CallOptions): Tensor {
    this.#calls++;
    this.#ops.broadcast(t.bytes(), src, this.#ms(o), 'broadcast');
    return t;
  }

  allToAll(t: Tensor, scatterDim: number, gatherDim: number, o?: OutOptions): Tensor {
    this.#calls++;
    const w = this.worldSize;
    const block = [...t.shape];
    block[scatterDim] = t.shape[scatterDim]! / w;
    const blockBytes = t.byteLength / w;
    const send = new Uint8Array(t.byteLength), recv = new Uint8Array(t.byteLength), src = t.bytes();
    for (let j = 0; j < w; j++) {
      const at = t.shape.map((_, d) => (d === scatterDim ? j * block[scatterDim]! : 0));
      const base = j * blockBytes;
      forEachRun(block, t.shape, at, block, block.map(() => 0), t.itemBytes, (s, d, n) => send.set(src.subarray(s, s + n), base + d));
    }
    this.#ops.allToAll(send, recv, this.#ms(o), 'allToAll');
    const shape = [...block];
    shape[gatherDim] = block[gatherDim]! * w;
    const out = o?.out ?? empty(shape, { dtype: t.dtype });
    this.#place(recv, block, blockBytes, shape, gatherDim, t.itemBytes, out.bytes());
    return out;
  }

  /** One message per send: the header (magic, dtype code, ndim, dims), then the tensor's bytes. */
  send(t: Tensor, dst: number, o?: CallOptions): void {
    if (t.ndim > NDIM_MAX) throw new RangeError(`The "mpi" backend sends tensors of up to ${NDIM_MAX} dims, got ${t.ndim}`);
    const message = new Uint8Array(HEADER_BYTES + t.byteLength);
    new Int32Array(message.buffer, 0, HEADER_WORDS).set([HEADER_MAGIC, dtypeInfo(t.dtype).code, t.ndim, ...t.shape]);
    message.set(t.bytes(), HEADER_BYTES);
    this.#ops.sendEager(message, dst, P2P_TAG, EAGER_SENDS, this.#ms(o), `send to group rank ${dst}`);
  }

  recv(shape: readonly number[], dtype: DType, src: number, o?: OutOptions): Tensor {
    const call = `recv from group rank ${src}`;
    const message = this.#ops.recvMessage(src, P2P_TAG, this.#ms(o), call);
    const header = new Int32Array(message.buffer, 0, Math.min(HEADER_WORDS, message.length >> 2));
    const theirs = Array.from(header.subarray(3, 3 + (header[2] ?? 0)));
    const theirDtype = dtypeFromCode(header[1] ?? -1);
    const same = header[0] === HEADER_MAGIC && theirDtype === dtype && theirs.length === shape.length &&
      theirs.every((s, i) => s === shape[i]);
    if (!same) {
      throw new MismatchError(`${this.#where(call)}: expected ${dtype} [${shape.join(', ')}], ` +
        `group rank ${src} sent ${theirDtype ?? `dtype code ${header[1]}`} [${theirs.join(', ')}]`);
    }
    const out = o?.out ?? empty(shape, { dtype });
    out.bytes().set(message.subarray(HEADER_BYTES));
    return out;
  }

  probe(src: number): boolean {
    return this.#ops.probe(src, P2P_TAG) >= 0;
  }

  barrier(o?: CallOptions): void {
    this.#calls++;
    this.#ops.barrier(this.#ms(o), 'barrier');
  }

  agree(call: CallDescriptor, o?: CallOptions): void {
    const text = JSON.stringify(call);
    const mine = new Uint8Array(AGREE_BYTES);
    const encoded = new TextEncoder().encode(text);
    mine.set(encoded.subarray(0, AGREE_BYTES - 4));
    new DataView(mine.buffer).setInt32(AGREE_BYTES - 4, hashString(text));
    const all = new Uint8Array(AGREE_BYTES * this.worldSize);
    this.#ops.allGather(mine, all, this.#ms(o), `agreeing on ${call.op}`);
    const calls: string[] = [];
    let same = true;
    for (let m = 0; m < this.worldSize; m++) {
      const theirs = all.subarray(m * AGREE_BYTES, (m + 1) * AGREE_BYTES);
      if (theirs.some((b, i) => b !== mine[i])) same = false;
      const end = theirs.indexOf(0);
      calls.push(`  rank ${this.#group.ranks[m]}: ${new TextDecoder().decode(theirs.subarray(0, end < 0 ? AGREE_BYTES - 4 : end))}`);
    }
    if (!same) {
      throw new MismatchError(`Ranks of group ${this.#group.name} [${this.#group.ranks.join(', ')}] called different ` +
        `collectives:\n${calls.join('\n')}`);
    }
  }

  destroy(): void {
    this.#ops.destroy(this.#group.timeoutMs);
  }
}
