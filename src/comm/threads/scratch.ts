/**
 * Moving bytes between tensors and the arena. A tensor in the arena is read and written in place (wasm
 * `memory.copy`); a tensor in plain memory goes through a `Scratch`: an arena region the communicator
 * keeps and reuses for every call (grown to the largest call seen, never allocated per call), so that
 * peers can read it.
 */
import type { Arena, ArenaRegion } from '../../shm/arena.js';
import type { Kernels } from '../../shm/kernels.js';
import type { Tensor } from '../../tensor/tensor.js';

/** Below this many bytes a plain loop beats a TypedArray.set call (which needs a subarray view). */
const SMALL_COPY_BYTES = 64;

export class Scratch {
  readonly #arena: Arena;
  readonly #owner: number;
  #region: ArenaRegion | undefined;

  /** `owner`: the arena tag of the job the region belongs to (see `JobControl.owner`). */
  constructor(arena: Arena, owner = 0) {
    this.#arena = arena;
    this.#owner = owner;
  }

  /** Offset of a region of at least `bytes` bytes (contents not kept across growth). */
  offset(bytes: number): number {
    if (this.#region === undefined || this.#region.byteLength < bytes) {
      if (this.#region !== undefined) this.#arena.free(this.#region);
      this.#region = this.#arena.alloc(Math.max(bytes, 4096), this.#owner);
    }
    return this.#region.byteOffset;
  }

  free(): void {
    if (this.#region !== undefined) this.#arena.free(this.#region);
    this.#region = undefined;
  }
}

/** Copies bytes between the arena and tensors in any memory. */
export class ArenaCopier {
  readonly #arena: Arena;
  readonly #kernels: Kernels;
  /** A view of the whole arena, re-made when the arena grew past it. */
  #bytes: Uint8Array;

  constructor(arena: Arena, kernels: Kernels) {
    this.#arena = arena;
    this.#kernels = kernels;
    this.#bytes = new Uint8Array(arena.buffer());
  }

  #view(end: number): Uint8Array {
    if (end > this.#bytes.length) this.#bytes = new Uint8Array(this.#arena.buffer(end));
    return this.#bytes;
  }

  inArena(t: Tensor): boolean {
    return t.storage.arena === this.#arena;
  }

  /** `bytes` bytes of the arena at `from` into `t` at byte `at`. */
  toTensor(t: Tensor, at: number, from: number, bytes: number): void {
    if (bytes === 0) return;
    if (this.inArena(t)) this.#kernels.copy(t.byteOffset + at, from, bytes);
    else if (bytes <= SMALL_COPY_BYTES) {
      const dst = t.bytes(), src = this.#view(from + bytes);
      for (let i = 0; i < bytes; i++) dst[at + i] = src[from + i]!;
    } else t.bytes().set(this.#view(from + bytes).subarray(from, from + bytes), at);
  }

  /** All of `t` into the arena at `to`. */
  fromTensor(to: number, t: Tensor): void {
    if (t.byteLength === 0) return;
    if (this.inArena(t)) this.#kernels.copy(to, t.byteOffset, t.byteLength);
    else if (t.byteLength <= SMALL_COPY_BYTES) {
      const dst = this.#view(to + t.byteLength), src = t.bytes();
      for (let i = 0; i < src.length; i++) dst[to + i] = src[i]!;
    } else this.#view(to + t.byteLength).set(t.bytes(), to);
  }

  /** Where peers can read `t`: itself when in the arena, else a copy in `scratch`. */
  stage(t: Tensor, scratch: Scratch): number {
    if (this.inArena(t)) return t.byteOffset;
    const at = scratch.offset(t.byteLength);
    this.fromTensor(at, t);
    return at;
  }

  /** Where a result for `t` can be written by kernels and peers: `t` itself in the arena, else `scratch`. */
  target(t: Tensor, scratch: Scratch): number {
    return this.inArena(t) ? t.byteOffset : scratch.offset(t.byteLength);
  }

  /** After writing at `target(t, ...)`: copies the result into `t` when it went to scratch. */
  deliver(t: Tensor, written: number): void {
    if (written !== t.byteOffset || !this.inArena(t)) this.toTensor(t, 0, written, t.byteLength);
  }
}
