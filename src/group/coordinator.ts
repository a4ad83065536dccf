/**
 * GroupCoordinator: the vLLM / FastVideo group surface, in camelCase. The members, sides and checks are
 * in group-base.ts, the tensor collectives in collectives.ts; this file adds the object plane (vLLM's
 * broadcast_object, send_object, ... on the group's CPU side) and the tensor dicts, through the group's
 * shared-memory queues or the tensor collectives (objects.ts).
 */
import { invalidType } from '../errors.js';
import type { CallDescriptor, CpuCommunicator } from '../comm/types.js';
import type { ProcessSpanCommunicator } from '../comm/process-span.js';
import { MessageQueue, type GroupQueueEnd, type QueueReader, type QueueWriter } from '../shm/message-queue.js';
import type { QueueContext, QueueSpan } from '../shm/queue-group.js';
import { tensor } from '../tensor/factory.js';
import { GroupVariants } from './variants.js';
import * as objects from './objects.js';
import * as storeObjects from './store-objects.js';
import { boxTensors, unboxTensors } from './tensor-box.js';
import { CompletedWork, type Work } from './work.js';

export type { GroupCoordinatorOptions } from './group-base.js';

export class GroupCoordinator extends GroupVariants {
  /** Broadcast queues by root (group rank), made on the first broadcast from that root. */
  readonly #queues = new Map<number, GroupQueueEnd>();

  /** What MessageQueue.createFromGroup needs: where the group's CPU side keeps shared memory. */
  get queueContext(): QueueContext {
    const context = this.acrossProcesses?.queueContext
      ?? (this.cpuSide.inner as Partial<CpuCommunicator>).queueContext;
    if (context === undefined) {
      throw invalidType('group', 'a group whose members share memory', `group ${this.groupName}`);
    }
    return context;
  }

  /** For MessageQueue.createFromGroup: how to reach members in other processes (remote readers). */
  get span(): QueueSpan | undefined {
    return this.acrossProcesses?.queueSpan;
  }

  /** For MessageQueue.createFromGroup: `offset` (an arena offset) from member `src` on every member. */
  broadcastOffset(offset: number, src: number): number {
    return Number(this.broadcast(tensor([offset], { dtype: 'int64' }), { src }).getFlat(0));
  }

  /** This member's end of the broadcast queue rooted at `src`, made (collectively) on first use. */
  #queue(src: number): GroupQueueEnd | undefined {
    if (this.queueSizes === undefined || this.worldSize === 1) return undefined;
    let end = this.#queues.get(src);
    if (end === undefined) {
      end = MessageQueue.createFromGroup(this, this.queueSizes.maxChunkBytes, this.queueSizes.maxChunks, src);
      this.#queues.set(src, end);
    }
    return end;
  }

  /**
   * Before an object-plane call on a queue: every member agrees on the call and its root (a member that
   * names another root, or calls another collective, fails every member at once). A queue write needs no
   * reader to be there, so without this two members that each think they are the root would both return.
   */
  #agreeOnQueueCall(
    op: 'broadcastObject' | 'broadcastTensorDict',
    src: number,
    rootCheck?: () => void,
  ): GroupQueueEnd | undefined {
    this.live();
    if (this.queueSizes === undefined || this.worldSize === 1) return undefined;
    // The root checks what it will send before the agreement (a value it cannot send fails on it alone):
    // only when there is an agreement, since without one the queue write fails on the root alone anyway.
    if (this.spec.checkCalls && this.rankInGroup === src) rootCheck?.();
    this.agreeOn({ op, root: src });
    return this.#queue(src);
  }

  /** `obj` from member `src` (default 0) on every member, through the group's shared-memory queue. */
  broadcastObject<T>(obj: T, options: { src?: number } = {}): T {
    const src = this.member('options.src', options.src ?? 0);
    const span = this.#acrossProcesses({ op: 'broadcastObject', root: src });
    if (span !== undefined && !this.#queuesAcross(span)) {
      return storeObjects.broadcastObject(span, obj, src, this.opts({}));
    }
    const queue = span !== undefined ? this.#queue(src)
      : this.#agreeOnQueueCall('broadcastObject', src, () => objects.checkSerializable(obj));
    if (queue === undefined) return objects.broadcastObject(this, obj, src);
    if (this.rankInGroup !== src) return unboxTensors((queue.end as QueueReader).broadcastObject()) as T;
    (queue.end as QueueWriter).broadcastObject(boxTensors(obj));
    return obj;
  }

  /** vLLM's broadcast_object_list: the root's list, element by element, on every member. */
  broadcastObjectList<T>(list: T[], options: { src?: number } = {}): T[] {
    if (!Array.isArray(list)) throw invalidType('list', 'an array', list);
    const src = this.member('options.src', options.src ?? 0);
    const span = this.#acrossProcesses({ op: 'broadcastObjectList', root: src });
    const mine = this.rankInGroup === src ? list : undefined;
    const received = span !== undefined ? storeObjects.broadcastObject(span, mine, src, this.opts({}), 'list') as T[]
      : objects.broadcastObject(this, mine, src, 'list') as T[];
    if (this.rankInGroup !== src) list.splice(0, list.length, ...received);
    return list;
  }

  sendObject(obj: unknown, dst: number): void {
    this.live();
    const peer = this.member('dst', dst);
    const span = this.acrossProcesses;
    if (span !== undefined) return storeObjects.sendObject(span, obj, peer, this.opts({}));
    objects.sendObject(this, obj, peer);
  }

  recvObject(src: number): unknown {
    this.live();
    const peer = this.member('src', src);
    if (this.acrossProcesses !== undefined) return storeObjects.recvObject(this.acrossProcesses, peer, this.opts({}));
    return objects.recvObject(this, peer);
  }

  /** Every member's `obj`, in group order. */
  allGatherObject<T>(obj: T): T[] {
    this.live();
    const span = this.#acrossProcesses({ op: 'allGatherObject' });
    if (span !== undefined) return storeObjects.allGatherObject(span, obj, this.opts({}));
    return objects.allGatherObject(this, obj);
  }

  /** torch's gather_object: every member's `obj` in group order on member `dst` (default 0); null elsewhere. */
  gatherObject<T>(obj: T, options: { dst?: number } = {}): T[] | null {
    this.live();
    const dst = this.member('options.dst', options.dst ?? 0);
    const span = this.#acrossProcesses({ op: 'gatherObject', root: dst });
    if (span !== undefined) {
      const all = storeObjects.allGatherObject(span, obj, this.opts({}));
      return this.rankInGroup === dst ? all : null;
    }
    return objects.gatherObject(this, obj, dst);
  }

  /** torch's scatter_object_list: member j gets `list[j]` of member `src` (default 0); `list` is ignored elsewhere. */
  scatterObjectList<T>(list: readonly T[] | undefined, options: { src?: number } = {}): T {
    const src = this.member('options.src', options.src ?? 0);
    if (this.rankInGroup === src && (!Array.isArray(list) || list.length !== this.worldSize)) {
      throw invalidType('list', `an array of ${this.worldSize} objects (one per member) on the source member`, list);
    }
    this.agreeOn({ op: 'scatterObjectList', root: src });
    const span = this.acrossProcesses;
    if (this.rankInGroup !== src) {
      if (span !== undefined) return storeObjects.recvObject(span, src, this.opts({})) as T;
      return objects.recvObject(this, src) as T;
    }
    list!.forEach((obj, j) => {
      if (j === src) return;
      if (span !== undefined) storeObjects.sendObject(span, obj, j, this.opts({}));
      else objects.sendObject(this, obj, j);
    });
    return list![src]!;
  }

  /**
   * vLLM's broadcast_tensor_dict: `dict` from member `src` (default 0); other members pass undefined.
   * Tensors travel by value through the group's queue (their bytes out of band: one copy per side).
   * With one member, returns `dict` itself at once, as vLLM does.
   */
  broadcastTensorDict(
    dict: Record<string, unknown> | undefined,
    options: { src?: number } = {},
  ): Record<string, unknown> {
    const src = this.member('options.src', options.src ?? 0);
    if (this.worldSize === 1) {
      this.live();
      return dict!;
    }
    const span = this.#acrossProcesses({ op: 'broadcastTensorDict', root: src });
    if (span !== undefined && !this.#queuesAcross(span)) {
      const packed = this.rankInGroup === src ? objects.packTensorDict(dict!) : undefined;
      const received = storeObjects.broadcastObject(span, packed, src, this.opts({}), 'dict');
      return this.rankInGroup === src ? dict! : objects.unpackTensorDict(received as objects.PackedTensorDict);
    }
    const queue = span !== undefined ? this.#queue(src) : this.#agreeOnQueueCall('broadcastTensorDict', src);
    if (queue === undefined) return objects.broadcastTensorDict(this, dict, src);
    if (this.rankInGroup === src) {
      (queue.end as QueueWriter).broadcastObject(boxTensors(objects.packTensorDict(dict!)));
      return dict!;
    }
    return objects.unpackTensorDict(
      unboxTensors((queue.end as QueueReader).broadcastObject()) as objects.PackedTensorDict,
    );
  }

  /** vLLM's send_tensor_dict (default dst: the next member); with one member, nothing to send. */
  sendTensorDict(
    dict: Record<string, unknown>,
    options: { dst?: number; allGatherGroup?: GroupCoordinator } = {},
  ): void {
    this.live();
    if (this.worldSize === 1) return;
    const dst = this.member('options.dst', options.dst ?? (this.rankInGroup + 1) % this.worldSize);
    // Across processes the whole dict travels as one object (its tensors by value); no all-gather split.
    if (this.acrossProcesses !== undefined) {
      return storeObjects.sendObject(this.acrossProcesses, objects.packTensorDict(dict), dst, this.opts({}));
    }
    objects.sendTensorDict(this, dict, dst, options.allGatherGroup);
  }

  /** vLLM's recv_tensor_dict (default src: the previous member); with one member, undefined (vLLM's None). */
  recvTensorDict(
    options: { src?: number; allGatherGroup?: GroupCoordinator } = {},
  ): Record<string, unknown> | undefined {
    this.live();
    if (this.worldSize === 1) return undefined;
    const src = this.namedSource(options.src);
    this.work.beforeRecv(src, 0);
    if (this.acrossProcesses !== undefined) return this.#recvDictAcross(src);
    return objects.recvTensorDict(this, src, options.allGatherGroup);
  }

  /**
   * vLLM's isend_tensor_dict (its async pipeline path): posts the metadata and every tensor at once (as
   * `sendTensorDict`: sends are eager) and returns one Work for them all (vLLM returns a list of handles).
   */
  isendTensorDict(
    dict: Record<string, unknown>, options: { dst?: number; allGatherGroup?: GroupCoordinator } = {},
  ): Work<void> {
    this.sendTensorDict(dict, options);
    return new CompletedWork(undefined);
  }

  /**
   * vLLM's irecv_tensor_dict: returns at once a Work whose `wait()` gives the dict (undefined with one
   * member), where vLLM returns the dict, its handles and the post-processing of `allGatherGroup` to run
   * after them. It completes in order with the other receives from `src` (work.ts): when waited on, before
   * a later blocking recv from `src`, or when `isCompleted()` finds its metadata arrived (the sender posts
   * every tensor in the same call). With `allGatherGroup` (a collective of that group follows the
   * receives), `isCompleted()` says false until `wait()`.
   */
  irecvTensorDict(
    options: { src?: number; allGatherGroup?: GroupCoordinator } = {},
  ): Work<Record<string, unknown> | undefined> {
    this.live();
    if (this.worldSize === 1) return new CompletedWork(undefined);
    const src = this.namedSource(options.src);
    const { allGatherGroup } = options;
    if (allGatherGroup !== undefined && !(allGatherGroup instanceof GroupCoordinator)) {
      throw invalidType('options.allGatherGroup', 'a GroupCoordinator', allGatherGroup);
    }
    // Across processes the dict comes through the store when waited on (no probe: isCompleted() says false).
    if (this.acrossProcesses !== undefined) return this.work.recv(src, 0, () => this.#recvDictAcross(src), () => false);
    const arrived = (): boolean => allGatherGroup === undefined && this.cpuSide.probe(src, 0);
    return this.work.recv(src, 0, () => objects.recvTensorDict(this, src, allGatherGroup), arrived);
  }

  /** A tensor dict from member `src` of a group across processes: one object through the store. */
  #recvDictAcross(src: number): Record<string, unknown> {
    const packed = storeObjects.recvObject(this.acrossProcesses!, src, this.opts({}));
    return objects.unpackTensorDict(packed as objects.PackedTensorDict);
  }

  /**
   * Whether broadcasts of a group across processes go through its queues (remote readers over sockets,
   * vLLM's mq_broadcaster) rather than the store: when the group has queues and its process has the memory.
   */
  #queuesAcross(span: ProcessSpanCommunicator): boolean {
    return this.queueSizes !== undefined && span.queueSpan !== undefined;
  }

  /**
   * The store side when the members live in several processes (after the members agreed on `call`,
   * when calls are checked); undefined for a group in one process.
   */
  #acrossProcesses(call: CallDescriptor): ProcessSpanCommunicator | undefined {
    if (this.acrossProcesses === undefined) {
      this.live();
      return undefined;
    }
    this.agreeOn(call); // after the group's queued collectives, as every other call
    return this.acrossProcesses;
  }

  /** Releases the group's per-rank resources; later calls throw. Idempotent. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const queue of this.#queues.values()) queue.destroy();
    this.#queues.clear();
    this.destroySides();
  }
}
