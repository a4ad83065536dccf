/**
 * multirank: run multi-rank (tensor/pipeline/sequence/data/context/expert-parallel) code with many
 * ranks in one Node process. The public surface, as an explicit list.
 */
export { launch } from './launch/launch.js';
export type { LaunchOptions } from './launch/launch.js';
export { Job } from './launch/job.js';
export type { RankHandle } from './launch/job.js';
export type { RankInfo, RankEntry } from './launch/protocol.js';
export { shutdown } from './launch/runtime.js';
export {
  initDistributedEnvironment, destroyDistributedEnvironment, distributedEnvironmentIsInitialized, getWorldGroup,
  getParallelState,
} from './state/environment.js';
export type { InitDistributedOptions } from './state/environment.js';
export { ParallelState } from './state/parallel-state.js';
export { BACKENDS, AVAILABLE_BACKENDS, NOT_IN_THIS_BUILD, NATIVE_BACKENDS } from './comm/backends.js';
export { vendorStatus } from './native/vendors.js';
export type { VendorName } from './native/vendors.js';
import './native/device-memory.js';
export type { Backend } from './comm/backends.js';
export { GroupCoordinator } from './group/coordinator.js';
export type { Work } from './group/work.js';
export type { Received, RecvOptions, RecvAnySourceOptions, SendOptions } from './group/p2p.js';
export {
  Tensor, tensor, zeros, empty, full, arange, fromTypedArray, split, chunk, cat, movedim, divide, ensureDivisibility,
  splitTensorAlongLastDim, DTYPES, REDUCE_OPS, reduceOpsFor, DEVICES, setCurrentDevice,
} from './tensor/index.js';
export type { DType, ReduceOp, Scalar, ComplexPair, Device } from './tensor/index.js';
export {
  MultirankError, TimeoutError, MismatchError, RankFailedError, ArenaFullError, ClosedError, StoreError, ErrorCodes,
} from './errors.js';
export { TCPStore, HashStore, PrefixStore, StatelessProcessGroup } from './store/index.js';
export type { Store, StoreValue, TCPStoreOptions, StatelessProcessGroupOptions } from './store/index.js';
export { MessageQueue } from './shm/message-queue.js';
export type { GroupQueueEnd } from './shm/message-queue.js';
