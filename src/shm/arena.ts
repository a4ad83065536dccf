/**
 * The process-wide shared memory: one shared `WebAssembly.Memory` that every rank thread imports, and an
 * allocator of 64-byte-aligned regions inside it whose state lives in the memory itself, so that every
 * thread allocates from the same heap without a round trip to the main thread. The layout, and why a
 * thread that dies holding the lock cannot leave it unreadable, are in arena-format.ts; the lock in
 * arena-lock.ts; the repair after such a death in arena-repair.ts.
 *
 * Every field is read and written only while holding the lock, whose acquire (compareExchange) and
 * release (exchange) give the ordering; the payload itself is not touched by the allocator.
 *
 * Growth: when `top` would pass the memory's current size, the allocator grows the memory under the
 * lock. Views created on an older `memory.buffer` stay valid for the old range (shared memory does not
 * move), so a thread only re-reads `memory.buffer` when it meets an offset past its cached length.
 */
import { checkInteger, invalidType } from '../errors.js';
import {
  ALIGN_BYTES, ARENA_MAX_ENV, BLOCK_HEADER_BYTES, B_OWNER, B_STATE, DEFAULT_MAX_BYTES, HEADER_BYTES, H_CANARY, H_LIVE,
  H_LOCK, H_MAGIC, H_MAX_PAGES, H_OWNER_SEQ, H_RECOVERED, H_TOP, H_USED, MAGIC, MAX_PAGES_LIMIT, PAGE_BYTES, USED,
} from './arena-format.js';
import { ArenaHeap } from './arena-heap.js';
import { ArenaLock } from './arena-lock.js';

export {
  ALIGN_BYTES, ARENA_MAX_ENV, BLOCK_HEADER_BYTES, DEFAULT_MAX_BYTES, HEADER_BYTES, MAX_PAGES_LIMIT, PAGE_BYTES,
} from './arena-format.js';
export { ARENA_LOCK_TIMEOUT_MS } from './arena-lock.js';
export const DEFAULT_INITIAL_BYTES = 64 * 1024 * 1024;

/** A region handed out by the arena: `byteOffset` into the shared memory, 64-byte aligned. */
export interface ArenaRegion {
  readonly byteOffset: number;
  readonly byteLength: number;
}

export interface ArenaOptions {
  /** Bytes mapped at creation (rounded up to pages). */
  initialBytes?: number;
  /** The most the arena may grow to; default from `MULTIRANK_ARENA_MAX_BYTES`, else 4 GiB. */
  maxBytes?: number;
}

function roundUp(value: number, to: number): number {
  return Math.ceil(value / to) * to;
}

/** Reads the default maximum from the environment once, at the call site that creates the memory. */
export function arenaMaxBytesFromEnv(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = env[ARENA_MAX_ENV];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) {
    throw invalidType(ARENA_MAX_ENV, 'a positive integer number of bytes', raw);
  }
  return value;
}

/** Allocator over one shared `WebAssembly.Memory`. One instance per thread; all share the heap state. */
export class Arena {
  readonly memory: WebAssembly.Memory;
  readonly #words: Uint32Array;
  readonly #heap: ArenaHeap;
  readonly #lock: ArenaLock;
  #buffer: SharedArrayBuffer;

  /** Creates the shared memory and formats its header (done once per job, in the main thread). */
  static create(options: ArenaOptions = {}): Arena {
    const maxBytes = options.maxBytes ?? arenaMaxBytesFromEnv() ?? DEFAULT_MAX_BYTES;
    checkInteger('maxBytes', maxBytes, HEADER_BYTES + PAGE_BYTES, DEFAULT_MAX_BYTES);
    const maxPages = Math.min(MAX_PAGES_LIMIT, Math.ceil(maxBytes / PAGE_BYTES));
    const initialBytes = Math.min(options.initialBytes ?? DEFAULT_INITIAL_BYTES, maxPages * PAGE_BYTES);
    checkInteger('initialBytes', initialBytes, 0);
    const initialPages = Math.max(1, Math.ceil(initialBytes / PAGE_BYTES));
    const memory = new WebAssembly.Memory({ initial: initialPages, maximum: maxPages, shared: true });
    const words = new Uint32Array(memory.buffer, 0, HEADER_BYTES / 4);
    words[H_TOP] = HEADER_BYTES;
    words[H_MAX_PAGES] = maxPages;
    words[H_CANARY] = MAGIC;
    Atomics.store(words, H_MAGIC, MAGIC);
    return new Arena(memory);
  }

  /** Attaches to a memory formatted by `Arena.create` (in a worker, from `workerData`). */
  constructor(memory: WebAssembly.Memory) {
    if (!(memory instanceof WebAssembly.Memory)) throw invalidType('memory', 'a shared WebAssembly.Memory', memory);
    const buffer = memory.buffer;
    if (!(buffer instanceof SharedArrayBuffer)) throw invalidType('memory', 'a shared WebAssembly.Memory', memory);
    this.memory = memory;
    this.#buffer = buffer;
    this.#words = new Uint32Array(buffer, 0, HEADER_BYTES / 4);
    this.#heap = new ArenaHeap(memory, this.#words);
    this.#lock = new ArenaLock(new Int32Array(buffer, 0, HEADER_BYTES / 4), H_LOCK);
    if (Atomics.load(this.#words, H_MAGIC) !== MAGIC || this.#words[H_CANARY] !== MAGIC) {
      throw invalidType('memory', 'a memory formatted by Arena.create (the header magic is missing)', memory);
    }
  }

  /** The current `memory.buffer`, re-read when `minBytes` lies past the cached one (after a grow). */
  buffer(minBytes = 0): SharedArrayBuffer {
    if (minBytes > this.#buffer.byteLength) this.#buffer = this.memory.buffer as SharedArrayBuffer;
    return this.#buffer;
  }

  /** Bytes the memory may grow to. */
  get maxBytes(): number {
    return Atomics.load(this.#words, H_MAX_PAGES) * PAGE_BYTES;
  }

  /** Payload bytes currently handed out. */
  get usedBytes(): number {
    return Atomics.load(this.#words, H_USED);
  }

  /** Regions currently handed out. */
  get liveRegions(): number {
    return Atomics.load(this.#words, H_LIVE);
  }

  /** Deadline of a wait for the allocator's lock (see ARENA_LOCK_TIMEOUT_MS). */
  get lockTimeoutMs(): number {
    return this.#lock.timeoutMs;
  }

  set lockTimeoutMs(value: number) {
    this.#lock.timeoutMs = value;
  }

  /** The id of the thread holding the allocator's lock, or undefined when it is free. */
  get lockHolder(): number | undefined {
    return this.#lock.holder;
  }

  /** How many times a dead holder's lock was recovered (`recoverLockOf`) in this process. */
  get lockRecoveries(): number {
    return Atomics.load(this.#words, H_RECOVERED);
  }

  /**
   * A new owner tag for `alloc` (never 0, and not handed out again before 2^32 more): a job's tag, so
   * that a late `freeIfOwned` of one of its regions can never free a region of a later job.
   */
  newOwner(): number {
    for (;;) {
      const tag = (Atomics.add(this.#words, H_OWNER_SEQ, 1) + 1) >>> 0;
      if (tag !== 0) return tag;
    }
  }

  /**
   * Thread `threadId` exited (the caller saw it: it created that thread). When it died holding the
   * allocator's lock, takes the lock over, repairs what it left half done and releases the lock, so that
   * every waiting and later allocation proceeds. Returns whether it did.
   */
  recoverLockOf(threadId: number): boolean {
    if (!this.#lock.takeFrom(threadId)) return false;
    try {
      this.#heap.repair();
      Atomics.add(this.#words, H_RECOVERED, 1);
    } finally {
      this.#lock.release();
    }
    return true;
  }

  /**
   * Allocates `byteLength` bytes (rounded up to 64), 64-byte aligned. Throws ArenaFullError past the maximum.
   * `owner` (a u32, 0 for none) tags the region for `freeOwnedBy`: a job tags what its ranks allocate
   * for it, so that closing the job returns what they did not free themselves.
   */
  alloc(byteLength: number, owner = 0): ArenaRegion {
    return this.#alloc(byteLength, true, owner)!;
  }

  /** Like `alloc`, but returns undefined instead of growing the memory (callers reclaim first, then grow). */
  tryAlloc(byteLength: number, owner = 0): ArenaRegion | undefined {
    return this.#alloc(byteLength, false, owner);
  }

  /**
   * Frees every allocated region tagged `owner` (which must not be 0); returns how many. Only for the end
   * of an owner's life (a job's close): nobody may use those regions any more, nor free them later.
   */
  freeOwnedBy(owner: number): number {
    checkInteger('owner', owner, 1, 0xffffffff);
    this.#lock.acquire();
    try {
      // Collect first: freeing coalesces free neighbours, which changes the tiling being walked (a used
      // block is never merged away, so the collected headers stay valid).
      const owned = this.#heap.owned(owner);
      for (const header of owned) this.#heap.freeBlock(header);
      return owned.length;
    } finally {
      this.#lock.release();
    }
  }

  #alloc(byteLength: number, grow: boolean, owner: number): ArenaRegion | undefined {
    checkInteger('byteLength', byteLength, 0);
    checkInteger('owner', owner, 0, 0xffffffff);
    const size = Math.max(ALIGN_BYTES, roundUp(byteLength, ALIGN_BYTES));
    this.#lock.acquire();
    let header: number;
    try {
      header = this.#heap.take(size, byteLength, grow);
      if (header === 0) return undefined;
      this.#heap.markUsed(header, owner);
    } finally {
      this.#lock.release();
    }
    return { byteOffset: header + BLOCK_HEADER_BYTES, byteLength };
  }

  /** Returns a region to the arena. Freeing twice or freeing a foreign offset throws. */
  free(region: ArenaRegion): void {
    const header = region.byteOffset - BLOCK_HEADER_BYTES;
    this.#lock.acquire();
    try {
      this.#heap.checkBlock(header, region.byteOffset);
      this.#heap.freeBlock(header);
    } finally {
      this.#lock.release();
    }
  }

  /**
   * Frees `region` if it is still allocated under tag `owner`; returns whether it did. For a region whose
   * owner's end may have freed it already (`freeOwnedBy`), and whose memory may by now hold a region of
   * another owner: owner tags from `newOwner` are never reused, so that one is left alone.
   */
  freeIfOwned(region: ArenaRegion, owner: number): boolean {
    checkInteger('owner', owner, 1, 0xffffffff);
    const header = region.byteOffset - BLOCK_HEADER_BYTES;
    this.#lock.acquire();
    try {
      if (!this.#heap.isBlock(header)) return false;
      const h = this.#heap.view(header), b = header >>> 2;
      if (h[b + B_STATE] !== USED || h[b + B_OWNER] !== owner) return false;
      this.#heap.freeBlock(header);
      return true;
    } finally {
      this.#lock.release();
    }
  }
}
