/**
 * The `mpi` communicator: collectives on CPU tensors for a group whose members live in more than one
 * process. Hierarchical (mpi-layout.ts): the members in one process combine through shared memory (a
 * communicator of the threads backend over them), one leader per process (its first member in group
 * order) runs the MPI step (mpi-process-ops.ts), and the result fans back out through shared memory.
 * A group with one member per process calls MPI directly.
 *
 * Reduction order (documented in the README): each process folds its members in group order, then the
 * processes' partial results are folded in the order of their first member; every element is folded
 * once, by one member, and broadcast, so every member gets the same bits. With one member per process
 * that is the one-process order exactly (bit-identical to a `threads` run); with several, integers (and
 * min / max / bitwise ops) are still exact, floats differ from a one-process run by reassociation only.
 * avg over several members per process is a sum, then one division by the group size.
 *
 * Calls are not fingerprinted in band: the checks wrapper agrees on each one first (`agree`). `send` is
 * eager: MPI sends a private copy of the message, and up to EAGER_SENDS may be on their way per peer
 * before a sender waits (as the threads backend's mailboxes); members in one process use shared memory.
 * Tags travel in the message's header (mpi-message.ts): `recv` takes the oldest message from `src` with
 * its tag, and keeps the messages with other tags that it had to read past (`#unclaimed`, per source, in
 * arrival order) for the receives that ask for them, as MPI matches by (source, tag).
 */
import { ErrorCodes, MultirankError, TimeoutError } from '../errors.js';
import { sleepMs, throwIfAborted, type AbortWord } from '../shm/wait.js';
import { MPI_TAG_LIMIT } from '../native/mpi.js';
import {
  DTYPES, dtypeInfo, effectiveReduceOp, REDUCE_OP_CODES, REDUCE_OPS, type DType, type ReduceOp,
} from '../tensor/dtype.js';
import { fromTypedArray } from '../tensor/factory.js';
import { empty, emptyLike, type Tensor } from '../tensor/tensor.js';
import { agreeAcross } from './mpi-agree.js';
import { copyBlock, placeBlocks, startAlong } from './mpi-blocks.js';
import { divideAsAvg } from '../tensor/ops.js';
import { GroupLayout, openGroup } from './mpi-layout.js';
import { encodeMessage, largestGroup, messageBytes, messageTag, p2pTag } from './mpi-message.js';
import { ProcessOps, type ProcessOpsContext } from './mpi-process-ops.js';
import type { ThreadsCommunicator } from './threads/communicator.js';
import { INLINE_BYTES } from './threads/group-block.js';
import { hashString } from './threads/job-control.js';
import type {
  CallDescriptor, CallOptions, CommCapabilities, DeviceCommunicator, GroupSpec, OutOptions, Received,
  RecvAnyOptions, RecvCallOptions, SendOptions,
} from './types.js';

/** The most members of a group: every pair of members has a point-to-point tag below MPI's limit. */
const MAX_MEMBERS = largestGroup(MPI_TAG_LIMIT);

/** What the mpi backend of a rank knows: the cross-process context, this rank, and where every rank lives. */
export interface MpiContext extends ProcessOpsContext {
  /** Rank in the job (world). */
  readonly rank: number;
  /** The process (MPI world rank) that runs world rank `rank`. */
  processOf(rank: number): number;
  /**
   * A shared-memory communicator over the members of `group` (world ranks, group order) in this process:
   * a group of its own at each call, even when an earlier group had the same members here.
   */
  local?(group: GroupSpec): ThreadsCommunicator;
}

/** Sends to one peer in another process that may be on their way before `send` waits. */
const EAGER_SENDS = 10;

export const MPI_CAPABILITIES: CommCapabilities = Object.freeze({
  devices: Object.freeze(['cpu'] as const),
  dtypes: DTYPES,
  reduceOps: REDUCE_OPS,
  checksCallsInBand: false,
  eagerSendMessages: EAGER_SENDS,
  p2pTags: true,
  p2pAnySource: true,
});

const bytesTensor = (bytes: Uint8Array): Tensor => fromTypedArray(bytes, { dtype: 'uint8' });

/** Where in `kept` (arrival order) the message with `tag` after `skip` earlier ones with it is; -1: none. */
function indexWithTag(kept: readonly Uint8Array[], tag: number, skip = 0): number {
  for (let at = 0; at < kept.length; at++) {
    if (messageTag(kept[at]!) === tag && skip-- === 0) return at;
  }
  return -1;
}

/** Between rounds of looking for a message: at once at first, then up to 1 ms (a long wait costs no core). */
function pause(round: number): void {
  if (round >= 16) sleepMs(Math.min(1, 0.02 * 2 ** ((round - 16) >> 2)));
}

export class MpiCommunicator implements DeviceCommunicator {
  readonly name = 'mpi';
  readonly capabilities = MPI_CAPABILITIES;
  readonly rankInGroup: number;
  readonly worldSize: number;
  readonly recordKey: number;
  readonly #group: GroupSpec;
  readonly #layout: GroupLayout;
  /** The members in this process (shared memory); undefined when this member is alone in its process. */
  readonly #local: ThreadsCommunicator | undefined;
  readonly #ops: ProcessOps;
  /** The job's abort word: the polling receives check it on every round, as every wait does. */
  readonly #abort: AbortWord | undefined;
  /** Per source (group rank in another process): messages read past while matching a tag, oldest first. */
  readonly #unclaimed = new Map<number, Uint8Array[]>();
  #calls = 0;

  constructor(ctx: MpiContext, group: GroupSpec) {
    const { ranks, occurrence } = group;
    this.#group = group;
    this.worldSize = ranks.length;
    this.rankInGroup = ranks.indexOf(ctx.rank);
    const layout = (this.#layout = new GroupLayout(ranks, (r) => ctx.processOf(r), this.rankInGroup));
    if (this.worldSize > MAX_MEMBERS) {
      const why = `The "mpi" backend takes groups of up to ${MAX_MEMBERS} members; ` +
        `${group.name} has ${this.worldSize}`;
      throw new MultirankError(ErrorCodes.BACKEND_UNAVAILABLE, why);
    }
    const key = `${ranks.join(',')}#${occurrence}`;
    // Odd: never read as the offset of a threads group block (those are aligned) by the flight recorder.
    this.recordKey = (hashString(key) | 1) >>> 0;
    const opened = openGroup(ctx, group, layout, (this.recordKey % (MPI_TAG_LIMIT - 1)) + 1);
    this.#local = opened.local;
    this.#ops = new ProcessOps(ctx, opened.handle, (call) => this.#where(call));
    this.#abort = ctx.abort;
  }

  get calls(): number {
    return this.#calls;
  }

  /** `call` as errors name it: the group and this rank. */
  #label(call: string): string {
    const { name, ranks } = this.#group;
    return `${call} on group ${name} [${ranks.join(', ')}] (rank ${ranks[this.rankInGroup]})`;
  }

  #where(call: string): string {
    const { processIndexOf, process: here } = this.#layout;
    const others = this.#group.ranks.filter((_, m) => processIndexOf[m] !== here);
    return `${this.#label(call)}, waiting for ranks [${others.join(', ')}] in other processes`;
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

  /** The reduction of every member's `t` into every member's `out` (which may be `t`). */
  #reduceInto(t: Tensor, out: Tensor, op: ReduceOp, timeoutMs: number, call: string): void {
    const code = dtypeInfo(t.dtype).code;
    const effective = effectiveReduceOp(t.dtype, op);
    if (this.#layout.flat) {
      const opCode = REDUCE_OP_CODES[effective];
      this.#ops.allReduce(t.bytes(), out.bytes(), t.numel, t.itemBytes, code, opCode, timeoutMs, call);
      return;
    }
    const fold = effective === 'avg' ? 'sum' : effective;
    const opCode = REDUCE_OP_CODES[fold];
    const local = this.#local;
    if (local !== undefined && t.byteLength <= INLINE_BYTES) {
      // One arrival per member: the leader folds, runs the MPI step, and its members wait for that only.
      local.reduceAtLeader(t, fold, out, (result) => {
        this.#ops.allReduce(result.bytes(), result.bytes(), t.numel, t.itemBytes, code, opCode, timeoutMs, call);
      }, { timeoutMs });
    } else {
      const partial = local === undefined ? t : local.reduce(t, 0, fold, { timeoutMs });
      if (this.#layout.leader) {
        this.#ops.allReduce(partial.bytes(), out.bytes(), t.numel, t.itemBytes, code, opCode, timeoutMs, call);
      }
      local?.broadcast(out, 0, { timeoutMs });
    }
    if (effective === 'avg') divideAsAvg(out.dtype, out.data, this.worldSize);
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
    const start = startAlong(t.shape, dim, this.rankInGroup * part[dim]!);
    copyBlock(whole.bytes(), t.shape, part, start, t.itemBytes, out.bytes());
    return out;
  }

  /** Every member's bytes of `t` (equal sizes), in group order, at every member (into `into` when given). */
  #gatherBytes(t: Tensor, timeoutMs: number, call: string, into?: Uint8Array): Uint8Array {
    const bytes = t.byteLength, layout = this.#layout;
    const all = into ?? new Uint8Array(bytes * this.worldSize);
    if (layout.flat) {
      this.#ops.allGather(t.bytes(), all, timeoutMs, call);
      return all;
    }
    // this process's members' bytes, at its leader only (member 0 of the local group)
    const mine = this.#local === undefined ? t.bytes()
      : this.#local.gather(bytesTensor(t.bytes()), 0, 0, { timeoutMs })?.bytes();
    if (layout.leader) {
      const block = layout.maxLocal * bytes, p = layout.processes.length;
      const send = new Uint8Array(block), recv = new Uint8Array(block * p);
      send.set(mine!);
      this.#ops.allGather(send, recv, timeoutMs, call);
      layout.membersOf.forEach((members, q) => members.forEach((m, j) => {
        all.set(recv.subarray(q * block + j * bytes, q * block + (j + 1) * bytes), m * bytes);
      }));
    }
    this.#local?.broadcast(bytesTensor(all), 0, { timeoutMs });
    return all;
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
    if (t.shape.slice(0, dim).every((s) => s === 1)) {
      this.#gatherBytes(t, timeoutMs, call, out.bytes());
    } else {
      const all = this.#gatherBytes(t, timeoutMs, call);
      placeBlocks(all, this.worldSize, t.shape, t.byteLength, shape, dim, t.itemBytes, out.bytes());
    }
    return out;
  }

  broadcast(t: Tensor, src: number, o?: CallOptions): Tensor {
    this.#calls++;
    const timeoutMs = this.#ms(o), layout = this.#layout;
    const srcProcess = layout.processIndexOf[src]!;
    const here = layout.process === srcProcess;
    // In the root's process every member takes it first (so its leader has it); the leaders pass it on.
    if (here) this.#local?.broadcast(t, this.#layout.localIndexOf[src]!, { timeoutMs });
    if (layout.leader) this.#ops.broadcast(t.bytes(), srcProcess, timeoutMs, 'broadcast');
    if (!here) this.#local?.broadcast(t, 0, { timeoutMs });
    return t;
  }

  allToAll(t: Tensor, scatterDim: number, gatherDim: number, o?: OutOptions): Tensor {
    this.#calls++;
    const w = this.worldSize, timeoutMs = this.#ms(o);
    const block = [...t.shape];
    block[scatterDim] = t.shape[scatterDim]! / w;
    const blockBytes = t.byteLength / w;
    const shape = [...block];
    shape[gatherDim] = block[gatherDim]! * w;
    const out = o?.out ?? empty(shape, { dtype: t.dtype });
    const recv = new Uint8Array(t.byteLength);
    if (!this.#layout.flat) {
      // Hierarchical: every member's whole input reaches every member, which takes its own block of each.
      const all = this.#gatherBytes(t, timeoutMs, 'allToAll');
      const me = startAlong(t.shape, scatterDim, this.rankInGroup * block[scatterDim]!);
      for (let j = 0; j < w; j++) {
        const input = all.subarray(j * t.byteLength, (j + 1) * t.byteLength);
        copyBlock(input, t.shape, block, me, t.itemBytes, recv, j * blockBytes);
      }
    } else {
      const send = new Uint8Array(t.byteLength), src = t.bytes();
      for (let j = 0; j < w; j++) {
        const at = startAlong(t.shape, scatterDim, j * block[scatterDim]!);
        copyBlock(src, t.shape, block, at, t.itemBytes, send, j * blockBytes);
      }
      this.#ops.allToAll(send, recv, timeoutMs, 'allToAll');
    }
    placeBlocks(recv, w, block, blockBytes, shape, gatherDim, t.itemBytes, out.bytes());
    return out;
  }

  #sameProcess(member: number): boolean {
    return this.#layout.processIndexOf[member] === this.#layout.process;
  }

  /** One message per send (mpi-message.ts): the header with the tag, then the tensor's bytes. */
  send(t: Tensor, dst: number, o?: SendOptions): void {
    if (this.#sameProcess(dst)) return this.#local!.send(t, this.#layout.localIndexOf[dst]!, o);
    const message = encodeMessage(t, o?.tag ?? 0);
    const process = this.#layout.processIndexOf[dst]!, pair = p2pTag(this.rankInGroup, dst, this.worldSize);
    this.#ops.sendEager(message, process, pair, EAGER_SENDS, this.#ms(o), `send to group rank ${dst}`);
  }

  recv(shape: readonly number[], dtype: DType, src: number, o?: RecvCallOptions): Tensor {
    if (this.#sameProcess(src)) return this.#local!.recv(shape, dtype, this.#layout.localIndexOf[src]!, o);
    const tag = o?.tag ?? 0;
    const call = `recv from group rank ${src}${tag === 0 ? '' : ` with tag ${tag}`}`;
    return this.#decode(this.#claim(src, tag, this.#ms(o), call), shape, dtype, src, o?.out, call);
  }

  /** The tensor in `message` from `src`, which must be `dtype` of `shape` (into `out` when given). */
  #decode(message: Uint8Array, shape: readonly number[], dtype: DType, src: number, out: Tensor | undefined,
    call: string): Tensor {
    const bytes = messageBytes(message, shape, dtype, src, () => this.#where(call));
    const result = out ?? empty(shape, { dtype });
    result.bytes().set(bytes);
    return result;
  }

  /**
   * The oldest message from `src` (in another process) with `tag`: one read past earlier, else the next
   * one that arrives with it, keeping those with other tags that come first. Each wait gets what is left
   * of the call's deadline.
   */
  #claim(src: number, tag: number, timeoutMs: number, call: string): Uint8Array {
    const kept = this.#keptFrom(src);
    const at = indexWithTag(kept, tag);
    if (at >= 0) return kept.splice(at, 1)[0]!;
    const process = this.#layout.processIndexOf[src]!, pair = p2pTag(src, this.rankInGroup, this.worldSize);
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      // Messages with other tags that keep coming must not keep the wait alive past its deadline.
      const left = deadline - performance.now();
      const message = left > 0 ? this.#ops.recvMessage(process, pair, left, call) : undefined;
      if (message === undefined) throw this.#recvTimedOut(call, src, timeoutMs);
      if (messageTag(message) === tag) return message;
      kept.push(message);
    }
  }

  /** A receive from `src` (in another process) that ended at its deadline: whom it waited for, what it holds. */
  #recvTimedOut(call: string, src: number, timeoutMs: number): TimeoutError {
    const kept = this.#keptFrom(src);
    const held = kept.length === 0 ? ''
      : ` (messages with other tags arrived, held: ${kept.map(messageTag).join(', ')})`;
    return new TimeoutError(`${this.#label(call)}: timed out after ${Math.round(timeoutMs)} ms waiting for ` +
      `group rank ${src} (in another process)${held}`);
  }

  /** The messages from `src` read past so far (a list kept for it). */
  #keptFrom(src: number): Uint8Array[] {
    let kept = this.#unclaimed.get(src);
    if (kept === undefined) this.#unclaimed.set(src, (kept = []));
    return kept;
  }

  /**
   * The first message with the tag from any member but this one, past those `reserved` for earlier
   * receives: from the members in this process through shared memory (the first posted there), from the
   * others as their messages arrive. Across processes "first" is the first this rank finds, as MPI's
   * ANY_SOURCE promises no more; the members in other processes are looked at first on each round.
   */
  recvAnySource(shape: readonly number[], dtype: DType, o?: RecvAnyOptions): Received {
    const tag = o?.tag ?? 0, reserved = o?.reserved ?? [], timeoutMs = this.#ms(o);
    const call = `recv from any source${tag === 0 ? '' : ` with tag ${tag}`}`;
    const local = this.#localPeers(reserved);
    const deadline = performance.now() + timeoutMs;
    for (let round = 0; ; round++) {
      const found = this.#remoteMatch(tag, reserved);
      if (found !== undefined) {
        const message = this.#keptFrom(found.src).splice(found.at, 1)[0]!;
        return { tensor: this.#decode(message, shape, dtype, found.src, o?.out, call), src: found.src };
      }
      if (local !== undefined && local.comm.probe('any', tag, local.reserved)) {
        const left = Math.max(1, deadline - performance.now());
        const options = { tag, reserved: local.reserved, out: o?.out, timeoutMs: left };
        const got = local.comm.recvAnySource(shape, dtype, options);
        return { tensor: got.tensor, src: this.#layout.localMembers[got.src]! };
      }
      throwIfAborted(this.#abort);
      if (performance.now() >= deadline) {
        const others = this.#group.ranks.filter((_, m) => m !== this.rankInGroup);
        throw new TimeoutError(`${this.#label(call)}: waited ${Math.round(timeoutMs)} ms for ranks ` +
          `[${others.join(', ')}]; none sent a message with tag ${tag}`);
      }
      pause(round);
    }
  }

  /** The communicator of the other members in this process, and their reserved counts by its ranks. */
  #localPeers(reserved: readonly number[]): { comm: ThreadsCommunicator; reserved: number[] } | undefined {
    // (a process of one member has no local communicator)
    if (this.#local === undefined) return undefined;
    return { comm: this.#local, reserved: this.#layout.localMembers.map((m) => reserved[m] ?? 0) };
  }

  /**
   * Among the members in other processes (what has arrived from them read now), the first with a message
   * with `tag` past its `reserved` ones: its group rank and where that message is in its kept list.
   */
  #remoteMatch(tag: number, reserved: readonly number[]): { src: number; at: number } | undefined {
    for (let src = 0; src < this.worldSize; src++) {
      if (this.#sameProcess(src)) continue;
      const at = indexWithTag(this.#drain(src), tag, reserved[src] ?? 0);
      if (at >= 0) return { src, at };
    }
    return undefined;
  }

  /** Reads every message that has arrived from `src` (another process) into its kept list; returns it. */
  #drain(src: number): Uint8Array[] {
    const kept = this.#keptFrom(src);
    const process = this.#layout.processIndexOf[src]!, pair = p2pTag(src, this.rankInGroup, this.worldSize);
    const call = `probe of group rank ${src}`;
    while (this.#ops.probe(process, pair) >= 0) {
      // A message the probe saw is matched at once: this wait ends at the deadline only if MPI lost it.
      const message = this.#ops.recvMessage(process, pair, this.#group.timeoutMs, call);
      if (message === undefined) throw this.#recvTimedOut(call, src, this.#group.timeoutMs);
      kept.push(message);
    }
    return kept;
  }

  probe(src: number | 'any', tag = 0, reserved: readonly number[] = []): boolean {
    if (src === 'any') {
      if (this.#remoteMatch(tag, reserved) !== undefined) return true;
      const local = this.#localPeers(reserved);
      return local !== undefined && local.comm.probe('any', tag, local.reserved);
    }
    if (this.#sameProcess(src)) return this.#local!.probe(this.#layout.localIndexOf[src]!, tag);
    // What has arrived from `src` is read now, in order, so that its tags can be seen (probe never waits).
    return indexWithTag(this.#drain(src), tag) >= 0;
  }

  barrier(o?: CallOptions): void {
    this.#calls++;
    const timeoutMs = this.#ms(o);
    this.#local?.barrier({ timeoutMs });
    if (this.#layout.leader) this.#ops.barrier(timeoutMs, 'barrier');
    this.#local?.barrier({ timeoutMs });
  }

  /**
   * Every member must call the same `call`: the members of a process agree through shared memory, the
   * leaders compare their processes' calls over MPI and tell their members the outcome.
   */
  agree(call: CallDescriptor, o?: CallOptions): void {
    agreeAcross(this.#ops, this.#layout, this.#group, this.#local, call, this.#ms(o));
  }

  destroy(): void {
    const timeoutMs = this.#group.timeoutMs;
    try {
      this.#ops.flushSends(timeoutMs, 'destroy');
      this.#local?.barrier({ timeoutMs });
    } finally {
      this.#unclaimed.clear();
      this.#ops.destroy(this.#layout.leader);
      this.#local?.destroy();
    }
  }
}
