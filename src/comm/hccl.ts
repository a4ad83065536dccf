/**
 * The hccl backend: device tensors on `npu:N` through HCCL (as FastVideo's PyHcclCommunicator binds it),
 * loaded at run time by native/. What differs from NCCL: HcclDataType numbers the dtypes differently
 * (bfloat16 is 11, not 9), the root info is 4108 bytes, broadcast is in place, and there is no average:
 * avg runs as a sum, then a division by the group size on the result, in the dtype's precision (float32
 * for the 16-bit floats), as torch_npu does. For float32 and float64 that is bit for bit torch's avg; for
 * float16 and bfloat16 the sum is rounded to 16 bits before the division (once more than NCCL's avg).
 */
import type { AbortWord } from '../shm/wait.js';
import { loadVendor } from '../native/vendors.js';
import { divideAsAvg } from '../tensor/ops.js';
import type { ReduceOp } from '../tensor/dtype.js';
import { empty, type Tensor } from '../tensor/tensor.js';
import type { DeviceCommunicator, DeviceSideContext, GroupSpec, OutOptions } from './types.js';
import { VendorCommunicator, type VendorTables } from './vendor-communicator.js';

/**
 * HCCL_DATA_TYPE_*: INT8 0, INT16 1, INT32 2, FP16 3, FP32 4, INT64 5, UINT64 6, UINT8 7, UINT16 8, UINT32 9,
 * FP64 10, BFP16 11; HCCL_REDUCE_*: SUM 0, PROD 1, MAX 2, MIN 3 (no average).
 */
export const HCCL_TABLES: VendorTables = Object.freeze({
  name: 'hccl',
  title: 'HCCL',
  deviceKind: 'npu',
  dtypes: Object.freeze({
    int8: 0, int32: 2, float16: 3, float32: 4, int64: 5, uint8: 7, bool: 7, float64: 10, bfloat16: 11,
  }),
  ops: Object.freeze({ sum: 0, prod: 1, max: 2, min: 3 }),
});

/** HCCL's communicator: the avg emulation over VendorCommunicator. */
export class HcclCommunicator extends VendorCommunicator {
  override allReduce(t: Tensor, op: ReduceOp, o?: OutOptions): Tensor {
    return op === 'avg' ? this.#scale(super.allReduce(t, 'sum', o)) : super.allReduce(t, op, o);
  }

  override reduceScatter(t: Tensor, dim: number, op: ReduceOp, o?: OutOptions): Tensor {
    return op === 'avg' ? this.#scale(super.reduceScatter(t, dim, 'sum', o)) : super.reduceScatter(t, dim, op, o);
  }

  override reduce(t: Tensor, dst: number, op: ReduceOp, o?: OutOptions): Tensor {
    if (op !== 'avg') return super.reduce(t, dst, op, o);
    const out = super.reduce(t, dst, 'sum', o);
    return this.rankInGroup === dst ? this.#scale(out) : out;
  }

  /** The division of the emulated avg, on the host (a device has no kernel here): down, divide, up. */
  #scale(t: Tensor): Tensor {
    const host = empty(t.shape, { dtype: t.dtype }).copyFrom(t);
    divideAsAvg(t.dtype, host.data, this.worldSize);
    return t.copyFrom(host);
  }
}

/** The hccl device side of a group: loads HCCL and ACL (BACKEND_UNAVAILABLE naming every path tried). */
export function createHcclCommunicator(
  group: GroupSpec, side: DeviceSideContext | undefined, abort?: AbortWord,
): DeviceCommunicator {
  if (side === undefined) throw new TypeError('the hccl communicator needs the group\'s CPU side and device');
  return new HcclCommunicator(HCCL_TABLES, loadVendor('hccl'), group, side, abort);
}
