/**
 * The MPI binding (native/, `multirank_mpi.node`, built only where an MPI library was found): its JavaScript
 * surface, and loading it. MPI itself is process-wide (initialised once, MPI_THREAD_MULTIPLE, by whichever
 * thread calls `init` first); each rank thread loads its own instance of the addon and shares that MPI.
 * When the binding is missing, `mpiBinding()` throws BACKEND_UNAVAILABLE with the build's reason
 * (native/build/status.json), which the `mpi` backend passes on to its users.
 */
import { ErrorCodes, MultirankError } from '../errors.js';
import { NativeModule, type BuildRecord } from './native-module.js';
import { packageFile } from '../package-files.js';

/** What the binding's waiting calls return: 0 done; otherwise `lastError()` says why. */
export const MpiStatus = { OK: 0, POST: 1, TIMEOUT: 2, FAILED: 3, JOB_ABORTED: 4, DEAD: 6 } as const;

/** Handle of MPI_COMM_WORLD. */
export const MPI_WORLD = 0;
/**
 * Tags of point-to-point messages and group creations: 0..MPI_TAG_LIMIT-1 (MPI guarantees 32767 tags; the
 * binding keeps the last, 32766, for allGatherDirect).
 */
export const MPI_TAG_LIMIT = 32766;

export interface MpiWorld {
  /** This process's rank in MPI_COMM_WORLD, and how many processes it has. */
  readonly rank: number;
  readonly size: number;
  /** The thread level MPI gave (3: MPI_THREAD_MULTIPLE; init fails below it). */
  readonly threadLevel: number;
  /** The library's name and version (`Open MPI v4.1.4`). */
  readonly library: string;
}

export interface MpiCallError {
  readonly status: number;
  /** The MPI error class, or the job's abort word. */
  readonly code: number;
  readonly text: string;
}

/**
 * The binding's functions. Handles are numbers (0: the world). Buffers are Uint8Arrays, also over shared
 * memory; MPI reads and writes them in place while the call waits on the calling thread.
 */
export interface MpiBinding {
  readonly abi: number;
  /** MPI_Init_thread once per process (later calls return the same world). Throws when MPI cannot start. */
  init(): MpiWorld;
  /** A communicator of the parent's ranks `ranks` (this process among them): handle, or -1 (lastError). */
  commCreate(parent: number, ranks: Int32Array, tag: number, timeoutMs: number): number;
  /** MPI_Comm_split over every process of the parent: handle, -2 for color < 0, or -1 (lastError). */
  commSplit(parent: number, color: number, key: number, timeoutMs: number): number;
  commRank(handle: number): number;
  commSize(handle: number): number;
  commFree(handle: number): void;
  allGather(handle: number, send: Uint8Array, recv: Uint8Array, timeoutMs: number): number;
  /** allGather by point to point (a message from each process to every other): for small inputs. */
  allGatherDirect(handle: number, send: Uint8Array, recv: Uint8Array, timeoutMs: number): number;
  allToAll(handle: number, send: Uint8Array, recv: Uint8Array, timeoutMs: number): number;
  broadcast(handle: number, buf: Uint8Array, root: number, timeoutMs: number): number;
  barrier(handle: number, timeoutMs: number): number;
  /** Posts an eager send of `buf` (a private copy: MPI reads it until the send completes) and returns. */
  isend(handle: number, buf: Uint8Array, peer: number, tag: number): number;
  /** Waits until at most `most` eager sends of this thread to `peer` (< 0: any) are still on their way. */
  waitSends(handle: number, peer: number, most: number, timeoutMs: number): number;
  /** Waits for the next message from `peer` with `tag`: its byte count (it is matched for this thread), or -1. */
  probeWait(handle: number, peer: number, tag: number, timeoutMs: number): number;
  /** Receives the message `probeWait` matched; `buf` must be exactly its size. */
  recvMatched(buf: Uint8Array): number;
  /** The byte count of a message waiting from `peer` with `tag`, or -1. Never waits. */
  probe(handle: number, peer: number, tag: number): number;
  /** This thread's waits also end when `words[index]` is non-zero (the job's abort word); null stops. */
  watch(words: Int32Array | null, index?: number): void;
  lastError(): MpiCallError;
  /** MPI_Abort of the world: mpirun ends every process of the job with `code`. */
  abort(code: number): void;
  /** MPI_Finalize, once; from the thread that initialised MPI. */
  finalize(): void;
}

const BINDING = new NativeModule<MpiBinding>(
  packageFile('native/build/Release/multirank_mpi.node'), 'the MPI binding',
  (status) => status.mpi as BuildRecord | undefined,
);

/** Why the `mpi` backend cannot run in this build, or undefined when its binding loads. */
export function mpiUnavailableReason(): string | undefined {
  return BINDING.load() === undefined ? BINDING.reason() : undefined;
}

/** The binding of this thread; throws BACKEND_UNAVAILABLE with the reason when it is missing. */
export function mpiBinding(): MpiBinding {
  const reason = mpiUnavailableReason();
  if (reason !== undefined) {
    throw new MultirankError(ErrorCodes.BACKEND_UNAVAILABLE, `The "mpi" backend is unavailable: ${reason}`);
  }
  return BINDING.load()!;
}
