/**
 * The checks every communicator gets, in one place: a released communicator throws on every later use;
 * each call is numbered into the rank's flight recorder (what the deadlock report and the dumps read);
 * chaos mode delays it; tracing times it with nccl-tests' byte accounting; and when calls are checked,
 * the members' call fingerprints are compared — by the communicator itself when it can do so inside its
 * own synchronisation (`capabilities.checksCallsInBand`, threads), else here, by agreeing on the call
 * over the group's CPU side before the call runs.
 *
 * What each costs: the record, the destroyed test and the chaos/trace tests are a few loads and stores
 * per call, always on (no allocation: a call's descriptor is built only for an out-of-band agreement).
 * The in-band fingerprint of threads measured 0-4 % of a 4-byte allReduce at 2 ranks before it moved
 * behind this wrapper (docs/BENCHMARKS.md; not re-measured since). The out-of-band agreement is one CPU
 * barrier per device call, on by default and off with MULTIRANK_CHECK_CALLS=0; on a loaded 2-core machine
 * it measured hundreds of µs per call (the shim's section of docs/BENCHMARKS.md).
 */
import { ClosedError } from '../errors.js';
import { OPS, type OpName } from '../debug/rank-status.js';
import { nowUs } from '../debug/trace.js';
import { dtypeInfo, type DType, type ReduceOp } from '../tensor/dtype.js';
import { numelOf } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { ncclTestsBytes } from './accounting.js';
import type {
  CallDescriptor, CallOptions, CommCapabilities, CommContext, DeviceCommunicator, GroupSpec, OutOptions, Received,
  RecvAnyOptions, RecvCallOptions, SendOptions,
} from './types.js';

const OP_INDEX = Object.fromEntries(OPS.map((name, i) => [name, i])) as Record<OpName, number>;

/** What a communicator may add to a trace slice: how a call of `bytes` travelled. */
interface Describes {
  algorithm?(op: string, bytes: number): string;
}

export class CheckedCommunicator implements DeviceCommunicator {
  readonly inner: DeviceCommunicator;
  readonly #ctx: CommContext;
  readonly #group: GroupSpec;
  /** The group's CPU side, for the out-of-band agreement (undefined: the inner one checks in band). */
  readonly #agreeOn: DeviceCommunicator | undefined;
  #destroyed = false;

  /** `cpu`: the group's CPU side, used to agree on calls when `inner` cannot check them itself. */
  constructor(inner: DeviceCommunicator, ctx: CommContext, group: GroupSpec, cpu?: DeviceCommunicator) {
    this.inner = inner;
    this.#ctx = ctx;
    this.#group = group;
    const outOfBand = group.checkCalls && !inner.capabilities.checksCallsInBand;
    this.#agreeOn = outOfBand ? cpu ?? inner : undefined;
  }

  get name(): string { return this.inner.name; }
  get rankInGroup(): number { return this.inner.rankInGroup; }
  get worldSize(): number { return this.inner.worldSize; }
  get capabilities(): CommCapabilities { return this.inner.capabilities; }
  get recordKey(): number { return this.inner.recordKey; }
  get calls(): number { return this.inner.calls; }

  allReduce(t: Tensor, op: ReduceOp, o?: OutOptions): Tensor {
    this.#enter('allReduce');
    // The descriptor is built only where it is needed: an in-band checker never allocates it.
    if (this.#agreeOn !== undefined) {
      this.#agreeOn.agree({ op: 'allReduce', dtype: t.dtype, shape: t.shape, reduceOp: op }, o);
    }
    this.#entered('allReduce', t);
    if (this.#ctx.trace === undefined) return this.inner.allReduce(t, op, o);
    return this.#traced('allReduce', t.byteLength, () => this.inner.allReduce(t, op, o));
  }

  allGather(t: Tensor, dim: number, o?: OutOptions): Tensor {
    this.#enter('allGather');
    if (this.#agreeOn !== undefined) this.#agreeOn.agree({ op: 'allGather', dtype: t.dtype, shape: t.shape, dim }, o);
    this.#entered('allGather', t);
    if (this.#ctx.trace === undefined) return this.inner.allGather(t, dim, o);
    return this.#traced('allGather', t.byteLength, () => this.inner.allGather(t, dim, o));
  }

  reduceScatter(t: Tensor, dim: number, op: ReduceOp, o?: OutOptions): Tensor {
    this.#enter('reduceScatter');
    if (this.#agreeOn !== undefined) {
      this.#agreeOn.agree({ op: 'reduceScatter', dtype: t.dtype, shape: t.shape, dim, reduceOp: op }, o);
    }
    this.#entered('reduceScatter', t);
    if (this.#ctx.trace === undefined) return this.inner.reduceScatter(t, dim, op, o);
    return this.#traced('reduceScatter', t.byteLength, () => this.inner.reduceScatter(t, dim, op, o));
  }

  gather(t: Tensor, dst: number, dim: number, o?: OutOptions): Tensor | null {
    this.#enter('gather');
    if (this.#agreeOn !== undefined) {
      this.#agreeOn.agree({ op: 'gather', dtype: t.dtype, shape: t.shape, root: dst, dim }, o);
    }
    this.#entered('gather', t);
    if (this.#ctx.trace === undefined) return this.inner.gather(t, dst, dim, o);
    return this.#traced('gather', t.byteLength, () => this.inner.gather(t, dst, dim, o));
  }

  broadcast(t: Tensor, src: number, o?: CallOptions): Tensor {
    this.#enter('broadcast');
    if (this.#agreeOn !== undefined) {
      this.#agreeOn.agree({ op: 'broadcast', dtype: t.dtype, shape: t.shape, root: src }, o);
    }
    this.#entered('broadcast', t);
    if (this.#ctx.trace === undefined) return this.inner.broadcast(t, src, o);
    return this.#traced('broadcast', t.byteLength, () => this.inner.broadcast(t, src, o));
  }

  reduce(t: Tensor, dst: number, op: ReduceOp, o?: OutOptions): Tensor {
    this.#enter('reduce');
    if (this.#agreeOn !== undefined) {
      this.#agreeOn.agree({ op: 'reduce', dtype: t.dtype, shape: t.shape, root: dst, reduceOp: op }, o);
    }
    this.#entered('reduce', t);
    if (this.#ctx.trace === undefined) return this.inner.reduce(t, dst, op, o);
    return this.#traced('reduce', t.byteLength, () => this.inner.reduce(t, dst, op, o));
  }

  allToAll(t: Tensor, scatterDim: number, gatherDim: number, o?: OutOptions): Tensor {
    this.#enter('allToAll');
    if (this.#agreeOn !== undefined) {
      this.#agreeOn.agree({ op: 'allToAll', dtype: t.dtype, shape: t.shape, dim: scatterDim, dim2: gatherDim }, o);
    }
    this.#entered('allToAll', t);
    if (this.#ctx.trace === undefined) return this.inner.allToAll(t, scatterDim, gatherDim, o);
    return this.#traced('allToAll', t.byteLength, () => this.inner.allToAll(t, scatterDim, gatherDim, o));
  }

  barrier(o?: CallOptions): void {
    this.#enter('barrier');
    if (this.#agreeOn !== undefined) this.#agreeOn.agree({ op: 'barrier' }, o);
    this.#entered('barrier', undefined);
    if (this.#ctx.trace === undefined) return this.inner.barrier(o);
    return this.#traced('barrier', 0, () => this.inner.barrier(o));
  }

  /** Agreement is itself the check: it is recorded, not agreed on again. */
  agree(call: CallDescriptor, o?: CallOptions): void {
    this.#live();
    this.#record(OP_INDEX[call.op as OpName] ?? OP_INDEX.barrier, call.dtype, call.shape);
    this.inner.agree(call, o);
  }

  /** Point to point is not fingerprinted (recv checks each message's dtype and shape against the sender's). */
  send(t: Tensor, dst: number, o?: SendOptions): void {
    this.#live();
    this.#ctx.chaos?.beforeCollective('send');
    this.#ctx.record.recordStart(0, OP_INDEX.send, this.inner.recordKey, t.info.code, t.numel);
    if (this.#ctx.trace === undefined) return this.inner.send(t, dst, o);
    return this.#traced('send', t.byteLength, () => this.inner.send(t, dst, o));
  }

  recv(shape: readonly number[], dtype: DType, src: number, o?: RecvCallOptions): Tensor {
    this.#live();
    this.#ctx.record.recordStart(0, OP_INDEX.recv, this.inner.recordKey, dtypeInfo(dtype).code, numelOf(shape));
    if (this.#ctx.trace === undefined) return this.inner.recv(shape, dtype, src, o);
    return this.#traced(
      'recv', numelOf(shape) * dtypeInfo(dtype).itemBytes, () => this.inner.recv(shape, dtype, src, o),
    );
  }

  /** Recorded and traced as a recv (the flight recorder's op table has no separate entry for it). */
  recvAnySource(shape: readonly number[], dtype: DType, o?: RecvAnyOptions): Received {
    this.#live();
    this.#ctx.record.recordStart(0, OP_INDEX.recv, this.inner.recordKey, dtypeInfo(dtype).code, numelOf(shape));
    if (this.#ctx.trace === undefined) return this.inner.recvAnySource(shape, dtype, o);
    const bytes = numelOf(shape) * dtypeInfo(dtype).itemBytes;
    return this.#traced('recv', bytes, () => this.inner.recvAnySource(shape, dtype, o));
  }

  probe(src: number | 'any', tag?: number, reserved?: readonly number[]): boolean {
    this.#live();
    return this.inner.probe(src, tag, reserved);
  }

  /** Releases the communicator; every later call throws. Idempotent. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.inner.destroy();
  }

  get destroyed(): boolean {
    return this.#destroyed;
  }

  #live(): void {
    if (this.#destroyed) {
      throw new ClosedError(
        `The ${this.#group.name} group's ${this.inner.name} communicator was destroyed; it cannot be used again`,
      );
    }
  }

  /** Before a collective: the communicator is live; chaos may delay the call. */
  #enter(op: OpName): void {
    this.#live();
    this.#ctx.chaos?.beforeCollective(op);
  }

  /** The flight-recorder entry of a collective (after the out-of-band agreement, when there is one). */
  #entered(op: OpName, t: Tensor | undefined): void {
    const code = t === undefined ? -1 : t.info.code;
    this.#ctx.record.recordStart(
      this.inner.calls + 1, OP_INDEX[op], this.inner.recordKey, code, t === undefined ? 0 : t.numel,
    );
  }

  #record(opIndex: number, dtype: DType | undefined, shape: readonly number[] | undefined): void {
    const code = dtype === undefined ? -1 : dtypeInfo(dtype).code;
    this.#ctx.record.recordStart(
      this.inner.calls + 1, opIndex, this.inner.recordKey, code, shape === undefined ? 0 : numelOf(shape),
    );
  }

  /** Runs `call` and adds it to the rank's trace, sized as nccl-tests sizes it. */
  #traced<T>(op: OpName, inputBytes: number, call: () => T): T {
    const start = nowUs();
    const value = call();
    const bytes = ncclTestsBytes(op, inputBytes, this.worldSize);
    const algorithm = (this.inner as Describes).algorithm?.(op, inputBytes);
    this.#ctx.trace!.add(
      op, 'collective', start, { bytes, group: this.#group.name, ranks: this.#group.ranks, algorithm },
    );
    return value;
  }
}
