/** The tensor layer: dtypes, Tensor, constructors and shape ops. */
export {
  DTYPES, REDUCE_OPS, dtypeInfo, isDType, checkReduceOp, effectiveReduceOp, reduceOpRefusal, reduceOpsFor,
} from './dtype.js';
export type { DType, ReduceOp, DTypeInfo, StorageArray } from './dtype.js';
export { Tensor, DEVICES, empty, encodeScalar, encodeComplex } from './tensor.js';
export type { Device, Scalar, ComplexPair, TensorOptions } from './tensor.js';
export { tensor, zeros, full, arange, fromTypedArray } from './factory.js';
export { split, chunk, cat, movedim, permute, divide, ensureDivisibility, splitTensorAlongLastDim } from './ops.js';
export { Storage, allocateStorage, setDefaultArena } from './storage.js';
export type { JobScope } from './storage.js';
export { DeviceStorage, parseDevice, setCurrentDevice, registerDeviceMemory, devicePointer } from './device.js';
export type { DeviceMemory, AcceleratorKind } from './device.js';
export { bf16ToNumber, numberToBf16, f16ToNumber, numberToF16 } from './half.js';
