/**
 * Where a tensor's bytes live: a plain ArrayBuffer (the default: V8 frees it like any buffer, also in a
 * synchronous loop), or a region of the shared arena (`shared: true`), where every rank of the job can
 * read it and collectives move no extra bytes.
 *
 * Shared-memory (arena) regions are returned by `release()`, or by a FinalizationRegistry once the tensor is collected;
 * finalizers need the event loop, so rank code that keeps creating shared tensors in a synchronous loop
 * should release them (collectives never allocate arena memory per call: they reuse per-group scratch).
 * (A WeakRef sweep cannot help there: `new WeakRef(x)` keeps x alive until the synchronous job ends.)
 *
 * A shared tensor belongs to the job whose rank made it: its region carries the job's owner tag, and
 * the job's end returns it (`Arena.freeOwnedBy`), released or not, collected or not (warm threads may
 * never collect, and a destroyed thread never runs its finalizers). From then on the tensor throws on
 * use (its job scope is ended: at the next job of the thread, or when the driver closes the job's port),
 * and a late release or finalizer frees only a region still tagged with that job (`Arena.freeIfOwned`).
 */
import { invalidType, unusableTensor } from '../errors.js';
import type { Device } from './device.js';

/**
 * Shared memory as the tensor layer uses it: the arena of shm/arena.ts is the one there is. The tensor
 * layer names only what it calls, so that it imports nothing from the layers above it.
 */
export interface SharedMemory {
  alloc(byteLength: number, owner?: number): SharedRegion;
  free(region: SharedRegion): void;
  /** Frees `region` only while it still carries `owner`'s tag; says whether it did. */
  freeIfOwned(region: SharedRegion, owner: number): boolean;
  /** The memory's buffer, grown to at least `minBytes`. */
  buffer(minBytes?: number): ArrayBufferLike;
}

/** A block of shared memory. */
export interface SharedRegion {
  readonly byteOffset: number;
  readonly byteLength: number;
}

/** The job a rank thread runs (see the file header): its owner tag, and whether it has ended. */
export interface JobScope {
  readonly owner: number;
  ended: boolean;
}

interface Held {
  arena: SharedMemory;
  region: SharedRegion;
  scope: JobScope | undefined;
}

/** Returns a region: a job's only while it is still that job's (its end may have freed it already). */
function returnRegion({ arena, region, scope }: Held): void {
  if (scope === undefined) arena.free(region);
  else if (!scope.ended) arena.freeIfOwned(region, scope.owner);
}

const registry = new FinalizationRegistry<Held>(returnRegion);

/** Bytes owned by one or more tensors (views share one Storage). */
export class Storage {
  readonly byteLength: number;
  readonly arena: SharedMemory | undefined;
  readonly region: SharedRegion | undefined;
  #buffer: ArrayBufferLike | undefined;
  readonly #byteOffset: number;
  /** The job that owns the region (shared tensors of a rank); undefined for other storage. */
  readonly #scope: JobScope | undefined;

  constructor(
    byteLength: number, buffer: ArrayBufferLike, byteOffset: number, arena?: SharedMemory, region?: SharedRegion,
    scope?: JobScope,
  ) {
    this.byteLength = byteLength;
    this.#buffer = buffer;
    this.#byteOffset = byteOffset;
    this.arena = arena;
    this.region = region;
    this.#scope = scope;
  }

  get buffer(): ArrayBufferLike {
    this.assertLive();
    return this.#buffer!;
  }

  get byteOffset(): number {
    this.assertLive();
    return this.#byteOffset;
  }

  /** Throws (naming the argument `name`) unless these bytes can still be used: see `unusableTensor`. */
  assertLive(name = 'tensor'): void {
    if (this.#buffer === undefined) throw unusableTensor(name, false);
    if (this.#scope !== undefined && this.#scope.ended) throw unusableTensor(name, true);
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
      returnRegion({ arena: this.arena, region: this.region, scope: this.#scope });
    }
  }
}

function track(storage: Storage, held: Held): Storage {
  registry.register(storage, held, storage);
  return storage;
}

/** The arena `shared: true` allocates in (the rank's) and the job its tensors belong to. */
const context: { arena: SharedMemory | undefined; job: JobScope | undefined } = { arena: undefined, job: undefined };

/**
 * Sets the arena of `shared: true` tensors in this thread (a rank's worker sets it for each job) and the
 * job that owns what is allocated in it from now on; the thread's previous job, if any, has ended.
 */
export function setDefaultArena(arena: SharedMemory | undefined, job?: JobScope): void {
  if (context.job !== undefined && context.job !== job) context.job.ended = true;
  context.arena = arena;
  context.job = job;
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
 * else a plain ArrayBuffer. Shared (arena) memory is not zeroed; plain memory is.
 * @throws TypeError when `shared` is asked outside a rank (no arena in this thread).
 */
export function allocateStorage(byteLength: number, arena?: SharedMemory, shared = false): Storage {
  const target = arena ?? (shared ? context.arena : undefined);
  if (target === undefined) {
    if (shared) {
      throw invalidType('options.shared', 'used inside a rank of a job (this thread has no shared arena)', shared);
    }
    return byteLength <= SLAB_PIECE_MAX_BYTES
      ? slabStorage(byteLength)
      : new Storage(byteLength, new ArrayBuffer(byteLength), 0);
  }
  // Everything a rank allocates in its arena belongs to its job (also `{ arena }` given explicitly).
  const scope = target === context.arena ? context.job : undefined;
  const region = target.alloc(byteLength, scope?.owner ?? 0);
  const buffer = target.buffer(region.byteOffset + byteLength);
  const storage = new Storage(byteLength, buffer, region.byteOffset, target, region, scope);
  return track(storage, { arena: target, region, scope });
}

/** Storage over caller-owned memory (no ownership taken). */
export function wrapStorage(buffer: ArrayBufferLike, byteOffset: number, byteLength: number): Storage {
  return new Storage(byteLength, buffer, byteOffset);
}
