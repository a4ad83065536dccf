/**
 * Where a tensor's bytes live: a plain ArrayBuffer (the default: V8 frees it like any buffer, also in a
 * synchronous loop), or a region of the shared arena (`shared: true`), where every rank of the job can
 * read it and collectives move no extra bytes.
 *
 * Arena regions are returned by `release()`, or by a FinalizationRegistry once the tensor is collected;
 * finalizers need the event loop, so rank code that keeps creating shared tensors in a synchronous loop
 * should release them (collectives never allocate arena memory per call: they reuse per-group scratch).
 * (A WeakRef sweep cannot help there: `new WeakRef(x)` keeps x alive until the synchronous job ends.)
 */
import type { Arena, ArenaRegion } from '../shm/arena.js';
import { invalidType } from '../errors.js';
import type { Device } from './device.js';

const registry = new FinalizationRegistry<{ arena: Arena; region: ArenaRegion }>(({ arena, region }) => arena.free(region));

/** Bytes owned by one or more tensors (views share one Storage). */
export class Storage {
  readonly byteLength: number;
  readonly arena: Arena | undefined;
  readonly region: ArenaRegion | undefined;
  #buffer: ArrayBufferLike | undefined;
  readonly #byteOffset: number;

  constructor(byteLength: number, buffer: ArrayBufferLike, byteOffset: number, arena?: Arena, region?: ArenaRegion) {
    this.byteLength = byteLength;
    this.#buffer = buffer;
    this.#byteOffset = byteOffset;
    this.arena = arena;
    this.region = region;
  }

  get buffer(): ArrayBufferLike {
    if (this.#buffer === undefined) throw invalidType('tensor', 'a tensor whose storage was not released', 'released storage');
    return this.#buffer;
  }

  get byteOffset(): number {
    return this.#byteOffset;
  }

  /** Where the bytes are: host memory here; device memory in DeviceStorage (device.ts). */
  get device(): Device {
    return 'cpu';
  }

  /** True when the bytes are in the shared arena, where every rank of the job can read them. */
  get shared(): boolean {
    return this.region !== undefined;
  }

  /** Returns an arena region now instead of at garbage collection. Idempotent. */
  release(): void {
    if (this.#buffer === undefined) return;
    this.#buffer = undefined;
    if (this.arena !== undefined && this.region !== undefined) {
      registry.unregister(this);
      this.arena.free(this.region);
    }
  }
}

function track(storage: Storage, arena: Arena, region: ArenaRegion): Storage {
  registry.register(storage, { arena, region }, storage);
  return storage;
}

/** The arena `shared: true` allocates in: the rank's (set by its worker at boot). */
const context: { arena: Arena | undefined } = { arena: undefined };

/** Sets the arena of `shared: true` tensors in this thread (a rank's worker sets it at boot). */
export function setDefaultArena(arena: Arena | undefined): void {
  context.arena = arena;
}

/** Plain allocations up to this size come from a shared slab (as Node's Buffer pool does). */
export const SLAB_PIECE_MAX_BYTES = 512;
const SLAB_BYTES = 64 * 1024;
const slab = { buffer: new ArrayBuffer(SLAB_BYTES), used: 0 };

/**
 * A piece of the current slab, 8-byte aligned. `new ArrayBuffer` costs about 200 ns, a piece a few;
 * each piece is handed out once, so it is still zeroed, and a slab is freed by the GC when no tensor
 * views it any more.
 */
function slabStorage(byteLength: number): Storage {
  const size = (byteLength + 7) & ~7;
  if (slab.used + size > SLAB_BYTES) {
    slab.buffer = new ArrayBuffer(SLAB_BYTES);
    slab.used = 0;
  }
  const storage = new Storage(byteLength, slab.buffer, slab.used);
  slab.used += size;
  return storage;
}

/**
 * Allocates storage of `byteLength` bytes: in `arena` when given, in this thread's arena when `shared`,
 * else a plain ArrayBuffer. Arena memory is not zeroed; plain memory is.
 * @throws TypeError when `shared` is asked outside a rank (no arena in this thread).
 */
export function allocateStorage(byteLength: number, arena?: Arena, shared = false): Storage {
  const target = arena ?? (shared ? context.arena : undefined);
  if (target === undefined) {
    if (shared) throw invalidType('options.shared', 'used inside a rank of a job (this thread has no shared arena)', shared);
    return byteLength <= SLAB_PIECE_MAX_BYTES ? slabStorage(byteLength) : new Storage(byteLength, new ArrayBuffer(byteLength), 0);
  }
  const region = target.alloc(byteLength);
  return track(new Storage(byteLength, target.buffer(region.byteOffset + byteLength), region.byteOffset, target, region), target, region);
}

/** Storage over caller-owned memory (no ownership taken). */
export function wrapStorage(buffer: ArrayBufferLike, byteOffset: number, byteLength: number): Storage {
  return new Storage(byteLength, buffer, byteOffset);
}
