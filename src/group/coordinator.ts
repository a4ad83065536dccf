/**
 * GroupCoordinator: the vLLM / FastVideo group surface, in camelCase. It validates arguments (so that
 * every communicator receives only well-formed calls), keeps the rank bookkeeping, and hands tensor
 * collectives to the communicator chosen for the tensor's device. Object and tensor-dict operations are
 * built from the tensor collectives in ./objects.ts.
 */
import { checkInteger, invalidType, outOfRange, shapeError } from '../errors.js';
import { CheckedCommunicator } from '../comm/checked.js';
import { deviceKind } from '../comm/registry.js';
import type { Backend } from '../comm/backends.js';
import type { CommContext, CpuCommunicator, DeviceCommunicator, DeviceKind, GroupSpec } from '../comm/types.js';
import { checkReduceOp, dtypeInfo, effectiveReduceOp, type DType, type ReduceOp } from '../tensor/dtype.js';
import { checkShape, formatShape, normalizeDim, sameShape } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import * as objects from './objects.js';
import {
  MessageQueue, QUEUE_CHUNK_BYTES, QUEUE_CHUNKS, type GroupQueueEnd, type QueueReader, type QueueWriter,
} from '../shm/message-queue.js';
import type { QueueContext } from '../shm/queue-group.js';
import { tensor } from '../tensor/factory.js';
import { CompletedWork, WorkQueue, type Work } from './work.js';

export interface GroupCoordinatorOptions {
  /** Every group of this kind as lists of world ranks (vLLM's `group_ranks`); the one holding this rank is used. */
  groupRanks: readonly (readonly number[])[];
  /** This rank's context in the job (backend-neutral: the registry makes the communicators). */
  context: CommContext;
  localRank: number;
  groupName?: string;
  /** How many groups with the same ranks this rank created before (set by the parallel state). */
  occurrence?: number;
  /** Deadline of this group's blocking waits in ms (default: the job's, MULTIRANK_TIMEOUT_MS). */
  timeoutMs?: number;
  /**
   * The shared-memory broadcaster of broadcastObject / broadcastTensorDict (vLLM's mq_broadcaster):
   * chunk size and count (default 4 MiB x 6), or false for the tensor-collective path.
   */
  messageQueue?: { maxChunkBytes?: number; maxChunks?: number } | false;
  /** Collective fingerprint checks of this group (default: the job's, on unless MULTIRANK_CHECK_CALLS=0). */
  checkCalls?: boolean;
  /** The backend of the group's device side (default "threads": CPU tensors over shared memory). */
  backend?: Backend;
}

/** Which backend serves tensors on a device kind when the group's backend does not. */
const DEVICE_BACKENDS: Record<Exclude<DeviceKind, 'cpu'>, Backend> = { cuda: 'nccl', npu: 'hccl' };

function checkTimeout(name: string, value: unknown): number {
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) throw invalidType(name, 'a positive, finite number of milliseconds', value);
  return value;
}

/**
 * Checks `options.op` and that the tensor's dtype allows it, before any shortcut: avg on an integer or
 * bool tensor is refused on a group of one member too, not only where the kernels run.
 */
function reduceOpFor(t: Tensor, op: unknown): ReduceOp {
  const checked = checkReduceOp(op ?? 'sum', 'options.op');
  effectiveReduceOp(t.dtype, checked);
  return checked;
}

function checkTensor(name: string, value: unknown): Tensor {
  if (!(value instanceof Tensor)) throw invalidType(name, 'a Tensor', value);
  return value;
}

/** `options.out` must be a tensor of exactly `dtype` and `shape` (`what` says why, in the error). */
function checkOutShape(out: Tensor, dtype: DType, shape: readonly number[], what: string): void {
  checkTensor('options.out', out);
  if (out.dtype !== dtype || !sameShape(out.shape, shape)) {
    throw shapeError(`\`options.out\` (${out.dtype} ${formatShape(out.shape)}) must be ${dtype} ${formatShape(shape)}, ${what}`);
  }
}

export class GroupCoordinator {
  /** World rank of this process. */
  readonly rank: number;
  /** World ranks of the group's members, in group order. */
  readonly ranks: readonly number[];
  readonly worldSize: number;
  readonly rankInGroup: number;
  readonly localRank: number;
  readonly groupName: string;
  /** The CPU side (vLLM's cpu_group): CPU tensors, objects, control; checked. */
  readonly cpuCommunicator: DeviceCommunicator;
  readonly #cpu: CheckedCommunicator;
  readonly #context: CommContext;
  readonly #spec: GroupSpec;
  readonly #backend: Backend;
  /** Device-side communicators by device kind, made on the first tensor of that kind. */
  readonly #devices = new Map<DeviceKind, CheckedCommunicator>();
  readonly #queueSizes: { maxChunkBytes: number; maxChunks: number } | undefined;
  /** Broadcast queues by root (group rank), made on the first broadcast from that root. */
  readonly #queues = new Map<number, GroupQueueEnd>();
  /** Issued, not yet completed `...Async` collectives and `irecv`s. */
  readonly #work = new WorkQueue();
  #destroyed = false;

  constructor(options: GroupCoordinatorOptions) {
    const { groupRanks, context } = options;
    if (!Array.isArray(groupRanks)) throw invalidType('groupRanks', 'an array of arrays of ranks', groupRanks);
    const mine = groupRanks.filter((ranks) => Array.isArray(ranks) && ranks.includes(context.rank));
    if (mine.length !== 1) {
      throw outOfRange(
        `\`groupRanks\` must hold rank ${context.rank} in exactly one group, got ${mine.length} groups holding it ` +
          `(${JSON.stringify(groupRanks)})`,
      );
    }
    const ranks = mine[0]!;
    ranks.forEach((r: number, i: number) => checkInteger(`groupRanks[..][${i}]`, r, 0, context.worldSize - 1));
    if (new Set(ranks).size !== ranks.length) throw outOfRange(`A group lists a rank twice: [${ranks.join(', ')}]`);
    this.rank = context.rank;
    this.ranks = Object.freeze([...ranks]);
    this.worldSize = ranks.length;
    this.rankInGroup = ranks.indexOf(context.rank);
    this.localRank = options.localRank;
    this.groupName = options.groupName ?? 'anonymous';
    this.#context = context;
    this.#backend = options.backend ?? 'threads';
    this.#spec = Object.freeze({
      ranks: this.ranks,
      occurrence: options.occurrence ?? 0,
      name: this.groupName,
      timeoutMs: options.timeoutMs === undefined ? context.timeoutMs : checkTimeout('options.timeoutMs', options.timeoutMs),
      checkCalls: options.checkCalls ?? context.checkCalls,
    });
    // The CPU side always runs on shared memory in one process (threads); mpi will take groups across processes.
    const cpu = context.registry.createCpu('threads', this.#spec);
    this.#cpu = new CheckedCommunicator(cpu, context, this.#spec);
    this.cpuCommunicator = this.#cpu;
    const mq = options.messageQueue;
    this.#queueSizes = mq === false ? undefined : { maxChunkBytes: mq?.maxChunkBytes ?? QUEUE_CHUNK_BYTES, maxChunks: mq?.maxChunks ?? QUEUE_CHUNKS };
  }

  /**
   * The communicator of the group's backend for its device (vLLM's device_communicator): the CPU side
   * itself on "threads"; on "nccl" / "hccl" the device one, made on first use.
   */
  get deviceCommunicator(): DeviceCommunicator {
    if (this.#backend === 'threads') return this.#cpu;
    return this.#device(this.#backend === 'hccl' ? 'npu' : this.#backend === 'nccl' ? 'cuda' : 'cpu');
  }

  /** The group's default deadline, ms. */
  get timeoutMs(): number {
    return this.#spec.timeoutMs;
  }

  /** Checks a call's options (the per-call deadline) and passes them on. */
  #opts<O extends { timeoutMs?: number | undefined }>(options: O): O {
    if (options.timeoutMs !== undefined) checkTimeout('options.timeoutMs', options.timeoutMs);
    return options;
  }

  get firstRank(): number { return this.ranks[0]!; }
  get lastRank(): number { return this.ranks[this.worldSize - 1]!; }
  get isFirstRank(): boolean { return this.rank === this.firstRank; }
  get isLastRank(): boolean { return this.rank === this.lastRank; }
  /** World rank of the next member (wrapping), as vLLM's `next_rank`. */
  get nextRank(): number { return this.ranks[(this.rankInGroup + 1) % this.worldSize]!; }
  /** World rank of the previous member (wrapping), as vLLM's `prev_rank`. */
  get prevRank(): number { return this.ranks[(this.rankInGroup - 1 + this.worldSize) % this.worldSize]!; }

  /** The communicator for `t`'s device (and the group live), after the queued collectives ran. */
  #comm(t: Tensor): DeviceCommunicator {
    this.#live();
    this.#work.beforeCollective();
    return t.device === 'cpu' ? this.#cpu : this.#device(deviceKind(t.device));
  }

  #device(kind: DeviceKind): CheckedCommunicator {
    if (kind === 'cpu') return this.#cpu;
    let comm = this.#devices.get(kind);
    if (comm === undefined) {
      const inner = this.#context.registry.create(DEVICE_BACKENDS[kind], kind, this.#spec);
      comm = new CheckedCommunicator(inner, this.#context, this.#spec, this.#cpu);
      this.#devices.set(kind, comm);
    }
    return comm;
  }

  #live(): void {
    if (this.#destroyed) throw invalidType('group', 'a group that was not destroyed', `destroyed group ${this.groupName}`);
  }

  #member(name: string, value: unknown): number {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value >= this.worldSize) {
      throw outOfRange(`\`${name}\` (${String(value)}) must be a rank of this group (0..${this.worldSize - 1})`);
    }
    return value;
  }

  /** Sum (or `op`) of every member's tensor. With one member, returns `t` itself (as vLLM does). */
  allReduce(t: Tensor, options: { op?: ReduceOp; out?: Tensor; timeoutMs?: number } = {}): Tensor {
    this.#input(t);
    const op = reduceOpFor(t, options.op);
    const out = this.#checkOut(options.out, t, t.shape, true);
    if (this.worldSize === 1) return out === undefined ? t : out.copyFrom(t);
    return this.#comm(t).allReduce(t, op, this.#opts(options));
  }

  /** Every member's tensor joined along `dim` (default -1, as vLLM). */
  allGather(t: Tensor, options: { dim?: number; out?: Tensor; timeoutMs?: number } = {}): Tensor {
    this.#input(t);
    const dim = normalizeDim(options.dim ?? -1, t.ndim, 'options.dim');
    const out = this.#checkOut(options.out, t, this.#scaled(t, dim, this.worldSize));
    if (this.worldSize === 1) return out === undefined ? t : out.copyFrom(t);
    return this.#comm(t).allGather(t, dim, this.#opts(options));
  }

  /** This member's slice (along `dim`, default -1) of the reduction; the dim must divide by worldSize. */
  reduceScatter(t: Tensor, options: { dim?: number; op?: ReduceOp; out?: Tensor; timeoutMs?: number } = {}): Tensor {
    this.#input(t);
    const op = reduceOpFor(t, options.op);
    const dim = normalizeDim(options.dim ?? -1, t.ndim, 'options.dim');
    this.#divisible('reduceScatter', t, dim);
    const out = this.#checkOut(options.out, t, this.#scaled(t, dim, 1 / this.worldSize));
    if (this.worldSize === 1) return out === undefined ? t : out.copyFrom(t);
    return this.#comm(t).reduceScatter(t, dim, op, this.#opts(options));
  }

  /** Every member's tensor joined along `dim` on member `dst`; null on the others (as vLLM's `gather`). */
  gather(t: Tensor, options: { dst?: number; dim?: number; out?: Tensor; timeoutMs?: number } = {}): Tensor | null {
    this.#input(t);
    const dst = this.#member('options.dst', options.dst ?? 0);
    const dim = normalizeDim(options.dim ?? -1, t.ndim, 'options.dim');
    const out = this.rankInGroup === dst ? this.#checkOut(options.out, t, this.#scaled(t, dim, this.worldSize)) : undefined;
    if (this.worldSize === 1) return out === undefined ? t : out.copyFrom(t);
    return this.#comm(t).gather(t, dst, dim, this.#opts(options));
  }

  /** Member `src`'s tensor copied into every member's `t` in place; returns `t`. */
  broadcast(t: Tensor, options: { src?: number; timeoutMs?: number } = {}): Tensor {
    this.#input(t);
    const src = this.#member('options.src', options.src ?? 0);
    if (this.worldSize === 1) return t;
    return this.#comm(t).broadcast(t, src, this.#opts(options));
  }

  /** The reduction, on member `dst` (a new tensor); the others get `t` back. */
  reduce(t: Tensor, options: { dst?: number; op?: ReduceOp; out?: Tensor; timeoutMs?: number } = {}): Tensor {
    this.#input(t);
    const dst = this.#member('options.dst', options.dst ?? 0);
    const op = reduceOpFor(t, options.op);
    const out = this.rankInGroup === dst ? this.#checkOut(options.out, t, t.shape) : undefined;
    if (this.worldSize === 1) return out === undefined ? t : out.copyFrom(t);
    return this.#comm(t).reduce(t, dst, op, this.#opts(options));
  }

  /** Chunk j of `t` along `scatterDim` goes to member j; the chunks received are joined along `gatherDim`. */
  allToAll(t: Tensor, options: { scatterDim?: number; gatherDim?: number; out?: Tensor; timeoutMs?: number } = {}): Tensor {
    this.#input(t);
    const scatterDim = normalizeDim(options.scatterDim ?? 0, t.ndim, 'options.scatterDim');
    const gatherDim = normalizeDim(options.gatherDim ?? 0, t.ndim, 'options.gatherDim');
    this.#divisible('allToAll', t, scatterDim);
    const shape = [...t.shape];
    if (t.ndim > 0) {
      shape[scatterDim] = shape[scatterDim]! / this.worldSize;
      shape[gatherDim] = shape[gatherDim]! * this.worldSize;
    }
    const out = this.#checkOut(options.out, t, shape);
    if (this.worldSize === 1) return out === undefined ? t : out.copyFrom(t);
    return this.#comm(t).allToAll(t, scatterDim, gatherDim, this.#opts(options));
  }

  /**
   * Sends `t` to member `dst` (default: the next member). Eager: returns once the data is posted, without
   * waiting for the recv, unless that peer has `capabilities.eagerSendMessages` unread messages.
   */
  send(t: Tensor, options: { dst?: number; timeoutMs?: number } = {}): void {
    const dst = this.#sendTarget(t, options);
    this.#p2p(t).send(t, dst, this.#opts(options));
  }

  /** torch's isend: posts `t` at once (as `send`) and returns a completed Work. */
  isend(t: Tensor, options: { dst?: number; timeoutMs?: number } = {}): Work<void> {
    this.send(t, options);
    return new CompletedWork(undefined);
  }

  /**
   * Receives a tensor of `shape` and `dtype` from member `src` (default: the previous member): a new
   * tensor, or `options.out` (which must have that shape and dtype), as torch's `recv(tensor, src)` fills.
   * Receives queued by `irecv` from the same member complete first (messages match in order).
   */
  recv(shape: readonly number[], dtype: DType, options: { src?: number; timeoutMs?: number; out?: Tensor } = {}): Tensor {
    const { checked, src } = this.#recvArgs(shape, dtype, options);
    this.#work.beforeRecv(src);
    return this.#cpu.recv(checked, dtype, src, this.#opts(options));
  }

  /**
   * torch's irecv: returns at once; the message is taken when the Work is waited on, when `isCompleted()`
   * finds it arrived, or before a later blocking recv from the same member.
   */
  irecv(shape: readonly number[], dtype: DType, options: { src?: number; timeoutMs?: number; out?: Tensor } = {}): Work<Tensor> {
    const { checked, src } = this.#recvArgs(shape, dtype, options);
    this.#opts(options);
    return this.#work.recv(src, () => this.recv(checked, dtype, options), () => this.#cpu.probe(src));
  }

  barrier(options: { timeoutMs?: number } = {}): void {
    this.#live();
    this.#work.beforeCollective();
    if (this.worldSize > 1) this.#cpu.barrier(this.#opts(options));
  }

  #sendTarget(t: Tensor, options: { dst?: number }): number {
    this.#input(t);
    const dst = this.#member('options.dst', options.dst ?? (this.rankInGroup + 1) % this.worldSize);
    if (dst === this.rankInGroup) throw outOfRange(`\`options.dst\` (${dst}) is this rank's own group rank; send needs another member`);
    return dst;
  }

  #recvArgs(shape: readonly number[], dtype: DType, options: { src?: number; out?: Tensor }): { checked: readonly number[]; src: number } {
    this.#live();
    const checked = checkShape(shape);
    dtypeInfo(dtype, 'dtype');
    const src = this.#member('options.src', options.src ?? (this.rankInGroup - 1 + this.worldSize) % this.worldSize);
    if (src === this.rankInGroup) throw outOfRange(`\`options.src\` (${src}) is this rank's own group rank; recv needs another member`);
    if (options.out !== undefined) checkOutShape(options.out, dtype, checked, 'the tensor this recv takes');
    return { checked, src };
  }

  /** The communicator of a point-to-point call: by device, without running queued collectives first. */
  #p2p(t: Tensor): DeviceCommunicator {
    this.#live();
    return t.device === 'cpu' ? this.#cpu : this.#device(deviceKind(t.device));
  }

  /** Checks the input tensor of a call, and that the group is live. */
  #input(t: Tensor): void {
    checkTensor('tensor', t);
    this.#live();
  }

  /**
   * FastVideo's sequence-parallel exchange on a 4-D tensor: [B, S/W, H, D] -> [B, S, H/W, D] with
   * scatterDim 2, gatherDim 1 (the default), and back with scatterDim 1, gatherDim 2.
   */
  allToAll4D(t: Tensor, options: { scatterDim?: number; gatherDim?: number } = {}): Tensor {
    this.#input(t);
    if (t.ndim !== 4) throw shapeError(`allToAll4D needs a 4-D tensor [B, S, H, D], got shape ${formatShape(t.shape)}`);
    const scatterDim = options.scatterDim ?? 2, gatherDim = options.gatherDim ?? 1;
    if (!((scatterDim === 2 && gatherDim === 1) || (scatterDim === 1 && gatherDim === 2))) {
      throw outOfRange(`allToAll4D supports scatterDim 2 with gatherDim 1, or scatterDim 1 with gatherDim 2; got ${scatterDim} and ${gatherDim}`);
    }
    return this.allToAll(t, { scatterDim, gatherDim });
  }

  /** What MessageQueue.createFromGroup needs: where the group's CPU side keeps shared memory. */
  get queueContext(): QueueContext {
    const context = (this.#cpu.inner as Partial<CpuCommunicator>).queueContext;
    if (context === undefined) throw invalidType('group', 'a group whose members share memory', `group ${this.groupName}`);
    return context;
  }

  /** For MessageQueue.createFromGroup: `offset` (an arena offset) from member `src` on every member. */
  broadcastOffset(offset: number, src: number): number {
    return Number(this.broadcast(tensor([offset], { dtype: 'int64' }), { src }).getFlat(0));
  }

  /** This member's end of the broadcast queue rooted at `src`, made (collectively) on first use. */
  #queue(src: number): GroupQueueEnd | undefined {
    if (this.#queueSizes === undefined || this.worldSize === 1) return undefined;
    let end = this.#queues.get(src);
    if (end === undefined) {
      end = MessageQueue.createFromGroup(this, this.#queueSizes.maxChunkBytes, this.#queueSizes.maxChunks, src);
      this.#queues.set(src, end);
    }
    return end;
  }

  /**
   * Before an object-plane call on a queue: every member agrees on the call and its root (a member that
   * names another root, or calls another collective, fails every member at once). A queue write needs no
   * reader to be there, so without this two members that each think they are the root would both return.
   */
  #agreeOnQueueCall(op: 'broadcastObject' | 'broadcastTensorDict', src: number): GroupQueueEnd | undefined {
    this.#live();
    this.#work.beforeCollective();
    if (this.#queueSizes === undefined || this.worldSize === 1) return undefined;
    if (this.#spec.checkCalls) this.#cpu.agree({ op, root: src });
    return this.#queue(src);
  }

  /** `obj` from member `src` (default 0) on every member, through the group's shared-memory queue. */
  broadcastObject<T>(obj: T, options: { src?: number } = {}): T {
    const src = this.#member('options.src', options.src ?? 0);
    const queue = this.#agreeOnQueueCall('broadcastObject', src);
    if (queue === undefined) return objects.broadcastObject(this, obj, src);
    return this.rankInGroup === src ? (queue.end as QueueWriter).broadcastObject(obj) : (queue.end as QueueReader).broadcastObject() as T;
  }

  /** vLLM's broadcast_object_list: the root's list, element by element, on every member. */
  broadcastObjectList<T>(list: T[], options: { src?: number } = {}): T[] {
    if (!Array.isArray(list)) throw invalidType('list', 'an array', list);
    const src = this.#member('options.src', options.src ?? 0);
    const received = objects.broadcastObject(this, this.rankInGroup === src ? list : undefined, src) as T[];
    if (this.rankInGroup !== src) list.splice(0, list.length, ...received);
    return list;
  }

  sendObject(obj: unknown, dst: number): void {
    this.#live();
    objects.sendObject(this, obj, this.#member('dst', dst));
  }

  recvObject(src: number): unknown {
    this.#live();
    return objects.recvObject(this, this.#member('src', src));
  }

  /** Every member's `obj`, in group order. */
  allGatherObject<T>(obj: T): T[] {
    this.#live();
    return objects.allGatherObject(this, obj);
  }

  /**
   * vLLM's broadcast_tensor_dict: `dict` from member `src` (default 0); other members pass undefined.
   * Tensors travel by value through the group's queue (their bytes out of band: one copy per side).
   */
  broadcastTensorDict(dict: Record<string, unknown> | undefined, options: { src?: number } = {}): Record<string, unknown> {
    const src = this.#member('options.src', options.src ?? 0);
    const queue = this.#agreeOnQueueCall('broadcastTensorDict', src);
    if (queue === undefined) return objects.broadcastTensorDict(this, dict, src);
    if (this.rankInGroup === src) {
      (queue.end as QueueWriter).broadcastObject(objects.packTensorDict(dict!));
      return dict!;
    }
    return objects.unpackTensorDict((queue.end as QueueReader).broadcastObject() as objects.PackedTensorDict);
  }

  /** vLLM's send_tensor_dict (default dst: the next member). */
  sendTensorDict(dict: Record<string, unknown>, options: { dst?: number; allGatherGroup?: GroupCoordinator } = {}): void {
    this.#live();
    const dst = this.#member('options.dst', options.dst ?? (this.rankInGroup + 1) % this.worldSize);
    objects.sendTensorDict(this, dict, dst, options.allGatherGroup);
  }

  /** vLLM's recv_tensor_dict (default src: the previous member). */
  recvTensorDict(options: { src?: number; allGatherGroup?: GroupCoordinator } = {}): Record<string, unknown> {
    this.#live();
    const src = this.#member('options.src', options.src ?? (this.rankInGroup - 1 + this.worldSize) % this.worldSize);
    return objects.recvTensorDict(this, src, options.allGatherGroup);
  }

  // The `...Async` forms check their arguments now (as torch raises at the call) and run when waited on,
  // in issue order with the group's other collectives (see work.ts).
  allReduceAsync(t: Tensor, options: { op?: ReduceOp; out?: Tensor; timeoutMs?: number } = {}): Work<Tensor> {
    this.#issue(t, options, () => reduceOpFor(t, options.op));
    return this.#work.collective(() => this.allReduce(t, options));
  }

  allGatherAsync(t: Tensor, options: { dim?: number; out?: Tensor; timeoutMs?: number } = {}): Work<Tensor> {
    this.#issue(t, options, () => normalizeDim(options.dim ?? -1, t.ndim, 'options.dim'));
    return this.#work.collective(() => this.allGather(t, options));
  }

  reduceScatterAsync(t: Tensor, options: { dim?: number; op?: ReduceOp; out?: Tensor; timeoutMs?: number } = {}): Work<Tensor> {
    this.#issue(t, options, () => {
      reduceOpFor(t, options.op);
      this.#divisible('reduceScatter', t, normalizeDim(options.dim ?? -1, t.ndim, 'options.dim'));
    });
    return this.#work.collective(() => this.reduceScatter(t, options));
  }

  broadcastAsync(t: Tensor, options: { src?: number; timeoutMs?: number } = {}): Work<Tensor> {
    this.#issue(t, options, () => this.#member('options.src', options.src ?? 0));
    return this.#work.collective(() => this.broadcast(t, options));
  }

  allToAllAsync(t: Tensor, options: { scatterDim?: number; gatherDim?: number; out?: Tensor; timeoutMs?: number } = {}): Work<Tensor> {
    this.#issue(t, options, () => {
      normalizeDim(options.gatherDim ?? 0, t.ndim, 'options.gatherDim');
      this.#divisible('allToAll', t, normalizeDim(options.scatterDim ?? 0, t.ndim, 'options.scatterDim'));
    });
    return this.#work.collective(() => this.allToAll(t, options));
  }

  gatherAsync(t: Tensor, options: { dst?: number; dim?: number; out?: Tensor; timeoutMs?: number } = {}): Work<Tensor | null> {
    this.#issue(t, options, () => {
      this.#member('options.dst', options.dst ?? 0);
      normalizeDim(options.dim ?? -1, t.ndim, 'options.dim');
    });
    return this.#work.collective(() => this.gather(t, options));
  }

  reduceAsync(t: Tensor, options: { dst?: number; op?: ReduceOp; out?: Tensor; timeoutMs?: number } = {}): Work<Tensor> {
    this.#issue(t, options, () => {
      this.#member('options.dst', options.dst ?? 0);
      reduceOpFor(t, options.op);
    });
    return this.#work.collective(() => this.reduce(t, options));
  }

  /** As `isend`. */
  sendAsync(t: Tensor, options: { dst?: number; timeoutMs?: number } = {}): Work<void> {
    return this.isend(t, options);
  }

  /** As `irecv`. */
  recvAsync(shape: readonly number[], dtype: DType, options: { src?: number; out?: Tensor; timeoutMs?: number } = {}): Work<Tensor> {
    return this.irecv(shape, dtype, options);
  }

  barrierAsync(options: { timeoutMs?: number } = {}): Work<void> {
    this.#live();
    this.#opts(options);
    return this.#work.collective(() => this.barrier(options));
  }

  /** The issue-time checks of an `...Async` call (the rest run again when it runs). */
  #issue(t: Tensor, options: { timeoutMs?: number | undefined }, check: () => unknown): void {
    this.#input(t);
    this.#opts(options);
    check();
  }

  /** Releases the group's per-rank resources; later calls throw. Idempotent. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    for (const queue of this.#queues.values()) queue.destroy();
    this.#queues.clear();
    for (const comm of this.#devices.values()) comm.destroy();
    this.#devices.clear();
    this.#cpu.destroy();
  }

  /** `t`'s shape with dim `dim` multiplied by `factor` (a scalar counts as [1]). */
  #scaled(t: Tensor, dim: number, factor: number): number[] {
    const shape = t.ndim === 0 ? [1] : [...t.shape];
    shape[dim] = shape[dim]! * factor;
    return shape;
  }

  /**
   * Checks a caller's `out`: a Tensor of the input's dtype and the result's shape, not sharing the input's
   * storage unless the collective works in place (allReduce: each member reads only its own slice).
   */
  #checkOut(out: Tensor | undefined, t: Tensor, shape: readonly number[], inPlace = false): Tensor | undefined {
    if (out === undefined) return undefined;
    checkOutShape(out, t.dtype, shape, 'the result of this call');
    if (out.storage === t.storage && !(inPlace && out.byteOffset === t.byteOffset)) throw shapeError('`options.out` must not share storage with the input (peers may still read the input while the result is written)');
    return out;
  }


  #divisible(op: string, t: Tensor, dim: number): void {
    const size = t.ndim === 0 ? 1 : t.shape[dim]!;
    if (size % this.worldSize !== 0) {
      throw shapeError(`${op}: dim ${dim} of the input (shape ${formatShape(t.shape)}) has size ${size}, which is not divisible by the group size ${this.worldSize}`);
    }
  }
}
