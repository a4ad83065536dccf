/**
 * GroupCoordinator: the vLLM / FastVideo group surface, in camelCase. It validates arguments (so that
 * every communicator receives only well-formed calls), keeps the rank bookkeeping, and hands tensor
 * collectives to the communicator chosen for the tensor's device. Object and tensor-dict operations are
 * built from the tensor collectives in ./objects.ts.
 */
import { checkGroupRank, checkInteger, checkTimeoutMs, invalidType, outOfRange, shapeError } from '../errors.js';
import type { DeviceCommunicator } from '../comm/types.js';
import { ThreadsCommunicator, type RankContext } from '../comm/threads.js';
import { checkReduceOp, dtypeInfo, effectiveReduceOp, type DType, type ReduceOp } from '../tensor/dtype.js';
import { checkShape, formatShape, normalizeDim, sameShape } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import * as objects from './objects.js';
import { MessageQueue, QUEUE_CHUNK_BYTES, QUEUE_CHUNKS, type QueueReader, type QueueWriter } from '../shm/message-queue.js';
import type { GroupQueueEnd, QueueGroup } from '../shm/queue-group.js';
import { CompletedWork, type Work } from './work.js';

export interface GroupCoordinatorOptions {
  /** Every group of this kind as lists of world ranks (vLLM's `group_ranks`); the one holding this rank is used. */
  groupRanks: readonly (readonly number[])[];
  /** This rank's context in the job. */
  context: RankContext;
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
  value.storage.assertLive(name); // before the call starts: a failure mid-call would put the group out of step
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
  readonly deviceCommunicator: DeviceCommunicator;
  readonly #context: RankContext;
  readonly #queueSizes: { maxChunkBytes: number; maxChunks: number } | undefined;
  /** Broadcast queues by root (group rank), made on the first broadcast from that root. */
  readonly #queues = new Map<number, GroupQueueEnd>();
  #destroyed = false;

  constructor(options: GroupCoordinatorOptions) {
    const { groupRanks, context } = options;
    if (!Array.isArray(groupRanks)) throw invalidType('groupRanks', 'an array of arrays of ranks', groupRanks);
    const mine = groupRanks.filter((ranks) => Array.isArray(ranks) && ranks.includes(context.rank));
    if (mine.length !== 1) {
      throw outOfRange(`\`groupRanks\` must hold rank ${context.rank} in exactly one group, got ${mine.length} groups holding it (${JSON.stringify(groupRanks)})`);
    }
    const ranks = mine[0]!;
    ranks.forEach((r: number, i: number) => checkInteger(`groupRanks[..][${i}]`, r, 0, context.job.worldSize - 1));
    if (new Set(ranks).size !== ranks.length) throw outOfRange(`A group lists a rank twice: [${ranks.join(', ')}]`);
    this.rank = context.rank;
    this.ranks = Object.freeze([...ranks]);
    this.worldSize = ranks.length;
    this.rankInGroup = ranks.indexOf(context.rank);
    this.localRank = options.localRank;
    this.groupName = options.groupName ?? 'anonymous';
    const checks = options.checkCalls === undefined ? {} : { checkCalls: options.checkCalls };
    const communicatorContext = { ...context, groupName: this.groupName, ...checks };
    this.deviceCommunicator = new ThreadsCommunicator(communicatorContext, this.ranks, options.occurrence ?? 0);
    this.#context = context;
    const mq = options.messageQueue;
    this.#queueSizes = mq === false ? undefined : { maxChunkBytes: mq?.maxChunkBytes ?? QUEUE_CHUNK_BYTES, maxChunks: mq?.maxChunks ?? QUEUE_CHUNKS };
    if (options.timeoutMs !== undefined) this.deviceCommunicator.timeoutMs = checkTimeoutMs('options.timeoutMs', options.timeoutMs);
  }

  /** Runs `call` with a per-call deadline when one is given. */
  #timed<T>(timeoutMs: number | undefined, call: () => T): T {
    if (timeoutMs === undefined) return call();
    const comm = this.deviceCommunicator;
    const previous = comm.timeoutMs;
    comm.timeoutMs = checkTimeoutMs('options.timeoutMs', timeoutMs);
    try {
      return call();
    } finally {
      comm.timeoutMs = previous;
    }
  }

  get firstRank(): number { return this.ranks[0]!; }
  get lastRank(): number { return this.ranks[this.worldSize - 1]!; }
  get isFirstRank(): boolean { return this.rank === this.firstRank; }
  get isLastRank(): boolean { return this.rank === this.lastRank; }
  /** World rank of the next member (wrapping), as vLLM's `next_rank`. */
  get nextRank(): number { return this.ranks[(this.rankInGroup + 1) % this.worldSize]!; }
  /** World rank of the previous member (wrapping), as vLLM's `prev_rank`. */
  get prevRank(): number { return this.ranks[(this.rankInGroup - 1 + this.worldSize) % this.worldSize]!; }

  #comm(t: Tensor): DeviceCommunicator {
    if (this.#destroyed) throw invalidType('group', 'a group that was not destroyed', `destroyed group ${this.groupName}`);
    if (t.device !== 'cpu') throw invalidType('tensor.device', '"cpu" (the threads communicator)', t.device);
    return this.deviceCommunicator;
  }

  #member(name: string, value: unknown): number {
    return checkGroupRank(name, value, this.worldSize);
  }

  /** Sum (or `op`) of every member's tensor. With one member, returns `t` itself (as vLLM does). */
  allReduce(t: Tensor, options: { op?: ReduceOp; out?: Tensor; timeoutMs?: number } = {}): Tensor {
    checkTensor('tensor', t);
    const op = reduceOpFor(t, options.op);
    const out = this.#checkOut(options.out, t, t.shape, true);
    if (this.worldSize === 1) return out === undefined ? t : out.copyFrom(t);
    return this.#timed(options.timeoutMs, () => this.#comm(t).allReduce(t, op, out));
  }

  /** Every member's tensor joined along `dim` (default -1, as vLLM). */
  allGather(t: Tensor, options: { dim?: number; out?: Tensor; timeoutMs?: number } = {}): Tensor {
    checkTensor('tensor', t);
    const dim = normalizeDim(options.dim ?? -1, t.ndim, 'options.dim');
    const out = this.#checkOut(options.out, t, this.#scaled(t, dim, this.worldSize));
    if (this.worldSize === 1) return out === undefined ? t : out.copyFrom(t);
    return this.#timed(options.timeoutMs, () => this.#comm(t).allGather(t, dim, out));
  }

  /** This member's slice (along `dim`, default -1) of the reduction; the dim must divide by worldSize. */
  reduceScatter(t: Tensor, options: { dim?: number; op?: ReduceOp; out?: Tensor; timeoutMs?: number } = {}): Tensor {
    checkTensor('tensor', t);
    const op = reduceOpFor(t, options.op);
    const dim = normalizeDim(options.dim ?? -1, t.ndim, 'options.dim');
    this.#divisible('reduceScatter', t, dim);
    const out = this.#checkOut(options.out, t, this.#scaled(t, dim, 1 / this.worldSize));
    if (this.worldSize === 1) return out === undefined ? t : out.copyFrom(t);
    return this.#timed(options.timeoutMs, () => this.#comm(t).reduceScatter(t, dim, op, out));
  }

  /** Every member's tensor joined along `dim` on member `dst`; null on the others (as vLLM's `gather`). */
  gather(t: Tensor, options: { dst?: number; dim?: number; out?: Tensor; timeoutMs?: number } = {}): Tensor | null {
    checkTensor('tensor', t);
    const dst = this.#member('options.dst', options.dst ?? 0);
    const dim = normalizeDim(options.dim ?? -1, t.ndim, 'options.dim');
    const out = this.rankInGroup === dst ? this.#checkOut(options.out, t, this.#scaled(t, dim, this.worldSize)) : undefined;
    if (this.worldSize === 1) return out === undefined ? t : out.copyFrom(t);
    return this.#timed(options.timeoutMs, () => this.#comm(t).gather(t, dst, dim, out));
  }

  /** Member `src`'s tensor copied into every member's `t` in place; returns `t`. */
  broadcast(t: Tensor, options: { src?: number; timeoutMs?: number } = {}): Tensor {
    checkTensor('tensor', t);
    const src = this.#member('options.src', options.src ?? 0);
    if (this.worldSize === 1) return t;
    return this.#timed(options.timeoutMs, () => this.#comm(t).broadcast(t, src));
  }

  /** The reduction, on member `dst` (a new tensor); the others get `t` back. */
  reduce(t: Tensor, options: { dst?: number; op?: ReduceOp; out?: Tensor; timeoutMs?: number } = {}): Tensor {
    checkTensor('tensor', t);
    const dst = this.#member('options.dst', options.dst ?? 0);
    const op = reduceOpFor(t, options.op);
    const out = this.rankInGroup === dst ? this.#checkOut(options.out, t, t.shape) : undefined;
    if (this.worldSize === 1) return out === undefined ? t : out.copyFrom(t);
    return this.#timed(options.timeoutMs, () => this.#comm(t).reduce(t, dst, op, out));
  }

  /** Chunk j of `t` along `scatterDim` goes to member j; the chunks received are joined along `gatherDim`. */
  allToAll(t: Tensor, options: { scatterDim?: number; gatherDim?: number; out?: Tensor; timeoutMs?: number } = {}): Tensor {
    checkTensor('tensor', t);
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
    return this.#timed(options.timeoutMs, () => this.#comm(t).allToAll(t, scatterDim, gatherDim, out));
  }

  /** Sends `t` to member `dst` (default: the next member). Returns once the data is posted. */
  send(t: Tensor, options: { dst?: number; timeoutMs?: number } = {}): void {
    checkTensor('tensor', t);
    const dst = this.#member('options.dst', options.dst ?? (this.rankInGroup + 1) % this.worldSize);
    if (dst === this.rankInGroup) throw outOfRange(`\`options.dst\` (${dst}) is this rank's own group rank; send needs another member`);
    this.#timed(options.timeoutMs, () => this.#comm(t).send(t, dst));
  }

  /**
   * Receives a tensor of `shape` and `dtype` from member `src` (default: the previous member): a new
   * tensor, or `options.out` (which must have that shape and dtype), as torch's `recv(tensor, src)` fills.
   */
  recv(shape: readonly number[], dtype: DType, options: { src?: number; timeoutMs?: number; out?: Tensor } = {}): Tensor {
    const checked = checkShape(shape);
    dtypeInfo(dtype, 'dtype');
    const src = this.#member('options.src', options.src ?? (this.rankInGroup - 1 + this.worldSize) % this.worldSize);
    if (src === this.rankInGroup) throw outOfRange(`\`options.src\` (${src}) is this rank's own group rank; recv needs another member`);
    const out = options.out;
    if (out !== undefined) checkOutShape(out, dtype, checked, 'the tensor this recv takes');
    if (this.#destroyed) throw invalidType('group', 'a group that was not destroyed', `destroyed group ${this.groupName}`);
    return this.#timed(options.timeoutMs, () => this.deviceCommunicator.recv(checked, dtype, src, out));
  }

  barrier(options: { timeoutMs?: number } = {}): void {
    if (this.#destroyed) throw invalidType('group', 'a group that was not destroyed', `destroyed group ${this.groupName}`);
    if (this.worldSize > 1) this.#timed(options.timeoutMs, () => this.deviceCommunicator.barrier());
  }

  /**
   * FastVideo's sequence-parallel exchange on a 4-D tensor: [B, S/W, H, D] -> [B, S, H/W, D] with
   * scatterDim 2, gatherDim 1 (the default), and back with scatterDim 1, gatherDim 2.
   */
  allToAll4D(t: Tensor, options: { scatterDim?: number; gatherDim?: number } = {}): Tensor {
    checkTensor('tensor', t);
    if (t.ndim !== 4) throw shapeError(`allToAll4D needs a 4-D tensor [B, S, H, D], got shape ${formatShape(t.shape)}`);
    const scatterDim = options.scatterDim ?? 2, gatherDim = options.gatherDim ?? 1;
    if (!((scatterDim === 2 && gatherDim === 1) || (scatterDim === 1 && gatherDim === 2))) {
      throw outOfRange(`allToAll4D supports scatterDim 2 with gatherDim 1, or scatterDim 1 with gatherDim 2; got ${scatterDim} and ${gatherDim}`);
    }
    return this.allToAll(t, { scatterDim, gatherDim });
  }

  /** What MessageQueue.createFromGroup needs: the arena, the deadlines, the job's abort word and the rank record. */
  get queueContext(): QueueGroup['queueContext'] {
    const c = this.#context;
    return {
      arena: c.arena, owner: c.job.owner, timeoutMs: this.deviceCommunicator.timeoutMs, spinIterations: c.spinIterations,
      abort: c.job.abortWord, record: c.record,
    };
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

  /** `obj` from member `src` (default 0) on every member, through the group's shared-memory queue. */
  broadcastObject<T>(obj: T, options: { src?: number } = {}): T {
    const src = this.#member('options.src', options.src ?? 0);
    const queue = this.#queue(src);
    if (queue === undefined) return objects.broadcastObject(this, obj, src);
    return this.rankInGroup === src ? (queue.end as QueueWriter).broadcastObject(obj) : (queue.end as QueueReader).broadcastObject() as T;
  }

  /** vLLM's broadcast_object_list: the root's list, element by element, on every member. */
  broadcastObjectList<T>(list: T[], options: { src?: number } = {}): T[] {
    if (!Array.isArray(list)) throw invalidType('list', 'an array', list);
    const src = this.#member('options.src', options.src ?? 0);
    const received = objects.broadcastObject(this, this.rankInGroup === src ? list : undefined, src, 'list') as T[];
    if (this.rankInGroup !== src) list.splice(0, list.length, ...received);
    return list;
  }

  sendObject(obj: unknown, dst: number): void {
    objects.sendObject(this, obj, this.#member('dst', dst));
  }

  recvObject(src: number): unknown {
    return objects.recvObject(this, this.#member('src', src));
  }

  /** Every member's `obj`, in group order. */
  allGatherObject<T>(obj: T): T[] {
    return objects.allGatherObject(this, obj);
  }

  /**
   * vLLM's broadcast_tensor_dict: `dict` from member `src` (default 0); other members pass undefined.
   * Tensors travel by value through the group's queue (their bytes out of band: one copy per side).
   */
  broadcastTensorDict(dict: Record<string, unknown> | undefined, options: { src?: number } = {}): Record<string, unknown> {
    const src = this.#member('options.src', options.src ?? 0);
    if (this.#queue(src) === undefined) return objects.broadcastTensorDict(this, dict, src);
    if (this.rankInGroup === src) {
      this.broadcastObject(objects.packTensorDict(dict!), { src });
      return dict!;
    }
    return objects.unpackTensorDict(this.broadcastObject<unknown>(undefined, { src }) as objects.PackedTensorDict);
  }

  /** vLLM's send_tensor_dict (default dst: the next member). */
  sendTensorDict(dict: Record<string, unknown>, options: { dst?: number; allGatherGroup?: GroupCoordinator } = {}): void {
    const dst = this.#member('options.dst', options.dst ?? (this.rankInGroup + 1) % this.worldSize);
    objects.sendTensorDict(this, dict, dst, options.allGatherGroup);
  }

  /** vLLM's recv_tensor_dict (default src: the previous member). */
  recvTensorDict(options: { src?: number; allGatherGroup?: GroupCoordinator } = {}): Record<string, unknown> {
    const src = this.#member('options.src', options.src ?? (this.rankInGroup - 1 + this.worldSize) % this.worldSize);
    return objects.recvTensorDict(this, src, options.allGatherGroup);
  }

  allReduceAsync(t: Tensor, options: { op?: ReduceOp } = {}): Work<Tensor> { return new CompletedWork(this.allReduce(t, options)); }
  allGatherAsync(t: Tensor, options: { dim?: number } = {}): Work<Tensor> { return new CompletedWork(this.allGather(t, options)); }
  reduceScatterAsync(t: Tensor, options: { dim?: number; op?: ReduceOp } = {}): Work<Tensor> { return new CompletedWork(this.reduceScatter(t, options)); }
  broadcastAsync(t: Tensor, options: { src?: number } = {}): Work<Tensor> { return new CompletedWork(this.broadcast(t, options)); }
  allToAllAsync(t: Tensor, options: { scatterDim?: number; gatherDim?: number } = {}): Work<Tensor> { return new CompletedWork(this.allToAll(t, options)); }
  gatherAsync(t: Tensor, options: { dst?: number; dim?: number } = {}): Work<Tensor | null> { return new CompletedWork(this.gather(t, options)); }
  reduceAsync(t: Tensor, options: { dst?: number; op?: ReduceOp } = {}): Work<Tensor> { return new CompletedWork(this.reduce(t, options)); }
  sendAsync(t: Tensor, options: { dst?: number } = {}): Work<void> { this.send(t, options); return new CompletedWork(undefined); }
  recvAsync(shape: readonly number[], dtype: DType, options: { src?: number; out?: Tensor } = {}): Work<Tensor> { return new CompletedWork(this.recv(shape, dtype, options)); }
  barrierAsync(): Work<void> { this.barrier(); return new CompletedWork(undefined); }

  /** Releases the group's per-rank resources; later calls throw. Idempotent. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    for (const queue of this.#queues.values()) queue.destroy();
    this.#queues.clear();
    this.deviceCommunicator.destroy();
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
