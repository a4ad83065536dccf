/**
 * The contract every communicator implements (threads now; nccl, hccl and mpi plug in behind it), and the
 * backend-neutral context a rank gives the registry. One file per backend implements it; the registry
 * (registry.ts) picks one by backend and tensor device; the checks (checked.ts) wrap every one.
 *
 * What a caller may rely on, for every communicator:
 * - Arguments are validated before a call reaches a communicator (GroupCoordinator does it): dims are
 *   normalised, roots and peers are ranks within the group (0..worldSize-1), `out` has the result's dtype
 *   and shape and shares no storage with the input (except an in-place allReduce). Communicators assert.
 * - Collectives block until this member's part is complete; every member gets bit-identical results
 *   (the reduction order is fixed by group rank). A collective returns a new tensor, or fills `out`.
 * - `send` is eager: it returns once the bytes are copied out of the input, without waiting for the
 *   matching `recv`, while fewer than `capabilities.eagerSendMessages` messages to that peer are unread;
 *   past that bound it waits (with the call's deadline) for the peer to read one. A bound of 0 (the nccl
 *   and hccl device sides) means every send waits for its recv.
 * - `recv` takes the oldest unread message from `src` and checks it against what the caller expects: the
 *   dtype and the shape must be exactly the sender's (a MismatchError names both sides otherwise), so a
 *   message is never reinterpreted. (On the device sides the library compares the element count and the
 *   dtype; a shape of the same size is not told apart.)
 * - Every blocking wait has a deadline: `CallOptions.timeoutMs` for that call, else the group's (given at
 *   creation). When it expires the error names the call and the ranks that did not come. A failed job
 *   (a rank threw, the driver closed it, the watchdog found a deadlock) ends every wait at once.
 * - `capabilities` says what the communicator accepts; the coordinator refuses anything else by name.
 */
import type { Chaos } from '../debug/chaos.js';
import type { RankRecord } from '../debug/rank-status.js';
import type { TraceRecorder } from '../debug/trace.js';
import type { QueueContext } from '../shm/queue-group.js';
import type { DType, ReduceOp } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Backend } from './backends.js';
import type { ProcessWorld } from './process-world.js';
import type { StoreLink } from './store-link.js';

/** What a device string names before its index: `cpu`, `cuda:0` -> `cuda`, `npu:1` -> `npu`. */
export type DeviceKind = 'cpu' | 'cuda' | 'npu';

/** Options every blocking call takes. */
export interface CallOptions {
  /** Deadline of this call's waits in ms (default: the group's). Applies to this call only. */
  readonly timeoutMs?: number | undefined;
}

/** Options of a collective that produces a tensor. */
export interface OutOptions extends CallOptions {
  /** Receives the result (checked by the caller: dtype, shape, no shared storage with the input). */
  readonly out?: Tensor | undefined;
}

/** What a communicator accepts and how it behaves. */
export interface CommCapabilities {
  readonly devices: readonly DeviceKind[];
  readonly dtypes: readonly DType[];
  readonly reduceOps: readonly ReduceOp[];
  /**
   * True when the communicator compares the members' call fingerprints itself, inside its own
   * synchronisation (threads: in the arrival, at no extra wait). Otherwise the checks wrapper agrees on
   * each call over the group's CPU side before handing it on.
   */
  readonly checksCallsInBand: boolean;
  /** Messages `send` may leave unread per peer before it waits (see the contract above). */
  readonly eagerSendMessages: number;
}

export interface DeviceCommunicator {
  readonly name: string;
  readonly rankInGroup: number;
  readonly worldSize: number;
  readonly capabilities: CommCapabilities;
  /**
   * The group's identity in the rank records (the flight recorder and the deadlock report read it): for
   * threads, the byte offset of the group's shared block.
   */
  readonly recordKey: number;
  /** Collectives this member has started on this communicator (the next one is number `calls + 1`). */
  readonly calls: number;
  /** Reduction of every member's `t`; a new tensor (or `out`). */
  allReduce(t: Tensor, op: ReduceOp, options?: OutOptions): Tensor;
  /** Every member's `t` joined along `dim`. */
  allGather(t: Tensor, dim: number, options?: OutOptions): Tensor;
  /** This member's part (along `dim`) of the reduction of every member's `t`. */
  reduceScatter(t: Tensor, dim: number, op: ReduceOp, options?: OutOptions): Tensor;
  /** Every member's `t` joined along `dim` on `dst`; null elsewhere. */
  gather(t: Tensor, dst: number, dim: number, options?: OutOptions): Tensor | null;
  /** `src`'s `t` copied into every member's `t` (in place); returns `t`. */
  broadcast(t: Tensor, src: number, options?: CallOptions): Tensor;
  /** The reduction on `dst` (a new tensor, or `out`); other members get their `t` back unchanged. */
  reduce(t: Tensor, dst: number, op: ReduceOp, options?: OutOptions): Tensor;
  /** Chunk j of `t` along `scatterDim` goes to member j; received chunks are joined along `gatherDim`. */
  allToAll(t: Tensor, scatterDim: number, gatherDim: number, options?: OutOptions): Tensor;
  send(t: Tensor, dst: number, options?: CallOptions): void;
  /** The oldest message from `src`, which must have `shape` and `dtype`: a new tensor (or `out`). */
  recv(shape: readonly number[], dtype: DType, src: number, options?: OutOptions): Tensor;
  /**
   * Non-blocking: true when a message from `src` is waiting (what `irecv` polls). Never waits and never
   * consumes the message.
   */
  probe(src: number): boolean;
  barrier(options?: CallOptions): void;
  /**
   * A barrier whose members must agree on `call` (the checks wrapper's out-of-band fingerprint, and the
   * object plane's): a member that called something else fails every member at once with each call.
   */
  agree(call: CallDescriptor, options?: CallOptions): void;
  destroy(): void;
}

/**
 * The CPU side of a group (vLLM's cpu_group): a communicator for CPU tensors and control that can also
 * host the shared-memory broadcaster when its members share memory.
 */
export interface CpuCommunicator extends DeviceCommunicator {
  /** Where a MessageQueue over this group lives; undefined when the members share no memory. */
  readonly queueContext: QueueContext | undefined;
}

/**
 * What a member calls, as the fingerprint compares it and the mismatch report prints it. Absent fields
 * are not part of the call. `op` may name an object-plane call (`broadcastObject`) as well as a collective.
 */
export interface CallDescriptor {
  readonly op: string;
  readonly dtype?: DType | undefined;
  readonly shape?: readonly number[] | undefined;
  readonly root?: number | undefined;
  readonly reduceOp?: ReduceOp | undefined;
  readonly dim?: number | undefined;
  readonly dim2?: number | undefined;
}

/** A group as the registry's factories receive it. */
export interface GroupSpec {
  /** World ranks of the members, in group order. */
  readonly ranks: readonly number[];
  /** How many groups with the same members this rank created before (tells identical groups apart). */
  readonly occurrence: number;
  /** The group's name in reports (`tp`, `dp`, `world`, ...). */
  readonly name: string;
  /** Default deadline of the group's waits, ms. */
  readonly timeoutMs: number;
  /** Whether calls are fingerprint-checked (in band, or by the wrapper). */
  readonly checkCalls: boolean;
}

/**
 * What a device side's factory gets besides the group: the group's CPU side (checked), over which it
 * exchanges its unique id and agrees on calls, and the device of the tensor that asked for it (`cuda:1`).
 */
export interface DeviceSideContext {
  readonly cpu: DeviceCommunicator;
  readonly device: string;
  /**
   * Member 0's unique id (`id` there; undefined on the others) on every member, through the job's store:
   * given when the group spans processes (as torch's ProcessGroupNCCL takes its id from the store).
   * Absent: the id is broadcast over `cpu`.
   */
  readonly shareId?: ((id: Uint8Array | undefined) => Uint8Array) | undefined;
}

/** What a rank knows of its job, whatever the backend: the registry builds its communicators. */
export interface CommContext {
  /** Rank in the job (world). */
  readonly rank: number;
  readonly worldSize: number;
  /** Default deadline of every wait, ms (MULTIRANK_TIMEOUT_MS). */
  readonly timeoutMs: number;
  /** Fingerprint checks (default on; off only to measure what they cost: MULTIRANK_CHECK_CALLS=0). */
  readonly checkCalls: boolean;
  /** This rank's status and flight recorder (shared with the driver). */
  readonly record: RankRecord;
  readonly chaos?: Chaos | undefined;
  readonly trace?: TraceRecorder | undefined;
  /** Makes the group's communicators (a CommunicatorRegistry, registry.ts). */
  readonly registry: CommunicatorSource;
  /**
   * The job's processes and where this rank's process stands (the contract: comm/process-world.ts). One
   * process: `singleProcessWorld(worldSize)`.
   */
  readonly processWorld: ProcessWorld;
  /**
   * The link to the job's store (through this process's driver), present when the job spans several
   * processes: the object plane and control of groups that span processes use it (process-span.ts).
   */
  readonly storeLink?: StoreLink | undefined;
}

/** What a group asks for its communicators. */
export interface CommunicatorSource {
  /**
   * A communicator of `backend` for tensors on `device`; throws BACKEND_UNAVAILABLE with the reason. A
   * device side (`device` not `cpu`) also gets the group's CPU side and the tensor's device in `side`.
   */
  create(backend: Backend, device: DeviceKind, group: GroupSpec, side?: DeviceSideContext): DeviceCommunicator;
  /** The CPU side of a group: a communicator of `backend` for CPU tensors that can host queues. */
  createCpu(backend: Backend, group: GroupSpec): CpuCommunicator;
  /** Whether `backend` can serve tensors on `device` in this rank. */
  has(backend: Backend, device: DeviceKind): boolean;
}
