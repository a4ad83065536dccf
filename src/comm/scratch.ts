/**
 * Moving bytes between tensors and the arena. A tensor in the arena is read and written in place (wasm
 * `memory.copy`); a tensor in plain memory goes through a `Scratch`: an arena region the communicator
 * keeps and reuses for every call (grown to the largest call seen, never allocated per call), so that
 * peers can read it.
 */
import type { Arena, ArenaRegion } from '../shm/arena.js';
import type { Kernels } from '../shm/kernels.js';
import type { Tensor } from '../tensor/tensor.js';

export class Scratch {
  readonly #arena: Arena;
  #region: ArenaRegion | undefined;

  constructor(arena: Arena) {
    this.#arena = arena;
  }

  /** Offset of a region of at least `bytes` bytes (contents not kept across growth). */
  offset(bytes: number): number {
    if (this.#region === undefined || this.#region.byteLength < bytes) {
      if (this.#region !== undefined) this.#arena.free(this.#region);
      this.#region = this.#arena.alloc(Math.max(bytes, 4096));
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

  constructor(arena: Arena, kernels: Kernels) {
    this.#arena = arena;
    this.#kernels = kernels;
  }

  inArena(t: Tensor): boolean {
    return t.storage.arena === this.#arena;
  }

  /** `bytes` bytes of the arena at `from` into `t` at byte `at`. */
  toTensor(t: Tensor, at: number, from: number, bytes: number): void {
    if (bytes === 0) return;
    if (this.inArena(t)) this.#kernels.copy(t.byteOffset + at, from, bytes);
    else new Uint8Array(t.buffer, t.byteOffset + at, bytes).set(new Uint8Array(this.#arena.buffer(from + bytes), from, bytes));
  }

  /** All of `t` into the arena at `to`. */
  fromTensor(to: number, t: Tensor): void {
    if (t.byteLength === 0) return;
    if (this.inArena(t)) this.#kernels.copy(to, t.byteOffset, t.byteLength);
    else new Uint8Array(this.#arena.buffer(to + t.byteLength), to, t.byteLength).set(t.bytes());
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
