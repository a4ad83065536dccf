/**
 * The process-wide shared memory: one shared `WebAssembly.Memory` that every rank thread imports, and an
 * allocator of 64-byte-aligned regions inside it whose state lives in the memory itself, so that every
 * thread allocates from the same heap without a round trip to the main thread.
 *
 * Layout (byte offsets; all header words are u32, read and written with Atomics):
 *
 *   0                        HEADER_BYTES                                   top          memory.buffer.byteLength
 *   +-----------------------+---------+----------+---------+----------+-----+-------------+
 *   | arena header (words)  | blk hdr | payload  | blk hdr | payload  | ... | (unused)    |
 *   +-----------------------+---------+----------+---------+----------+-----+-------------+
 *
 *   arena header words: [0] MAGIC  [1] lock (0 free, 1 held, 2 held+waiters)  [2] top (end of last block)
 *                       [3] maxPages  [4] usedBytes (payload bytes handed out)  [5] freeHead (0 = none)
 *                       [6] liveRegions  [7] header of the last block (0 = none)
 *                       [8] the lock holder's thread id + 1 (0 = none; for the lock-timeout message)
 *                       [15] MAGIC (canary)
 *   block header (BLOCK_HEADER_BYTES = 64, so payloads stay 64-aligned):
 *                       [0] BLOCK_MAGIC  [1] payloadBytes  [2] state (1 used, 2 free)
 *                       [3] offset of the previous block's header (0 for the first)
 *                       [4] next free block header (free blocks only)  [5] previous free block header
 *                       [6] owner: the tag given to alloc (0: none), which `freeOwnedBy` matches
 *
 * Invariants: blocks tile [HEADER_BYTES, top) with no gap; two free blocks are never adjacent (freeing
 * coalesces both ways); the last block is never free (freeing it lowers `top` instead). Every field is
 * read and written only while holding the lock, whose acquire (compareExchange) and release (store) give
 * the ordering; the payload itself is not touched by the allocator.
 *
 * Growth: when `top` would pass the memory's current size, the allocator grows the memory under the
 * lock. Views created on an older `memory.buffer` stay valid for the old range (shared memory does not
 * move), so a thread only re-reads `memory.buffer` when it meets an offset past its cached length.
 */
import { threadId } from 'node:worker_threads';
import { ArenaFullError, TimeoutError, checkInteger, invalidType } from '../errors.js';

export const PAGE_BYTES = 65536;
export const ALIGN_BYTES = 64;
export const HEADER_BYTES = 4096;
export const BLOCK_HEADER_BYTES = 64;
/** wasm32 addresses 4 GiB at most. */
export const MAX_PAGES_LIMIT = 65536;
export const DEFAULT_MAX_BYTES = MAX_PAGES_LIMIT * PAGE_BYTES;
export const DEFAULT_INITIAL_BYTES = 64 * 1024 * 1024;
/** The environment variable that raises the arena's maximum (bytes). */
export const ARENA_MAX_ENV = 'MULTIRANK_ARENA_MAX_BYTES';

const MAGIC = 0x6d72616e; // "mran"
const BLOCK_MAGIC = 0x626c6b31; // "blk1"
const H_MAGIC = 0, H_LOCK = 1, H_TOP = 2, H_MAX_PAGES = 3, H_USED = 4, H_FREE_HEAD = 5, H_LIVE = 6, H_LAST = 7, H_HOLDER = 8, H_CANARY = 15;
const B_MAGIC = 0, B_SIZE = 1, B_STATE = 2, B_PREV = 3, B_NEXT_FREE = 4, B_PREV_FREE = 5, B_OWNER = 6;
const USED = 1, FREE = 2;
const LOCK_SPINS = 100;
/**
 * How long a thread waits for the allocator's lock before it gives up. The lock is held for microseconds;
 * a wait this long means its holder died inside an allocation (a terminated rank thread), and every
 * later allocation would hang without this deadline.
 */
export const ARENA_LOCK_TIMEOUT_MS = 10_000;
/** This thread's tag in the holder word (worker threadId + 1; the main thread is 1). */
const THREAD_TAG = threadId + 1;
/** Free blocks are split only when the rest could hold a useful region. */
const SPLIT_MIN_BYTES = BLOCK_HEADER_BYTES + ALIGN_BYTES;

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
  if (!Number.isInteger(value) || value <= 0) throw invalidType(ARENA_MAX_ENV, 'a positive integer number of bytes', raw);
  return value;
}

/** Allocator over one shared `WebAssembly.Memory`. One instance per thread; all share the heap state. */
export class Arena {
  readonly memory: WebAssembly.Memory;
  /** Deadline of a wait for the allocator's lock (see ARENA_LOCK_TIMEOUT_MS). */
  lockTimeoutMs = ARENA_LOCK_TIMEOUT_MS;
  #words: Uint32Array;
  /** The whole heap as u32 words (block headers), re-made when the memory grew past it. */
  #heap: Uint32Array;
  #lock: Int32Array;
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
    this.#heap = new Uint32Array(buffer);
    this.#lock = new Int32Array(buffer, 0, HEADER_BYTES / 4);
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
    this.#acquire();
    try {
      // Collect first: freeing coalesces free neighbours, which changes the tiling being walked (a used
      // block is never merged away, so the collected headers stay valid).
      const owned: number[] = [];
      for (let header = HEADER_BYTES, top = this.#words[H_TOP]; header < top;) {
        const h = this.#heapFor(header), b = header >>> 2;
        if (h[b + B_STATE] === USED && h[b + B_OWNER] === owner) owned.push(header);
        header += BLOCK_HEADER_BYTES + h[b + B_SIZE]!;
      }
      for (const header of owned) {
        this.#words[H_USED] -= this.#heapFor(header)[(header >>> 2) + B_SIZE]!;
        this.#words[H_LIVE] -= 1;
        this.#releaseBlock(header);
      }
      return owned.length;
    } finally {
      this.#release();
    }
  }

  #alloc(byteLength: number, grow: boolean, owner: number): ArenaRegion | undefined {
    checkInteger('byteLength', byteLength, 0);
    checkInteger('owner', owner, 0, 0xffffffff);
    const size = Math.max(ALIGN_BYTES, roundUp(byteLength, ALIGN_BYTES));
    this.#acquire();
    let header: number;
    try {
      header = this.#takeFree(size);
      if (header === 0) {
        const fits = this.#words[H_TOP] + BLOCK_HEADER_BYTES + size <= this.memory.buffer.byteLength;
        if (!grow && !fits) return undefined;
        header = this.#takeTop(size, byteLength);
      }
      const h = this.#heapFor(header), b = header >>> 2;
      h[b + B_STATE] = USED;
      h[b + B_OWNER] = owner;
      this.#words[H_USED] += h[b + B_SIZE]!;
      this.#words[H_LIVE] += 1;
    } finally {
      this.#release();
    }
    return { byteOffset: header + BLOCK_HEADER_BYTES, byteLength };
  }

  /** Returns a region to the arena. Freeing twice or freeing a foreign offset throws. */
  free(region: ArenaRegion): void {
    const header = region.byteOffset - BLOCK_HEADER_BYTES;
    this.#acquire();
    try {
      this.#checkBlock(header, region.byteOffset);
      this.#words[H_USED] -= this.#heap[(header >>> 2) + B_SIZE]!;
      this.#words[H_LIVE] -= 1;
      this.#releaseBlock(header);
    } finally {
      this.#release();
    }
  }

  /**
   * A view of the whole heap that covers the block header at `header` (headers are read and written
   * through it as `h[(header >>> 2) + B_*]`; one view, not one per block, re-made only after a grow).
   * Every access must go through it with the header it touches: a typed-array store past the end of a
   * view made before another thread grew the memory would be dropped silently.
   */
  #heapFor(header: number): Uint32Array {
    if (header + BLOCK_HEADER_BYTES > this.#heap.byteLength) this.#heap = new Uint32Array(this.buffer(header + BLOCK_HEADER_BYTES));
    return this.#heap;
  }

  #checkBlock(header: number, byteOffset: number): void {
    const top = this.#words[H_TOP];
    if (!Number.isInteger(byteOffset) || header < HEADER_BYTES || header >= top || header % ALIGN_BYTES !== 0) {
      throw invalidType('region.byteOffset', `an offset returned by alloc() (in ${HEADER_BYTES + BLOCK_HEADER_BYTES}..${top})`, byteOffset);
    }
    const h = this.#heapFor(header), b = header >>> 2;
    if (h[b + B_MAGIC] !== BLOCK_MAGIC) throw invalidType('region.byteOffset', 'an offset returned by alloc() (no block header there)', byteOffset);
    if (h[b + B_STATE] !== USED) throw invalidType('region', 'a region that is allocated (it was freed already)', byteOffset);
  }

  /** First fit in the free list; splits the block when the rest is worth keeping. Returns 0 when none fits. */
  #takeFree(size: number): number {
    for (let header = this.#words[H_FREE_HEAD]!; header !== 0; ) {
      const h = this.#heapFor(header), b = header >>> 2;
      if (h[b + B_SIZE]! >= size) {
        this.#unlinkFree(header);
        if (h[b + B_SIZE]! - size >= SPLIT_MIN_BYTES) this.#split(header, size);
        return header;
      }
      header = h[b + B_NEXT_FREE]!;
    }
    return 0;
  }

  #split(header: number, size: number): void {
    let h = this.#heapFor(header);
    const b = header >>> 2;
    const restHeader = header + BLOCK_HEADER_BYTES + size;
    const restSize = h[b + B_SIZE]! - size - BLOCK_HEADER_BYTES;
    h[b + B_SIZE] = size;
    h = this.#heapFor(restHeader);
    const r = restHeader >>> 2;
    h[r + B_MAGIC] = BLOCK_MAGIC;
    h[r + B_SIZE] = restSize;
    h[r + B_PREV] = header;
    const after = restHeader + BLOCK_HEADER_BYTES + restSize;
    if (after < this.#words[H_TOP]!) this.#heapFor(after)[(after >>> 2) + B_PREV] = restHeader;
    this.#pushFree(restHeader);
  }

  /** Carves a new block at `top`, growing the memory when needed. */
  #takeTop(size: number, asked: number): number {
    const header = this.#words[H_TOP]!;
    const end = header + BLOCK_HEADER_BYTES + size;
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      const maxBytes = this.#words[H_MAX_PAGES]! * PAGE_BYTES;
      if (end > maxBytes) {
        throw new ArenaFullError(
          `The shared arena cannot allocate ${asked} bytes: ${this.#words[H_USED]} bytes are in use in ${this.#words[H_LIVE]} regions ` +
            `and the maximum is ${maxBytes} bytes (the heap would need ${end}). Free tensors you no longer need, or raise the maximum ` +
            `with the ${ARENA_MAX_ENV} environment variable or launch({ arenaMaxBytes }) (at most ${DEFAULT_MAX_BYTES}).`,
        );
      }
      // Grow geometrically (at least 1/4 of the current size) to keep the number of grows small.
      const wantBytes = Math.min(maxBytes, Math.max(end, have + (have >> 2)));
      this.memory.grow(Math.ceil((wantBytes - have) / PAGE_BYTES));
    }
    const h = this.#heapFor(header), b = header >>> 2;
    h[b + B_MAGIC] = BLOCK_MAGIC;
    h[b + B_SIZE] = size;
    h[b + B_PREV] = this.#words[H_LAST]!;
    this.#words[H_LAST] = header;
    this.#words[H_TOP] = end;
    return header;
  }

  #releaseBlock(header: number): void {
    let at = header;
    let h = this.#heapFor(at);
    const prev = h[(at >>> 2) + B_PREV]!;
    if (prev !== 0 && h[(prev >>> 2) + B_STATE] === FREE) {
      this.#unlinkFree(prev);
      h[(prev >>> 2) + B_SIZE] += BLOCK_HEADER_BYTES + h[(at >>> 2) + B_SIZE]!;
      h[(at >>> 2) + B_MAGIC] = 0;
      at = prev;
    }
    const b = at >>> 2;
    const next = at + BLOCK_HEADER_BYTES + h[b + B_SIZE]!;
    if (next < this.#words[H_TOP]!) {
      h = this.#heapFor(next);
      const n = next >>> 2;
      if (h[n + B_STATE] === FREE) {
        this.#unlinkFree(next);
        h[b + B_SIZE] += BLOCK_HEADER_BYTES + h[n + B_SIZE]!;
        h[n + B_MAGIC] = 0;
      }
      const after = at + BLOCK_HEADER_BYTES + h[b + B_SIZE]!;
      if (after < this.#words[H_TOP]!) this.#heapFor(after)[(after >>> 2) + B_PREV] = at;
      this.#pushFree(at);
    } else {
      // The last block: lower the top instead of keeping a free block at the end.
      this.#words[H_TOP] = at;
      this.#words[H_LAST] = h[b + B_PREV]!;
      h[b + B_MAGIC] = 0;
      h[b + B_STATE] = 0;
    }
  }

  #pushFree(header: number): void {
    const h = this.#heapFor(header), b = header >>> 2;
    const next = this.#words[H_FREE_HEAD]!;
    h[b + B_STATE] = FREE;
    h[b + B_PREV_FREE] = 0;
    h[b + B_NEXT_FREE] = next;
    if (next !== 0) this.#heapFor(next)[(next >>> 2) + B_PREV_FREE] = header;
    this.#words[H_FREE_HEAD] = header;
  }

  #unlinkFree(header: number): void {
    const h = this.#heapFor(header), b = header >>> 2;
    const next = h[b + B_NEXT_FREE]!, prev = h[b + B_PREV_FREE]!;
    if (prev !== 0) this.#heapFor(prev)[(prev >>> 2) + B_NEXT_FREE] = next;
    else this.#words[H_FREE_HEAD] = next;
    if (next !== 0) this.#heapFor(next)[(next >>> 2) + B_PREV_FREE] = prev;
    h[b + B_STATE] = 0;
  }

  #acquire(): void {
    const lock = this.#lock;
    for (let i = 0; i < LOCK_SPINS; i++) {
      if (Atomics.compareExchange(lock, H_LOCK, 0, 1) === 0) {
        Atomics.store(lock, H_HOLDER, THREAD_TAG);
        return;
      }
    }
    // Contended: mark "held with waiters" and sleep until the holder releases.
    const start = performance.now();
    while (Atomics.exchange(lock, H_LOCK, 2) !== 0) {
      Atomics.wait(lock, H_LOCK, 2, 100);
      const waited = performance.now() - start;
      if (waited > this.lockTimeoutMs) {
        const holder = Atomics.load(lock, H_HOLDER);
        throw new TimeoutError(
          `Thread ${threadId} waited ${Math.round(waited)} ms for the shared arena's lock, held by ` +
            `${holder === 0 ? 'an unknown thread' : `thread ${holder - 1}`}: a thread that ends inside an allocation ` +
            '(a rank thread terminated mid-call) leaves it held, and the arena cannot be used any more in this process',
        );
      }
    }
    Atomics.store(lock, H_HOLDER, THREAD_TAG);
  }

  #release(): void {
    Atomics.store(this.#lock, H_HOLDER, 0);
    if (Atomics.exchange(this.#lock, H_LOCK, 0) === 2) Atomics.notify(this.#lock, H_LOCK, 1);
  }
}
