/**
 * The cross-process half of the `mpi` backend: byte-level operations between processes over one MPI
 * communicator, with every reduction folded by the project's kernels in process order, never by MPI.
 *
 * Why not MPI's own reduction: MPI fixes neither the order in which it combines the processes' values nor
 * that every process gets the same bits (Open MPI picks its algorithm by size and process count), and it
 * has no float16 / bfloat16 / bool ops with the project's rounding. Here:
 * - small inputs (all processes' inputs <= FOLD_ALL_MAX_BYTES together): one allGather of every input,
 *   then each process folds all of them itself, in process order (one MPI call: the latency path);
 * - larger inputs: a reduce-scatter as an allToAll (block j to process j), process j folds block j of
 *   every input in process order, then an allGather of the folded blocks (2 (P-1)/P of the bytes per
 *   process, as a ring all-reduce; the bandwidth path).
 * Each element is folded once, left to right over the processes in order, by one process, with the same
 * kernel as the threads backend: the result is bit-identical everywhere and equal to a one-process fold.
 */
import { ErrorCodes, MultirankError, TimeoutError } from '../errors.js';
import type { Arena, ArenaRegion } from '../shm/arena.js';
import type { Kernels } from '../shm/kernels.js';
import type { AbortWord } from '../shm/wait.js';
import { MpiStatus, type MpiBinding } from '../native/mpi.js';
import { Scratch } from './threads/scratch.js';
import { blockElements } from './slices.js';

/** Up to this many bytes of all inputs together, reductions gather everything and fold locally. */
export const FOLD_ALL_MAX_BYTES = 64 * 1024;
/** Up to this many processes, a small allGather is point to point (each process sends to every other). */
const DIRECT_PROCESSES_MAX = 16;

/** What the cross-process operations need from their rank. */
export interface ProcessOpsContext {
  readonly binding: MpiBinding;
  readonly arena: Arena;
  readonly kernels: Kernels;
  /** The arena tag of the job the scratch regions belong to. */
  readonly owner: number;
  /** The job's abort word: every wait also ends when it is raised. */
  readonly abort?: AbortWord | undefined;
  /** Test seam: the latency path's limit (default FOLD_ALL_MAX_BYTES; 0 sends every reduction the bandwidth path). */
  readonly foldAllMaxBytes?: number | undefined;
}

/** Says who a failed wait waited for (the group's name and the members in other processes). */
export type Describe = (call: string) => string;

export class ProcessOps {
  readonly #ctx: ProcessOpsContext;
  readonly #handle: number;
  /** Number of processes of the communicator. */
  readonly size: number;
  readonly #describe: Describe;
  readonly #gathered: Scratch;
  readonly #folded: Scratch;
  readonly #staged: Scratch;
  readonly #table: ArenaRegion;

  constructor(ctx: ProcessOpsContext, handle: number, describe: Describe) {
    this.#ctx = ctx;
    this.#handle = handle;
    this.size = ctx.binding.commSize(handle);
    this.#describe = describe;
    this.#gathered = new Scratch(ctx.arena, ctx.owner);
    this.#folded = new Scratch(ctx.arena, ctx.owner);
    this.#staged = new Scratch(ctx.arena, ctx.owner);
    this.#table = ctx.arena.alloc(4 * this.size, ctx.owner);
    if (ctx.abort !== undefined) ctx.binding.watch(ctx.abort.flags, ctx.abort.index);
  }

  /** Bytes of the arena at `offset`, as MPI reads and writes them. */
  #view(offset: number, bytes: number): Uint8Array {
    return new Uint8Array(this.#ctx.arena.buffer(offset + bytes), offset, bytes);
  }

  /**
   * The fold of every process's `input` (`count` elements of `itemBytes`), in process order, written to
   * `out` (as long as `input`; it may be `input` itself). Codes as the kernels take them.
   */
  allReduce(input: Uint8Array, out: Uint8Array, count: number, itemBytes: number, dtypeCode: number, opCode: number,
    timeoutMs: number, call: string): void {
    const bytes = count * itemBytes, p = this.size;
    if (bytes === 0) return this.barrier(timeoutMs, call);
    if (bytes * p <= (this.#ctx.foldAllMaxBytes ?? FOLD_ALL_MAX_BYTES)) {
      const all = this.#gathered.offset(bytes * p);
      this.allGather(input, this.#view(all, bytes * p), timeoutMs, call);
      // the latency path: fold straight into `out` when it is arena memory (the gathered copies are apart)
      if (out.buffer === this.#ctx.arena.buffer(out.byteOffset + bytes)) {
        this.#fold(dtypeCode, opCode, out.byteOffset, all, bytes, count);
        return;
      }
      const dst = this.#folded.offset(bytes);
      this.#fold(dtypeCode, opCode, dst, all, bytes, count);
      out.set(this.#view(dst, bytes));
      return;
    }
    const per = blockElements(count, itemBytes, p), block = per * itemBytes;
    let send = input;
    if (block * p !== bytes) {
      const at = this.#staged.offset(block * p);
      send = this.#view(at, block * p);
      send.set(input);
      send.fill(0, bytes);
    }
    const received = this.#gathered.offset(block * p), result = this.#view(received, block * p);
    this.allToAll(send, result, timeoutMs, call);
    const mine = this.#folded.offset(block);
    this.#fold(dtypeCode, opCode, mine, received, block, per);
    // The folded blocks land where the inputs were received (no longer needed), then the first bytes go out.
    this.#check(this.#ctx.binding.allGather(this.#handle, this.#view(mine, block), result, timeoutMs), call);
    out.set(block * p === bytes ? result : result.subarray(0, bytes));
  }

  /**
   * Every process's `input` (equal lengths), in process order, into `out` (size x input bytes). Small
   * inputs over few processes go point to point (a fraction of the latency of MPI's non-blocking
   * collectives, measured in docs/BENCHMARKS.md).
   */
  allGather(input: Uint8Array, out: Uint8Array, timeoutMs: number, call: string): void {
    const direct = this.size <= DIRECT_PROCESSES_MAX && input.length <= FOLD_ALL_MAX_BYTES;
    const binding = this.#ctx.binding;
    const status = direct ? binding.allGatherDirect(this.#handle, input, out, timeoutMs)
      : binding.allGather(this.#handle, input, out, timeoutMs);
    this.#check(status, call);
  }

  /** Block j of `send` to process j; block j of `recv` from process j. */
  allToAll(send: Uint8Array, recv: Uint8Array, timeoutMs: number, call: string): void {
    this.#check(this.#ctx.binding.allToAll(this.#handle, send, recv, timeoutMs), call);
  }

  /** Process `root`'s bytes into every process's `buf`. */
  broadcast(buf: Uint8Array, root: number, timeoutMs: number, call: string): void {
    this.#check(this.#ctx.binding.broadcast(this.#handle, buf, root, timeoutMs), call);
  }

  barrier(timeoutMs: number, call: string): void {
    this.#check(this.#ctx.binding.barrier(this.#handle, timeoutMs), call);
  }

  /**
   * An eager send of `message` (which the caller gives up: MPI reads it until the send completes), once
   * fewer than `depth` earlier sends to `peer` are still unread.
   */
  sendEager(message: Uint8Array, peer: number, tag: number, depth: number, timeoutMs: number, call: string): void {
    this.#check(this.#ctx.binding.waitSends(this.#handle, peer, depth - 1, timeoutMs), call);
    this.#check(this.#ctx.binding.isend(this.#handle, message, peer, tag), call);
  }

  /**
   * The next whole message from `peer` with `tag`, whatever its size; undefined when none came within
   * `timeoutMs`. Unlike a collective's, a receive's timeout leaves the communicator usable (nothing of it
   * is pending), so the caller says what it waited for.
   */
  recvMessage(peer: number, tag: number, timeoutMs: number, call: string): Uint8Array | undefined {
    const bytes = this.#ctx.binding.probeWait(this.#handle, peer, tag, timeoutMs);
    if (bytes < 0) {
      const status = this.#ctx.binding.lastError().status;
      if (status === MpiStatus.TIMEOUT) return undefined;
      this.#check(status, call);
    }
    const message = new Uint8Array(bytes);
    this.#check(this.#ctx.binding.recvMatched(message), call);
    return message;
  }

  probe(peer: number, tag: number): number {
    return this.#ctx.binding.probe(this.#handle, peer, tag);
  }

  /** dst = fold of the k = size blocks of `blockBytes` from `src0`, in process order. */
  #fold(dtypeCode: number, opCode: number, dst: number, src0: number, blockBytes: number, count: number): void {
    const table = this.#table.byteOffset;
    this.#ctx.kernels.reduceStrided(dtypeCode, opCode, dst, table, src0, blockBytes, this.size, count, 0);
  }

  /** Turns a binding status into the error its users read. */
  #check(status: number, call: string): void {
    if (status === MpiStatus.OK) return;
    const e = this.#ctx.binding.lastError();
    if (status === MpiStatus.JOB_ABORTED && this.#ctx.abort !== undefined) throw this.#ctx.abort.error(e.code);
    const where = this.#describe(call);
    if (status === MpiStatus.TIMEOUT) {
      throw new TimeoutError(`${where}: ${e.text}; the MPI communicator is unusable now`);
    }
    throw new MultirankError(ErrorCodes.MPI, `${where}: ${e.text}`);
  }

  /** Waits (within `timeoutMs`) for this thread's sends on the communicator to complete. */
  flushSends(timeoutMs: number, call: string): void {
    this.#check(this.#ctx.binding.waitSends(this.#handle, -1, 0, timeoutMs), call);
  }

  /** Frees this thread's scratch, and the MPI communicator when `freeComm` (one thread per process). */
  destroy(freeComm: boolean): void {
    this.#gathered.free();
    this.#folded.free();
    this.#staged.free();
    this.#ctx.arena.free(this.#table);
    if (freeComm) this.#ctx.binding.commFree(this.#handle);
  }
}
