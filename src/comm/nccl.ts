/**
 * The nccl backend: device tensors on `cuda:N` through NCCL (as vLLM's PyNcclCommunicator binds it),
 * loaded at run time by native/. NCCL's numbering: ncclDataType_t (bool travels as uint8, with sum as
 * max and prod as min, as torch does) and ncclRedOp_t (avg is NCCL's own, from 2.10).
 */
import type { AbortWord } from '../shm/wait.js';
import { loadVendor } from '../native/vendors.js';
import type { DeviceCommunicator, DeviceSideContext, GroupSpec } from './types.js';
import { VendorCommunicator, type VendorTables } from './vendor-communicator.js';

/**
 * ncclInt8 0, ncclUint8 1, ncclInt32 2, ncclUint32 3, ncclInt64 4, ncclUint64 5, ncclFloat16 6, ncclFloat32 7,
 * ncclFloat64 8, ncclBfloat16 9; ncclSum 0, ncclProd 1, ncclMax 2, ncclMin 3, ncclAvg 4.
 */
export const NCCL_TABLES: VendorTables = Object.freeze({
  name: 'nccl',
  title: 'NCCL',
  deviceKind: 'cuda',
  dtypes: Object.freeze({
    int8: 0, uint8: 1, bool: 1, int32: 2, int64: 4, float16: 6, float32: 7, float64: 8, bfloat16: 9,
  }),
  ops: Object.freeze({ sum: 0, prod: 1, max: 2, min: 3, avg: 4 }),
});

/**
 * The nccl device side of a group: loads NCCL and the CUDA runtime (BACKEND_UNAVAILABLE naming every path
 * tried when they are missing), then makes the communicator over the group's CPU side.
 */
export function createNcclCommunicator(
  group: GroupSpec, side: DeviceSideContext | undefined, abort?: AbortWord,
): DeviceCommunicator {
  if (side === undefined) throw new TypeError('the nccl communicator needs the group\'s CPU side and device');
  return new VendorCommunicator(NCCL_TABLES, loadVendor('nccl'), group, side, abort);
}
