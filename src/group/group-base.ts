/**
 * What every group has: its members and this rank's place among them, its CPU side and its device sides
 * (made by the registry; the coordinator never names a communicator class), its pending Works, and the
 * checks that a call's group is live and its ranks are members. The collectives (collectives.ts) and the
 * object plane (coordinator.ts) build on it.
 */
import { checkGroupRank, checkInteger, invalidType, outOfRange } from '../errors.js';
import { CheckedCommunicator } from '../comm/checked.js';
import { deviceKind } from '../comm/registry.js';
import { isCpuBackend, type Backend } from '../comm/backends.js';
import type { CallDescriptor, CommContext, DeviceCommunicator, DeviceKind, GroupSpec } from '../comm/types.js';
import { QUEUE_CHUNK_BYTES, QUEUE_CHUNKS } from '../shm/message-queue.js';
import { parseDevice } from '../tensor/device.js';
import type { Tensor } from '../tensor/tensor.js';
import { checkTensor, checkTimeout } from './args.js';
import { WorkQueue } from './work.js';
import { spansProcesses } from '../comm/process-world.js';
import { ProcessSpanCommunicator } from '../comm/process-span.js';
import { broadcastObject } from './store-objects.js';

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
  /** vLLM's unique name (`tp:0`): the group's name and how many groups of that name this rank made before. */
  uniqueName?: string;
  /** The backend of the group's device side (default "threads": CPU tensors over shared memory). */
  backend?: Backend;
}

/** Which backend serves tensors on a device kind when the group's backend does not. */
const DEVICE_BACKENDS: Record<Exclude<DeviceKind, 'cpu'>, Backend> = { cuda: 'nccl', npu: 'hccl' };

export class GroupBase {
  /** World rank of this process. */
  readonly rank: number;
  /** World ranks of the group's members, in group order. */
  readonly ranks: readonly number[];
  readonly worldSize: number;
  readonly rankInGroup: number;
  readonly localRank: number;
  readonly groupName: string;
  /** vLLM's `unique_name` (`tp:0`), unique among this rank's groups. */
  readonly uniqueName: string;
  /** The CPU side (vLLM's cpu_group): CPU tensors, objects, control; checked. */
  readonly cpuCommunicator: DeviceCommunicator;
  protected readonly cpuSide: CheckedCommunicator;
  protected readonly context: CommContext;
  protected readonly spec: GroupSpec;
  protected readonly backend: Backend;
  /** Device-side communicators by device kind, made on the first tensor of that kind. */
  protected readonly devices = new Map<DeviceKind, CheckedCommunicator>();
  protected readonly queueSizes: { maxChunkBytes: number; maxChunks: number } | undefined;
  /** Issued, not yet completed `...Async` collectives and `irecv`s. */
  protected readonly work = new WorkQueue();
  protected destroyed = false;
  /** The store side of a group whose members live in several processes (objects, control); else undefined. */
  protected readonly acrossProcesses: ProcessSpanCommunicator | undefined;
  /** The default deadline set by `setTimeoutMs` (undefined: the one given at creation, in `spec`). */
  #timeoutMs: number | undefined;

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
    this.uniqueName = options.uniqueName ?? `${this.groupName}:${options.occurrence ?? 0}`;
    this.context = context;
    this.backend = options.backend ?? 'threads';
    this.spec = Object.freeze({
      ranks: this.ranks,
      occurrence: options.occurrence ?? 0,
      name: this.groupName,
      timeoutMs: options.timeoutMs === undefined
        ? context.timeoutMs
        : checkTimeout('options.timeoutMs', options.timeoutMs),
      checkCalls: options.checkCalls ?? context.checkCalls,
    });
    // Members in one process: the CPU side runs on shared memory (threads). Members in several processes:
    // their objects and control go through the job's store, and CPU tensors need the mpi backend (its
    // communicator when the registry has it; otherwise the store's control side, which refuses tensors).
    // Decided once here: a group in one process pays nothing per call for the other case.
    this.acrossProcesses = spansProcesses(context.processWorld, this.ranks) ? this.#storeSide(context) : undefined;
    const cpu = this.acrossProcesses === undefined ? context.registry.createCpu('threads', this.spec)
      : context.registry.has('mpi', 'cpu') ? context.registry.createCpu('mpi', this.spec) : this.acrossProcesses;
    this.cpuSide = new CheckedCommunicator(cpu, context, this.spec);
    this.cpuCommunicator = this.cpuSide;
    const mq = options.messageQueue;
    this.queueSizes = mq === false
      ? undefined
      : { maxChunkBytes: mq?.maxChunkBytes ?? QUEUE_CHUNK_BYTES, maxChunks: mq?.maxChunks ?? QUEUE_CHUNKS };
  }

  #storeSide(context: CommContext): ProcessSpanCommunicator {
    if (context.storeLink === undefined) {
      const expected = `the job's store link (group ${this.groupName} spans processes)`;
      throw invalidType('context.storeLink', expected, undefined);
    }
    const { processWorld, storeLink, processQueues, record } = context;
    return new ProcessSpanCommunicator(this.spec, this.rank, processWorld, storeLink, processQueues, record);
  }

  /**
   * The communicator of the group's backend for its device (vLLM's device_communicator): the CPU side
   * itself on "threads"; on "nccl" / "hccl" the device one, made on first use.
   */
  get deviceCommunicator(): DeviceCommunicator {
    if (isCpuBackend(this.backend)) return this.cpuSide;
    return this.deviceSide(this.backend === 'hccl' ? 'npu' : this.backend === 'nccl' ? 'cuda' : 'cpu');
  }

  /** vLLM's `cpu_group`: the CPU side (objects, control, CPU tensors). */
  get cpuGroup(): DeviceCommunicator {
    return this.cpuSide;
  }

  /** vLLM's `device_group`: the side that moves tensors of the group's device. */
  get deviceGroup(): DeviceCommunicator {
    return this.deviceCommunicator;
  }

  /** vLLM's `device`: where this rank's tensors of this group live (`cpu` on "threads"). */
  get device(): string {
    if (this.backend === 'nccl') return `cuda:${this.localRank}`;
    if (this.backend === 'hccl') return `npu:${this.localRank}`;
    return 'cpu';
  }

  /** True once `destroy()` ran: every later call throws. */
  get isDestroyed(): boolean {
    return this.destroyed;
  }

  /** The group's default deadline, ms. */
  get timeoutMs(): number {
    return this.#timeoutMs ?? this.spec.timeoutMs;
  }

  /**
   * Changes the group's default deadline (torch's `_set_pg_timeout`, behind Megatron's
   * `update_pg_timeout`): every later call without a `timeoutMs` of its own waits up to `timeoutMs`, as
   * if it had passed it. The waits inside a shared-memory broadcast queue (broadcastObject /
   * broadcastTensorDict once the queue exists) keep the deadline the group was created with.
   */
  setTimeoutMs(timeoutMs: number): void {
    this.#timeoutMs = checkTimeout('timeoutMs', timeoutMs);
  }

  /** Checks a call's options (the per-call deadline) and passes them on (with the deadline of setTimeoutMs). */
  protected opts<O extends { timeoutMs?: number | undefined }>(options: O): O {
    if (options.timeoutMs !== undefined) checkTimeout('options.timeoutMs', options.timeoutMs);
    else if (this.#timeoutMs !== undefined) return { ...options, timeoutMs: this.#timeoutMs };
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
  protected comm(t: Tensor): DeviceCommunicator {
    this.live();
    this.work.beforeCollective();
    return t.device === 'cpu' ? this.cpuSide : this.deviceSide(deviceKind(t.device), t.device);
  }

  /**
   * The side of a device kind, made on first use over `device` (default: this thread's current device of
   * that kind): its factory gets the CPU side, to exchange the unique id.
   */
  protected deviceSide(kind: DeviceKind, device: string = parseDevice(kind)): CheckedCommunicator {
    if (kind === 'cpu') return this.cpuSide;
    let comm = this.devices.get(kind);
    if (comm === undefined) {
      const span = this.acrossProcesses;
      // Across processes the unique id travels through the job's store (the CPU side may move no tensors).
      const shareId = span === undefined ? undefined
        : (id: Uint8Array | undefined): Uint8Array => broadcastObject(span, id, 0, this.opts({}), 'id')!;
      const side = { cpu: this.cpuSide, device, shareId };
      const inner = this.context.registry.create(DEVICE_BACKENDS[kind], kind, this.spec, side);
      comm = new CheckedCommunicator(inner, this.context, this.spec, this.cpuSide);
      this.devices.set(kind, comm);
    }
    return comm;
  }

  protected live(): void {
    if (this.destroyed) {
      throw invalidType('group', 'a group that was not destroyed', `destroyed group ${this.groupName}`);
    }
  }

  protected member(name: string, value: unknown): number {
    return checkGroupRank(name, value, this.worldSize);
  }


  /** The communicator of a point-to-point call: by device, without running queued collectives first. */
  protected p2p(t: Tensor): DeviceCommunicator {
    this.live();
    return t.device === 'cpu' ? this.cpuSide : this.deviceSide(deviceKind(t.device), t.device);
  }

  /**
   * Before a call built from several collectives or point to point: the members agree on `call` (a
   * member that called something else fails every member at once, each call listed), after the group's
   * queued collectives.
   */
  protected agreeOn(call: CallDescriptor): void {
    this.live();
    this.work.beforeCollective();
    if (this.spec.checkCalls && this.worldSize > 1) this.cpuSide.agree(call, this.opts({}));
  }

  /** Checks the input tensor of a call, and that the group is live. */
  protected input(t: Tensor): void {
    checkTensor('tensor', t);
    this.live();
  }

  /** Releases the communicators of both sides. */
  protected destroySides(): void {
    for (const comm of this.devices.values()) comm.destroy();
    this.devices.clear();
    this.cpuSide.destroy();
  }
}
