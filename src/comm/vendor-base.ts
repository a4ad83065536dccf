/**
 * The device side of a group on a vendor's collective library (NCCL or HCCL, through native/), as vLLM's
 * PyNcclCommunicator and FastVideo's PyHcclCommunicator: member 0 makes the unique id (root info) and
 * broadcasts it over the group's CPU side; every member joins, gets one stream of its own, and runs a
 * warm-up all-reduce. Each call is enqueued on that stream and waited for on the calling rank's thread by
 * the addon's watchdog (stream, asynchronous error, the job's abort word, the call's deadline), which
 * aborts the communicator on any failure: every member then fails with an error naming the group and the
 * call, and none hangs. This base holds the setup, the error mapping, the buffers, point to point and
 * the barrier; vendor-communicator.ts the collectives; nccl.ts and hccl.ts the vendors' numbering.
 */
import { ClosedError, dtypeError, ErrorCodes, invalidType, MultirankError, TimeoutError } from '../errors.js';
import type { AbortWord } from '../shm/wait.js';
import { DTYPES, effectiveReduceOp, REDUCE_OPS, type DType, type ReduceOp } from '../tensor/dtype.js';
import { DeviceStorage, devicePointer, indexOf, parseDevice, type Device } from '../tensor/device.js';
import { empty, type Tensor } from '../tensor/tensor.js';
import { NCCL, Status, type NativeAddon } from '../native/addon.js';
import type { VendorLibrary } from '../native/vendors.js';
import type { Copy2d } from './device-layout.js';
import type {
  CallDescriptor, CallOptions, CommCapabilities, DeviceCommunicator, DeviceKind, DeviceSideContext, GroupSpec,
  OutOptions, Received, RecvAnyOptions, RecvCallOptions, SendOptions,
} from './types.js';

/** What differs between vendors. */
export interface VendorTables {
  /** The backend's name (`nccl`, `hccl`) and the library's (`NCCL`, `HCCL`). */
  readonly name: string;
  readonly title: string;
  readonly deviceKind: Exclude<DeviceKind, 'cpu'>;
  /** The library's number for a dtype (bool travels as uint8). */
  readonly dtypes: Readonly<Partial<Record<DType, number>>>;
  /** The library's number for a reduce op, or undefined when it has none (HCCL's avg). */
  readonly ops: Readonly<Partial<Record<ReduceOp, number>>>;
}

export class VendorBase {
  readonly name: string;
  readonly rankInGroup: number;
  readonly worldSize: number;
  readonly capabilities: CommCapabilities;
  readonly recordKey: number;
  readonly device: Exclude<Device, 'cpu'>;
  protected readonly tables: VendorTables;
  protected readonly addon: NativeAddon;
  /** The addon's handle of this communicator (valid in this thread). */
  protected readonly handle: number;
  readonly #group: GroupSpec;
  readonly #cpu: DeviceCommunicator;
  readonly #shareId: DeviceSideContext['shareId'];
  readonly #abort: AbortWord | undefined;
  readonly #warm: Tensor;
  #scratch: DeviceStorage | undefined;
  #calls = 0;
  #closed = false;

  constructor(tables: VendorTables, lib: VendorLibrary, group: GroupSpec, side: DeviceSideContext, abort?: AbortWord) {
    const device = parseDevice(side.device, 'tensor.device');
    if (device === 'cpu' || !device.startsWith(tables.deviceKind)) {
      throw invalidType('tensor.device', `a ${tables.deviceKind} device`, device);
    }
    this.tables = tables;
    this.addon = lib.addon;
    this.name = tables.name;
    this.device = device;
    this.#group = group;
    this.#cpu = side.cpu;
    this.#shareId = side.shareId;
    this.#abort = abort;
    this.rankInGroup = side.cpu.rankInGroup;
    this.worldSize = side.cpu.worldSize;
    this.recordKey = side.cpu.recordKey;
    this.capabilities = Object.freeze({
      devices: Object.freeze([tables.deviceKind]), dtypes: DTYPES, reduceOps: REDUCE_OPS,
      checksCallsInBand: false, eagerSendMessages: 0, p2pTags: false, p2pAnySource: false,
    });
    const id = this.#exchangeId(lib);
    try {
      this.handle = this.addon.commInit(lib.code, this.worldSize, id, this.rankInGroup, indexOf(device));
    } catch (error) {
      const message = `Making the ${this.where()} failed: ${(error as Error).message}`;
      throw new MultirankError(ErrorCodes.DEVICE, message, { cause: error });
    }
    if (abort !== undefined) this.addon.commWatch(this.handle, abort.flags, abort.index);
    this.#warm = empty([1], { dtype: 'float32', device });
    this.#warmUp(); // as vLLM's: a one-element all-reduce before the first real call
  }

  get calls(): number {
    return this.#calls;
  }

  /** Member 0 makes the id; the CPU side broadcasts it (vLLM broadcasts it as a ByteTensor). */
  #exchangeId(lib: VendorLibrary): Uint8Array {
    const bytes = lib.code === NCCL ? 128 : 4108; // ncclUniqueId, HcclRootInfo
    const id = this.rankInGroup === 0 ? this.addon.uniqueId(lib.code) : new Uint8Array(bytes);
    if (this.#shareId !== undefined) {
      const shared = this.#shareId(this.rankInGroup === 0 ? id : undefined);
      if (shared.length !== bytes) {
        const message = `${this.where()}: a unique id of ${shared.length} bytes (expected ${bytes})`;
        throw new MultirankError(ErrorCodes.DEVICE, message);
      }
      return shared;
    }
    const carrier = empty([bytes], { dtype: 'uint8' });
    carrier.bytes().set(id);
    this.#cpu.broadcast(carrier, 0, { timeoutMs: this.#group.timeoutMs });
    return carrier.bytes().slice();
  }

  /** The communicator in messages: backend, group, ranks, device. */
  protected where(): string {
    const { name, ranks } = this.#group;
    return `${this.tables.name} communicator of group "${name}" (ranks [${ranks.join(', ')}], ${this.device})`;
  }

  /** Throws the error of a call's status, naming the group and the call. */
  protected check(status: number, call: string): void {
    if (status === Status.OK) return;
    const e = this.addon.lastError(this.handle);
    const what = `${this.tables.title} ${call} on the ${this.where()}`;
    switch (status) {
      case Status.TIMEOUT:
        throw new TimeoutError(`${what} ${e.text}: a member did not join or is stuck; the communicator was aborted`);
      case Status.JOB_ABORTED:
        if (this.#abort !== undefined) throw this.#abort.error(e.abortValue);
        throw new ClosedError(`${what} ended: the job was aborted`);
      case Status.DEAD:
        throw new ClosedError(`${what} cannot run: the communicator was aborted after an earlier failure (${e.text})`);
      case Status.ENQUEUE:
        throw new MultirankError(ErrorCodes.DEVICE, `${what} was refused: ${e.text} (code ${e.code})`);
      default:
        throw new MultirankError(
          ErrorCodes.DEVICE,
          `${what} failed: ${e.text} (code ${e.code}); the communicator was aborted`,
        );
    }
  }

  protected timeout(o: CallOptions | undefined): number {
    return o?.timeoutMs ?? this.#group.timeoutMs;
  }

  protected ptr(t: Tensor): number {
    if (t.device !== this.device) {
      throw invalidType(
        'tensor',
        `a tensor on ${this.device} (the device of the ${this.where()})`,
        `a tensor on ${t.device}`,
      );
    }
    return devicePointer(t);
  }

  protected dtype(t: Tensor | DType): number {
    const dtype = typeof t === 'string' ? t : t.dtype;
    const code = this.tables.dtypes[dtype];
    if (code === undefined) {
      throw dtypeError(`dtype ${dtype} is not supported by ${this.tables.title} (its tensors stay on the CPU)`);
    }
    return code;
  }

  /** The library's op for (dtype, op) after torch's bool mapping. */
  protected op(dtype: DType, op: ReduceOp): number {
    const code = this.tables.ops[effectiveReduceOp(dtype, op)];
    if (code === undefined) {
      throw new MultirankError(ErrorCodes.DEVICE, `${this.tables.title} has no reduce op "${op}"`);
    }
    return code;
  }

  /** Counts a collective (refused once destroyed). */
  protected started(): void {
    this.live();
    this.#calls++;
  }

  protected live(): void {
    if (this.#closed) throw new ClosedError(`The ${this.where()} was destroyed`);
  }

  protected outFor(t: Tensor, shape: readonly number[], o: OutOptions | undefined): Tensor {
    if (o?.out !== undefined) {
      this.ptr(o.out);
      return o.out;
    }
    return empty(shape, { dtype: t.dtype, device: this.device });
  }

  /** A device buffer of at least `bytes` bytes, kept for the communicator's life. */
  protected scratch(bytes: number): number {
    if (this.#scratch === undefined || this.#scratch.byteLength < bytes) {
      const grown = Math.max(bytes, 2 * (this.#scratch?.byteLength ?? 0));
      this.#scratch?.release();
      this.#scratch = new DeviceStorage(grown, this.device);
    }
    return this.#scratch.ptr;
  }

  /** Enqueues 2-D copies between device buffers on the stream (no wait; a later call waits). */
  protected copies(dst: number, src: number, plan: readonly Copy2d[], call: string): void {
    for (const c of plan) {
      const status = this.addon.copy2d(
        this.handle, dst + c.dstOffset, c.dpitch, src + c.srcOffset, c.spitch, c.width, c.height, -1,
      );
      this.check(status, call);
    }
  }

  /** Blocks until `dst` received the message (a rendezvous send: no eager bound). Tag 0 only (no tags here). */
  send(t: Tensor, dst: number, o?: SendOptions): void {
    this.live();
    this.#tagZero(o?.tag, 'send');
    this.check(this.addon.send(this.handle, this.ptr(t), t.numel, this.dtype(t), dst, this.timeout(o)), 'send');
  }

  /** The library checks the message's size and type against the send (the shim fails both on a mismatch). */
  recv(shape: readonly number[], dtype: DType, src: number, o?: RecvCallOptions): Tensor {
    this.live();
    this.#tagZero(o?.tag, 'recv');
    const out = o?.out ?? empty(shape, { dtype, device: this.device });
    this.check(this.addon.recv(this.handle, this.ptr(out), out.numel, this.dtype(dtype), src, this.timeout(o)), 'recv');
    return out;
  }

  /**
   * Sends and receives in one group (vLLM's batch_isend_irecv), so that they progress together: an
   * exchange in both directions, or with this member itself, cannot deadlock. Returns once all are done.
   */
  exchange(
    sends: readonly { send: Tensor; peer: number }[],
    recvs: readonly { recv: Tensor; peer: number }[],
    o?: CallOptions,
  ): void {
    this.live();
    const ops: number[] = [];
    for (const { send, peer } of sends) ops.push(0, this.ptr(send), send.numel, this.dtype(send), peer);
    for (const { recv, peer } of recvs) ops.push(1, this.ptr(recv), recv.numel, this.dtype(recv), peer);
    this.check(this.addon.batch(this.handle, Float64Array.from(ops), this.timeout(o)), 'send/recv batch');
  }

  /** NCCL and HCCL have no receive from any source (`capabilities.p2pAnySource` is false). */
  recvAnySource(_shape: readonly number[], _dtype: DType, _o?: RecvAnyOptions): Received {
    throw invalidType('options.src', `a group rank: ${this.name} has no receive from any source`, 'any');
  }

  /** No probe in NCCL or HCCL: a device irecv completes when it is waited on. */
  probe(_src: number | 'any', _tag?: number, _reserved?: readonly number[]): boolean {
    return false;
  }

  /** The coordinator refuses other tags by capability; this asserts it (messages match by order only). */
  #tagZero(tag: number | undefined, op: string): void {
    if (tag !== undefined && tag !== 0) throw invalidType('options.tag', `0: ${this.name} ${op} has no tags`, tag);
  }

  /** A one-element all-reduce, as vLLM's device barrier. */
  barrier(o?: CallOptions): void {
    this.started();
    this.#warmUp(o);
  }

  #warmUp(o?: CallOptions): void {
    const p = this.ptr(this.#warm);
    const status = this.addon.allReduce(
      this.handle, p, p, 1, this.dtype('float32'), this.tables.ops.sum!, this.timeout(o),
    );
    this.check(status, 'barrier');
  }

  agree(call: CallDescriptor, o?: CallOptions): void {
    this.#cpu.agree(call, o);
  }

  /** Ends the communicator and frees its device buffers. Idempotent. */
  destroy(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.addon.commDestroy(this.handle, false);
    this.#warm.release();
    this.#scratch?.release();
  }

  /**
   * The time `run`'s work took on the device's clock (ms), between two events recorded on this
   * communicator's stream (cudaEventElapsedTime / aclrtEventElapsedTime).
   */
  deviceTime(run: () => void): number {
    this.live();
    this.addon.timerStart(this.handle);
    run();
    return this.addon.timerStop(this.handle);
  }

  /** Test seam (CPU shims only): this member's collectives after `after` more hang (1) or fail (2). */
  injectFault(mode: 1 | 2, after = 0): boolean {
    return this.addon.commFault(this.handle, mode, after);
  }
}
