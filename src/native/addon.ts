/**
 * The native addon (native/, built by node-gyp at install): its JavaScript surface, and loading it. The
 * addon is context-aware, so every rank's worker thread loads its own instance; the vendor libraries it
 * opens are shared by the process. When it was not built, `nativeAddon()` throws with the build's reason
 * (native/build/status.json), which the nccl and hccl backends pass on to their users.
 */
import { ErrorCodes, MultirankError } from '../errors.js';
import { NativeModule, type BuildRecord } from './native-module.js';
import { packageFile } from '../package-files.js';

/** Vendor numbers of the addon: NCCL + CUDA runtime, HCCL + ACL. */
export const NCCL = 0;
export const HCCL = 1;
export type VendorCode = typeof NCCL | typeof HCCL;

/** What `load` and `info` report about a vendor's libraries. */
export interface LibraryInfo {
  readonly loaded: boolean;
  readonly ccl?: string;
  readonly runtime?: string;
  readonly version?: string;
  /** True for multirank's CPU shims (they export the fault seam). */
  readonly shim?: boolean;
  /** `path: why it was not used`, for every candidate that failed (load only). */
  readonly tried?: readonly string[];
}

/** Results of the collective calls: 0 done; otherwise `lastError(handle)` has the details. */
export const Status = { OK: 0, ENQUEUE: 1, TIMEOUT: 2, ASYNC: 3, JOB_ABORTED: 4, RUNTIME: 5, DEAD: 6 } as const;

export interface CallError {
  readonly status: number;
  /** The vendor's (or the runtime's) error code. */
  readonly code: number;
  readonly text: string;
  /** The job's abort word when the job was aborted. */
  readonly abortValue: number;
}

/**
 * The addon's functions. Pointers are Numbers; a timeout below 0 enqueues without waiting. Device memory
 * calls take the device index and make it current on the calling thread.
 */
export interface NativeAddon {
  readonly abi: number;
  /** sched_yield: gives this thread's core to another runnable thread, if any. */
  yieldThread(): void;
  load(vendor: VendorCode, ccl: readonly string[], runtime: readonly string[]): LibraryInfo;
  info(vendor: VendorCode): LibraryInfo;
  malloc(vendor: VendorCode, device: number, bytes: number): number;
  free(vendor: VendorCode, device: number, ptr: number): void;
  upload(vendor: VendorCode, device: number, dst: number, src: ArrayBufferView): void;
  download(vendor: VendorCode, device: number, dst: ArrayBufferView, src: number): void;
  copyDevice(vendor: VendorCode, device: number, dst: number, src: number, bytes: number): void;
  fill(vendor: VendorCode, device: number, ptr: number, byte: number, bytes: number): void;
  deviceCount(vendor: VendorCode): number;
  /** The shim's count of live device allocations; -1 with a vendor's library. */
  liveAllocations(vendor: VendorCode): number;
  uniqueId(vendor: VendorCode): Uint8Array;
  /** Blocks until every rank of `id` joined. Returns a handle (valid in this thread only). */
  commInit(vendor: VendorCode, nranks: number, id: Uint8Array, rank: number, device: number): number;
  commWatch(handle: number, words: Int32Array, index: number): void;
  commDestroy(handle: number, abort: boolean): void;
  commFault(handle: number, mode: number, after: number): boolean;
  lastError(handle: number): CallError;
  allReduce(h: number, send: number, recv: number, count: number, dtype: number, op: number, timeoutMs: number): number;
  allGather(h: number, send: number, recv: number, count: number, dtype: number, timeoutMs: number): number;
  reduceScatter(
    h: number, send: number, recv: number, count: number, dtype: number, op: number, timeoutMs: number,
  ): number;
  broadcast(
    h: number, send: number, recv: number, count: number, dtype: number, root: number, timeoutMs: number,
  ): number;
  reduce(
    h: number, send: number, recv: number, count: number, dtype: number, op: number, root: number, timeoutMs: number,
  ): number;
  send(h: number, ptr: number, count: number, dtype: number, peer: number, timeoutMs: number): number;
  recv(h: number, ptr: number, count: number, dtype: number, peer: number, timeoutMs: number): number;
  /** Sends and receives in one group: [isRecv, pointer, count, dtype, peer] per operation. */
  batch(h: number, ops: Float64Array, timeoutMs: number): number;
  copy2d(
    h: number, dst: number, dpitch: number, src: number, spitch: number, width: number, height: number,
    timeoutMs: number,
  ): number;
  sync(h: number, timeoutMs: number): number;
  /** Records an event on the communicator's stream (the start of a device-side timing). */
  timerStart(h: number): void;
  /** Records another, waits for it, returns the ms between the two on the device's clock. */
  timerStop(h: number): number;
  /** `iters` float32 sum all-reduces driven from C on this thread's communicator; mean ns per call. */
  benchLoop(h: number, send: number, recv: number, count: number, iters: number): number;
  /** The library driven from C: every rank's mean ns per float32 sum all-reduce of `count` elements. */
  benchC(vendor: VendorCode, ranks: number, iters: number, count: number): number[];
  /** The TCPStore server on a thread of its own (native/src/store-server.cc); host "": every interface. */
  readonly NativeStoreServer: new (host: string, port: number) => NativeStoreServerHandle;
}

/** The native TCPStore server's handle; keys are their wire bytes. */
export interface NativeStoreServerHandle {
  readonly port: number;
  stats(): { connections: number; protocolErrors: number; lastProtocolError: string };
  get(key: Buffer): Buffer | undefined;
  /** As a client's SET: wakes the key's waiters. */
  set(key: Buffer, value: Uint8Array): void;
  /** Stops the server's thread and closes every connection (returns once they are closed). */
  close(): void;
}

const ADDON = new NativeModule<NativeAddon>(
  packageFile('native/build/Release/multirank_native.node'), 'the native addon',
  (status) => status as unknown as BuildRecord,
);

/** The addon of this thread, or undefined when it is missing (`nativeAddon()` says why). */
export function tryNativeAddon(): NativeAddon | undefined {
  return ADDON.load();
}

/** Why this thread has no addon (undefined when it has one): what `nativeAddon()` throws. */
export function nativeAddonMissing(): string | undefined {
  return ADDON.load() === undefined ? ADDON.reason() : undefined;
}

/** The addon of this thread; throws BACKEND_UNAVAILABLE with the reason when it is missing. */
export function nativeAddon(): NativeAddon {
  const addon = ADDON.load();
  if (addon === undefined) throw new MultirankError(ErrorCodes.BACKEND_UNAVAILABLE, ADDON.reason()!);
  return addon;
}
