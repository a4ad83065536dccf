/**
 * Where a tensor's bytes live: a region of the shared arena (so other ranks can read it directly) or a
 * plain ArrayBuffer.
 *
 * Arena regions are returned when the tensor is released, or when it is garbage-collected. A
 * FinalizationRegistry alone is not enough: its callbacks need the event loop, and rank code often runs
 * collectives in a synchronous loop that never yields, so a loop that drops one result per step would
 * grow the arena without bound. Each thread therefore also keeps a WeakRef per live region and sweeps
 * them synchronously when the arena would otherwise grow (forcing a GC first when the sweep finds too
 * little). Every free goes through `#forget`, so a region is freed exactly once whichever path sees it.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Arena, ArenaRegion } from '../shm/arena.js';
import { invalidType } from '../errors.js';

interface Tracked {
  readonly ref: WeakRef<Storage>;
  readonly arena: Arena;
  readonly region: ArenaRegion;
}

/** This thread's live arena regions by offset (each worker thread has its own module instance). */
const tracked = new Map<number, Tracked>();

function forget(offset: number): void {
  const entry = tracked.get(offset);
  if (entry === undefined) return;
  tracked.delete(offset);
  entry.arena.free(entry.region);
}

const registry = new FinalizationRegistry<number>(forget);

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

  /** True when the bytes are in the shared arena, where every rank of the job can read them. */
  get shared(): boolean {
    return this.region !== undefined;
  }

  /** Returns an arena region now instead of at garbage collection. Idempotent. */
  release(): void {
    if (this.#buffer === undefined) return;
    this.#buffer = undefined;
    if (this.region !== undefined) {
      registry.unregister(this);
      forget(this.region.byteOffset);
    }
  }
}

function track(storage: Storage, arena: Arena, region: ArenaRegion): Storage {
  tracked.set(region.byteOffset, { ref: new WeakRef(storage), arena, region });
  registry.register(storage, region.byteOffset, storage);
  return storage;
}

/** Frees the regions whose storage was collected already; returns the bytes freed. */
export function sweepCollected(): number {
  let freed = 0;
  for (const [offset, entry] of tracked) {
    if (entry.ref.deref() === undefined) {
      freed += entry.region.byteLength;
      forget(offset);
    }
  }
  return freed;
}

let collect: (() => void) | undefined;

/** A full GC, made available on first use (the flag is process-wide; the function is per thread). */
function forceGc(): void {
  if (collect === undefined) {
    setFlagsFromString('--expose-gc');
    collect = runInNewContext('gc') as () => void;
  }
  collect();
}

/** Arena bytes in use below which growing is preferred to a forced GC (like a heap-growth factor). */
export const FORCED_GC_MIN_BYTES = 256 * 1024 * 1024;
let forcedGcAtBytes = FORCED_GC_MIN_BYTES;

/**
 * Allocates in `arena`, reclaiming collected regions before the arena grows. A full GC is forced only
 * when the arena's use passed twice what the last forced GC left (and at least FORCED_GC_MIN_BYTES), so
 * a loop that drops a large result per step pays one GC per many steps.
 */
function allocRegion(arena: Arena, byteLength: number): ArenaRegion {
  let region = arena.tryAlloc(byteLength);
  if (region !== undefined) return region;
  sweepCollected();
  region = arena.tryAlloc(byteLength);
  if (region !== undefined) return region;
  if (tracked.size > 0 && (arena.usedBytes + byteLength > forcedGcAtBytes || arena.usedBytes + byteLength > arena.maxBytes / 2)) {
    forceGc();
    sweepCollected();
    forcedGcAtBytes = Math.max(FORCED_GC_MIN_BYTES, 2 * arena.usedBytes);
    region = arena.tryAlloc(byteLength);
    if (region !== undefined) return region;
  }
  return arena.alloc(byteLength);
}

/** Where new tensors are allocated in this thread when no `arena` option is given. */
const context: { arena: Arena | undefined } = { arena: undefined };

/** Sets the arena new tensors of this thread go to (a rank's worker sets it at boot); undefined = plain memory. */
export function setDefaultArena(arena: Arena | undefined): void {
  context.arena = arena;
}

export function defaultArena(): Arena | undefined {
  return context.arena;
}

/**
 * Allocates storage of `byteLength` bytes: in `arena` when given (null forces plain memory), else in this
 * thread's default arena, else a plain ArrayBuffer. Arena memory is not zeroed; plain memory is.
 */
export function allocateStorage(byteLength: number, arena: Arena | null | undefined = undefined): Storage {
  const target = arena === null ? undefined : arena ?? context.arena;
  if (target === undefined) return new Storage(byteLength, new ArrayBuffer(byteLength), 0);
  const region = allocRegion(target, byteLength);
  return track(new Storage(byteLength, target.buffer(region.byteOffset + byteLength), region.byteOffset, target, region), target, region);
}

/** Storage that takes ownership of an arena region allocated elsewhere (a received message). */
export function adoptRegion(arena: Arena, region: ArenaRegion): Storage {
  return track(new Storage(region.byteLength, arena.buffer(region.byteOffset + region.byteLength), region.byteOffset, arena, region), arena, region);
}

/** Storage over caller-owned memory (no ownership taken). */
export function wrapStorage(buffer: ArrayBufferLike, byteOffset: number, byteLength: number): Storage {
  return new Storage(byteLength, buffer, byteOffset);
}
