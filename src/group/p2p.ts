/**
 * A group's point to point, as torch and vLLM have it: `send` / `recv` (default peers: the next and the
 * previous member, as vLLM's), tags (messages match by source and tag, in order per pair of them, as MPI
 * and torch match), a receive from any source that says who sent (torch's `recv` without `src`), and the
 * async forms `isend` / `irecv`, whose ordering rules are in work.ts. Arguments are checked here; the call
 * goes to the communicator of the tensor's device, which must have the capability a tag or an any-source
 * receive needs (the device sides of NCCL and HCCL have neither, and say so).
 */
import { describe, invalidType, outOfRange } from '../errors.js';
import { deviceKind } from '../comm/registry.js';
import { P2P_TAG_MAX, type DeviceCommunicator, type Received } from '../comm/types.js';
import { parseDevice } from '../tensor/device.js';
import { dtypeInfo, type DType } from '../tensor/dtype.js';
import { checkShape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { checkOutShape } from './args.js';
import { GroupCollectives } from './collectives.js';
import { CompletedWork, type Work } from './work.js';

/** Options of send / isend. */
export interface SendOptions {
  /** Group rank of the receiver (default: the next member). */
  dst?: number;
  /** Only a receive with this tag takes the message: 0..P2P_TAG_MAX (default 0). */
  tag?: number;
  timeoutMs?: number;
}

/** Options of recv / irecv from one member. */
export interface RecvOptions {
  /** Group rank of the sender (default: the previous member, as vLLM's). */
  src?: number;
  /** Only a message sent with this tag matches: 0..P2P_TAG_MAX (default 0). */
  tag?: number;
  timeoutMs?: number;
  out?: Tensor;
  /** Receive on this device (`cuda:N`, `npu:N`) when no `out` says where; default the CPU. */
  device?: string;
}

/** Options of recv / irecv from any member (torch's `recv` without `src`). */
export interface RecvAnySourceOptions extends Omit<RecvOptions, 'src'> {
  src: 'any';
}

/** What a receive from any source gives: the tensor and the group rank of the member that sent it. */
export type { Received } from '../comm/types.js';

/** Throws unless `value` is a tag: an integer in 0..P2P_TAG_MAX. */
export function checkTag(name: string, value: unknown): number {
  if (value === undefined) return 0;
  const allowed = `an integer tag in 0..${P2P_TAG_MAX}`;
  if (typeof value !== 'number') throw invalidType(name, allowed, value);
  if (!Number.isInteger(value) || value < 0 || value > P2P_TAG_MAX) {
    throw outOfRange(`Expected \`${name}\` to be ${allowed}, got ${describe(value)}`);
  }
  return value;
}

export class GroupPointToPoint extends GroupCollectives {
  /**
   * Sends `t` to member `dst` (default: the next member) with `tag` (default 0). Eager: returns once the
   * data is posted, without waiting for the recv, unless that peer has `capabilities.eagerSendMessages`
   * unread messages.
   */
  send(t: Tensor, options: SendOptions = {}): void {
    const { dst, tag } = this.#sendArgs(t, options);
    const side = this.#tagged(this.p2p(t), tag);
    side.send(t, dst, this.opts({ timeoutMs: options.timeoutMs, tag }));
  }

  /** torch's isend: posts `t` at once (as `send`) and returns a completed Work. */
  isend(t: Tensor, options: SendOptions = {}): Work<void> {
    this.send(t, options);
    return new CompletedWork(undefined);
  }

  /**
   * Receives a tensor of `shape` and `dtype` with `tag` (default 0) from member `src` (default: the
   * previous member): a new tensor, or `options.out` (which must have that shape and dtype), as torch's
   * `recv(tensor, src)` fills. With `src: 'any'`, the first message with that tag from any member, and
   * who sent it (`{ tensor, src }`). On a device when `options.out` is on one, or `options.device` names
   * one (the device side's send waits for this recv). Earlier `irecv`s that this message could match
   * complete first (see work.ts).
   */
  recv(shape: readonly number[], dtype: DType, options: RecvAnySourceOptions): Received;
  recv(shape: readonly number[], dtype: DType, options?: RecvOptions): Tensor;
  recv(shape: readonly number[], dtype: DType, options: RecvOptions | RecvAnySourceOptions = {}): Tensor | Received {
    const { checked, src, tag, side } = this.#recvArgs(shape, dtype, options);
    const call = this.opts({ timeoutMs: options.timeoutMs, out: options.out, tag });
    if (src === 'any') {
      const reserved = this.work.beforeRecvAny(tag);
      return side.recvAnySource(checked, dtype, { ...call, reserved });
    }
    this.work.beforeRecv(src, tag);
    return side.recv(checked, dtype, src, call);
  }

  /**
   * torch's irecv: returns at once; the message is taken when the Work is waited on, when `isCompleted()`
   * finds it arrived, or before a later blocking recv that could match it. With `src: 'any'` the Work
   * gives `{ tensor, src }`.
   */
  irecv(shape: readonly number[], dtype: DType, options: RecvAnySourceOptions): Work<Received>;
  irecv(shape: readonly number[], dtype: DType, options?: RecvOptions): Work<Tensor>;
  irecv(
    shape: readonly number[], dtype: DType, options: RecvOptions | RecvAnySourceOptions = {},
  ): Work<Tensor> | Work<Received> {
    const { checked, src, tag, side } = this.#recvArgs(shape, dtype, options);
    const call = this.opts({ timeoutMs: options.timeoutMs, out: options.out, tag });
    if (src === 'any') {
      const take = (reserved: number[]): Received => side.recvAnySource(checked, dtype, { ...call, reserved });
      return this.work.recvAny(tag, take, (reserved) => side.probe('any', tag, reserved));
    }
    return this.work.recv(src, tag, () => side.recv(checked, dtype, src, call), () => side.probe(src, tag));
  }

  /** As `isend`. */
  sendAsync(t: Tensor, options: SendOptions = {}): Work<void> {
    return this.isend(t, options);
  }

  /** As `irecv`. */
  recvAsync(shape: readonly number[], dtype: DType, options: RecvAnySourceOptions): Work<Received>;
  recvAsync(shape: readonly number[], dtype: DType, options?: RecvOptions): Work<Tensor>;
  recvAsync(
    shape: readonly number[], dtype: DType, options: RecvOptions | RecvAnySourceOptions = {},
  ): Work<Tensor> | Work<Received> {
    return this.irecv(shape, dtype, options as RecvOptions);
  }

  /** The side a recv runs on: the device of `out`, or of `options.device`; else the CPU side. */
  #recvSide(options: RecvOptions | RecvAnySourceOptions): DeviceCommunicator {
    const named = options.device === undefined ? undefined : parseDevice(options.device, 'options.device');
    const device = options.out?.device ?? named ?? 'cpu';
    if (options.out !== undefined && named !== undefined && named !== device) {
      throw invalidType('options.device', `the device of \`options.out\` (${device})`, options.device);
    }
    return device === 'cpu' ? this.cpuSide : this.deviceSide(deviceKind(device), device);
  }

  /** `side`, after checking that it carries `tag` (NCCL and HCCL match by order only: tag 0). */
  #tagged(side: DeviceCommunicator, tag: number): DeviceCommunicator {
    if (tag !== 0 && !side.capabilities.p2pTags) {
      const why = `the ${side.name} side of group ${this.groupName} matches messages by order only ` +
        '(tags need CPU tensors)';
      throw invalidType('options.tag', `0: ${why}`, tag);
    }
    return side;
  }

  #sendArgs(t: Tensor, options: SendOptions): { dst: number; tag: number } {
    this.input(t);
    const dst = this.member('options.dst', options.dst ?? (this.rankInGroup + 1) % this.worldSize);
    if (dst === this.rankInGroup) {
      throw outOfRange(`\`options.dst\` (${dst}) is this rank's own group rank; send needs another member`);
    }
    return { dst, tag: checkTag('options.tag', options.tag) };
  }

  #recvArgs(
    shape: readonly number[], dtype: DType, options: RecvOptions | RecvAnySourceOptions,
  ): { checked: readonly number[]; src: number | 'any'; tag: number; side: DeviceCommunicator } {
    this.live();
    const checked = checkShape(shape);
    dtypeInfo(dtype, 'dtype');
    const tag = checkTag('options.tag', options.tag);
    const src = this.#source(options.src);
    if (options.out !== undefined) checkOutShape(options.out, dtype, checked, 'the tensor this recv takes');
    const side = this.#tagged(this.#recvSide(options), tag);
    if (src === 'any' && !side.capabilities.p2pAnySource) {
      const why = `the ${side.name} side of group ${this.groupName} has no receive from any source`;
      throw invalidType('options.src', `a group rank: ${why}`, src);
    }
    return { checked, src, tag, side };
  }

  /** `options.src`: a member other than this one (default the previous member), or 'any'. */
  #source(value: unknown): number | 'any' {
    if (value === 'any') {
      if (this.worldSize === 1) {
        throw outOfRange(`recv from any source needs another member; group ${this.groupName} has only this rank`);
      }
      return 'any';
    }
    if (typeof value === 'string') {
      throw invalidType('options.src', `a rank of this group (0..${this.worldSize - 1}) or "any"`, value);
    }
    return this.namedSource(value);
  }

  /** `options.src` of a receive from one member: another member (default the previous one). */
  protected namedSource(value: unknown): number {
    const src = this.member('options.src', value ?? (this.rankInGroup - 1 + this.worldSize) % this.worldSize);
    if (src === this.rankInGroup) {
      throw outOfRange(`\`options.src\` (${src}) is this rank's own group rank; recv needs another member`);
    }
    return src;
  }
}
