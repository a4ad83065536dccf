/**
 * The collectives of a vendor's device side (the setup, errors, buffers and point to point are in
 * vendor-base.ts). NCCL and HCCL gather and scatter along dim 0 of flat buffers: along another dim the
 * parts go through a staging buffer with 2-D copies (device-layout.ts); gather and all-to-all are
 * grouped sends and receives, as torch does them. Every call waits for its stream before it returns.
 */
import type { ReduceOp } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';
import { packParts, partsOf, unpackParts, type Copy2d } from './device-layout.js';
import type { CallOptions, DeviceCommunicator, OutOptions } from './types.js';
import { VendorBase } from './vendor-base.js';

export type { VendorTables } from './vendor-base.js';

/** Send (0) or receive (1) of `count` elements at `ptr` with `peer`, as the addon's batch takes them. */
const op = (recv: 0 | 1, ptr: number, count: number, dtype: number, peer: number): number[] =>
  [recv, ptr, count, dtype, peer];

export class VendorCommunicator extends VendorBase implements DeviceCommunicator {
  allReduce(t: Tensor, reduceOp: ReduceOp, o?: OutOptions): Tensor {
    this.started();
    const out = this.outFor(t, t.shape, o);
    const code = this.op(t.dtype, reduceOp);
    const status = this.addon.allReduce(
      this.handle, this.ptr(t), this.ptr(out), t.numel, this.dtype(t), code, this.timeout(o),
    );
    this.check(status, 'all-reduce');
    return out;
  }

  allGather(t: Tensor, dim: number, o?: OutOptions): Tensor {
    this.started();
    const shape = scaled(t.shape, dim, this.worldSize);
    const out = this.outFor(t, shape, o);
    const parts = partsOf(shape, dim, this.worldSize, t.itemBytes);
    const direct = parts.outer <= 1;
    const target = direct ? this.ptr(out) : this.scratch(out.byteLength);
    const timeout = direct ? this.timeout(o) : -1;
    this.check(this.addon.allGather(this.handle, this.ptr(t), target, t.numel, this.dtype(t), timeout), 'all-gather');
    if (!direct) this.#placeAndWait(this.ptr(out), target, unpackParts(parts, this.worldSize), o, 'all-gather');
    return out;
  }

  reduceScatter(t: Tensor, dim: number, reduceOp: ReduceOp, o?: OutOptions): Tensor {
    this.started();
    const parts = partsOf(t.shape, dim, this.worldSize, t.itemBytes);
    const out = this.outFor(t, scaled(t.shape, dim, 1 / this.worldSize), o);
    const code = this.op(t.dtype, reduceOp);
    let source = this.ptr(t);
    if (parts.outer > 1) {
      source = this.scratch(t.byteLength);
      this.copies(source, this.ptr(t), packParts(parts, this.worldSize), 'reduce-scatter');
    }
    const count = t.numel / this.worldSize;
    const status = this.addon.reduceScatter(
      this.handle, source, this.ptr(out), count, this.dtype(t), code, this.timeout(o),
    );
    this.check(status, 'reduce-scatter');
    return out;
  }

  gather(t: Tensor, dst: number, dim: number, o?: OutOptions): Tensor | null {
    this.started();
    const mine = this.ptr(t), dtype = this.dtype(t);
    if (this.rankInGroup !== dst) {
      this.check(
        this.addon.batch(this.handle, Float64Array.from(op(0, mine, t.numel, dtype, dst)), this.timeout(o)), 'gather',
      );
      return null;
    }
    const shape = scaled(t.shape, dim, this.worldSize);
    const out = this.outFor(t, shape, o);
    const parts = partsOf(shape, dim, this.worldSize, t.itemBytes);
    const direct = parts.outer <= 1;
    const target = direct ? this.ptr(out) : this.scratch(out.byteLength);
    const ops = op(0, mine, t.numel, dtype, dst);
    for (let j = 0; j < this.worldSize; j++) ops.push(...op(1, target + j * parts.partBytes, t.numel, dtype, j));
    this.check(this.addon.batch(this.handle, Float64Array.from(ops), direct ? this.timeout(o) : -1), 'gather');
    if (!direct) this.#placeAndWait(this.ptr(out), target, unpackParts(parts, this.worldSize), o, 'gather');
    return out;
  }

  broadcast(t: Tensor, src: number, o?: CallOptions): Tensor {
    this.started();
    const p = this.ptr(t);
    this.check(this.addon.broadcast(this.handle, p, p, t.numel, this.dtype(t), src, this.timeout(o)), 'broadcast');
    return t;
  }

  reduce(t: Tensor, dst: number, reduceOp: ReduceOp, o?: OutOptions): Tensor {
    this.started();
    const root = this.rankInGroup === dst;
    const out = root ? this.outFor(t, t.shape, o) : t;
    const code = this.op(t.dtype, reduceOp);
    const recv = root ? this.ptr(out) : 0;
    const status = this.addon.reduce(
      this.handle, this.ptr(t), recv, t.numel, this.dtype(t), code, dst, this.timeout(o),
    );
    this.check(status, 'reduce');
    return out;
  }

  allToAll(t: Tensor, scatterDim: number, gatherDim: number, o?: OutOptions): Tensor {
    this.started();
    const w = this.worldSize;
    const inParts = partsOf(t.shape, scatterDim, w, t.itemBytes);
    const shape = scaled(scaled(t.shape, scatterDim, 1 / w), gatherDim, w);
    const out = this.outFor(t, shape, o);
    const outParts = partsOf(shape, gatherDim, w, t.itemBytes);
    let source = this.ptr(t);
    const packed = inParts.outer > 1, direct = outParts.outer <= 1;
    if (packed) {
      source = this.scratch(2 * t.byteLength);
      this.copies(source, this.ptr(t), packParts(inParts, w), 'all-to-all');
    }
    const target = direct ? this.ptr(out) : packed ? source + t.byteLength : this.scratch(t.byteLength);
    const count = t.numel / w, dtype = this.dtype(t);
    const ops: number[] = [];
    for (let j = 0; j < w; j++) {
      ops.push(
        ...op(0, source + j * inParts.partBytes, count, dtype, j),
        ...op(1, target + j * outParts.partBytes, count, dtype, j)
      );
    }
    this.check(this.addon.batch(this.handle, Float64Array.from(ops), direct ? this.timeout(o) : -1), 'all-to-all');
    if (!direct) this.#placeAndWait(this.ptr(out), target, unpackParts(outParts, w), o, 'all-to-all');
    return out;
  }

  /** Enqueues the copies that place a staged result, then waits for the stream. */
  #placeAndWait(dst: number, src: number, plan: readonly Copy2d[], o: CallOptions | undefined, call: string): void {
    this.copies(dst, src, plan, call);
    this.check(this.addon.sync(this.handle, this.timeout(o)), call);
  }
}

/** `shape` with dim `dim` multiplied by `factor` (a scalar counts as [1]). */
function scaled(shape: readonly number[], dim: number, factor: number): number[] {
  const s = shape.length === 0 ? [1] : [...shape];
  s[dim] = s[dim]! * factor;
  return s;
}
