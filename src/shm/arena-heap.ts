/**
 * The allocator's blocks (arena-format.ts describes them): first-fit search of the free list, splitting,
 * carving at the top with growth, coalescing on free. Every method runs under the arena's lock, and
 * keeps the tiling readable at each single store, so that a repair can rebuild the rest.
 */
import { ArenaFullError, invalidType } from '../errors.js';
import {
  ALIGN_BYTES, ARENA_MAX_ENV, BLOCK_HEADER_BYTES, BLOCK_MAGIC, B_MAGIC, B_NEXT_FREE, B_OWNER, B_PREV, B_PREV_FREE,
  B_SIZE, B_STATE, DEFAULT_MAX_BYTES, FREE, HEADER_BYTES, H_FREE_HEAD, H_INTENT, H_LAST, H_LIVE, H_MAX_PAGES, H_TOP,
  H_USED, PAGE_BYTES, USED,
} from './arena-format.js';
import { repairHeap } from './arena-repair.js';

/** Free blocks are split only when the rest could hold a useful region. */
const SPLIT_MIN_BYTES = BLOCK_HEADER_BYTES + ALIGN_BYTES;

export class ArenaHeap {
  /** The arena header's words. */
  readonly words: Uint32Array;
  readonly #memory: WebAssembly.Memory;
  /** The whole heap as u32 words (block headers), re-made when the memory grew past it. */
  #heap: Uint32Array;

  constructor(memory: WebAssembly.Memory, words: Uint32Array) {
    this.#memory = memory;
    this.words = words;
    this.#heap = new Uint32Array(memory.buffer);
  }

  /**
   * A block of `size` payload bytes: from the free list, else carved at the top (growing the memory
   * when `grow`); 0 when it does not fit without growing and `grow` is false.
   */
  take(size: number, asked: number, grow: boolean): number {
    const header = this.#takeFree(size);
    if (header !== 0) return header;
    const fits = this.words[H_TOP]! + BLOCK_HEADER_BYTES + size <= this.#memory.buffer.byteLength;
    return !grow && !fits ? 0 : this.#takeTop(size, asked);
  }

  /** Hands out the block at `header` under tag `owner`. */
  markUsed(header: number, owner: number): void {
    const h = this.view(header), b = header >>> 2;
    // Until the region is returned, a repair frees it: a caller that died here never got it.
    this.words[H_INTENT] = header;
    h[b + B_STATE] = USED;
    h[b + B_OWNER] = owner;
    this.words[H_USED] += h[b + B_SIZE]!;
    this.words[H_LIVE] += 1;
    this.words[H_INTENT] = 0;
  }

  /** Headers of the allocated blocks tagged `owner`. */
  owned(owner: number): number[] {
    const owned: number[] = [];
    for (let header = HEADER_BYTES, top = this.words[H_TOP]!; header < top;) {
      const h = this.view(header), b = header >>> 2;
      if (h[b + B_STATE] === USED && h[b + B_OWNER] === owner) owned.push(header);
      header += BLOCK_HEADER_BYTES + h[b + B_SIZE]!;
    }
    return owned;
  }

  /** Rebuilds the state a thread that died holding the lock left half done (arena-repair.ts). */
  repair(): void {
    repairHeap(this.words, (header) => this.view(header));
  }

  /** Whether a block of the tiling starts at `header` (not payload bytes that happen to look like one). */
  isBlock(header: number): boolean {
    const top = this.words[H_TOP]!;
    if (header < HEADER_BYTES || header >= top || header % ALIGN_BYTES !== 0) return false;
    const h = this.view(header), b = header >>> 2;
    if (h[b + B_MAGIC] !== BLOCK_MAGIC) return false;
    const prev = h[b + B_PREV]!;
    if (prev === 0) return header === HEADER_BYTES;
    const p = this.view(prev), q = prev >>> 2;
    const reaches = prev + BLOCK_HEADER_BYTES + p[q + B_SIZE]! === header;
    return prev < header && p[q + B_MAGIC] === BLOCK_MAGIC && reaches;
  }

  /** Frees the allocated block at `header` (under the lock), recording it as the intent for a repair. */
  freeBlock(header: number): void {
    this.words[H_INTENT] = header;
    this.words[H_USED] -= this.view(header)[(header >>> 2) + B_SIZE]!;
    this.words[H_LIVE] -= 1;
    this.#releaseBlock(header);
    this.words[H_INTENT] = 0;
  }

  /**
   * A view of the whole heap that covers the block header at `header` (headers are read and written
   * through it as `h[(header >>> 2) + B_*]`; one view, not one per block, re-made only after a grow).
   * Every access must go through it with the header it touches: a typed-array store past the end of a
   * view made before another thread grew the memory would be dropped silently.
   */
  view(header: number): Uint32Array {
    if (header + BLOCK_HEADER_BYTES > this.#heap.byteLength) {
      this.#heap = new Uint32Array(this.#memory.buffer);
    }
    return this.#heap;
  }

  checkBlock(header: number, byteOffset: number): void {
    const top = this.words[H_TOP];
    const returned = 'an offset returned by alloc()';
    if (!Number.isInteger(byteOffset) || header < HEADER_BYTES || header >= top || header % ALIGN_BYTES !== 0) {
      throw invalidType(
        'region.byteOffset', `${returned} (in ${HEADER_BYTES + BLOCK_HEADER_BYTES}..${top})`, byteOffset,
      );
    }
    const h = this.view(header), b = header >>> 2;
    if (h[b + B_MAGIC] !== BLOCK_MAGIC) {
      throw invalidType('region.byteOffset', `${returned} (no block header there)`, byteOffset);
    }
    if (h[b + B_STATE] !== USED) {
      throw invalidType('region', 'a region that is allocated (it was freed already)', byteOffset);
    }
  }

  /** First fit in the free list; splits the block when the rest is worth keeping. 0 when none fits. */
  #takeFree(size: number): number {
    for (let header = this.words[H_FREE_HEAD]!; header !== 0; ) {
      const h = this.view(header), b = header >>> 2;
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
    const restHeader = header + BLOCK_HEADER_BYTES + size;
    const restSize = this.view(header)[(header >>> 2) + B_SIZE]! - size - BLOCK_HEADER_BYTES;
    // The rest's header first, whole; then the size that makes it part of the tiling (see arena-format.ts).
    const r = restHeader >>> 2;
    let h = this.view(restHeader);
    h[r + B_MAGIC] = BLOCK_MAGIC;
    h[r + B_SIZE] = restSize;
    h[r + B_PREV] = header;
    h[r + B_STATE] = 0;
    h = this.view(header);
    h[(header >>> 2) + B_SIZE] = size;
    const after = restHeader + BLOCK_HEADER_BYTES + restSize;
    if (after < this.words[H_TOP]!) this.view(after)[(after >>> 2) + B_PREV] = restHeader;
    this.#pushFree(restHeader);
  }

  /** Carves a new block at `top`, growing the memory when needed. */
  #takeTop(size: number, asked: number): number {
    const header = this.words[H_TOP]!;
    const end = header + BLOCK_HEADER_BYTES + size;
    const have = this.#memory.buffer.byteLength;
    if (end > have) {
      const maxBytes = this.words[H_MAX_PAGES]! * PAGE_BYTES;
      if (end > maxBytes) {
        throw new ArenaFullError(
          `The shared arena cannot allocate ${asked} bytes: ${this.words[H_USED]} bytes are in use in ` +
            `${this.words[H_LIVE]} regions and the maximum is ${maxBytes} bytes (the heap would need ${end}). Free ` +
            `tensors you no longer need, or raise the maximum with the ${ARENA_MAX_ENV} environment variable or ` +
            `launch({ arenaMaxBytes }) (at most ${DEFAULT_MAX_BYTES}).`,
        );
      }
      // Grow geometrically (at least 1/4 of the current size) to keep the number of grows small.
      const wantBytes = Math.min(maxBytes, Math.max(end, have + (have >> 2)));
      this.#memory.grow(Math.ceil((wantBytes - have) / PAGE_BYTES));
    }
    const h = this.view(header), b = header >>> 2;
    h[b + B_MAGIC] = BLOCK_MAGIC;
    h[b + B_SIZE] = size;
    h[b + B_PREV] = this.words[H_LAST]!;
    h[b + B_STATE] = 0; // the bytes there may be an old payload: a repair must not read it as USED
    this.words[H_LAST] = header;
    this.words[H_TOP] = end;
    return header;
  }

  #releaseBlock(header: number): void {
    let at = header;
    let h = this.view(at);
    const prev = h[(at >>> 2) + B_PREV]!;
    if (prev !== 0 && h[(prev >>> 2) + B_STATE] === FREE) {
      this.#unlinkFree(prev);
      h[(prev >>> 2) + B_SIZE] += BLOCK_HEADER_BYTES + h[(at >>> 2) + B_SIZE]!;
      h[(at >>> 2) + B_MAGIC] = 0;
      at = prev;
    }
    const b = at >>> 2;
    const next = at + BLOCK_HEADER_BYTES + h[b + B_SIZE]!;
    if (next < this.words[H_TOP]!) {
      h = this.view(next);
      const n = next >>> 2;
      if (h[n + B_STATE] === FREE) {
        this.#unlinkFree(next);
        h[b + B_SIZE] += BLOCK_HEADER_BYTES + h[n + B_SIZE]!;
        h[n + B_MAGIC] = 0;
      }
      const after = at + BLOCK_HEADER_BYTES + h[b + B_SIZE]!;
      if (after < this.words[H_TOP]!) this.view(after)[(after >>> 2) + B_PREV] = at;
      this.#pushFree(at);
    } else {
      // The last block: lower the top instead of keeping a free block at the end.
      this.words[H_TOP] = at;
      this.words[H_LAST] = h[b + B_PREV]!;
      h[b + B_MAGIC] = 0;
      h[b + B_STATE] = 0;
    }
  }

  #pushFree(header: number): void {
    const h = this.view(header), b = header >>> 2;
    const next = this.words[H_FREE_HEAD]!;
    h[b + B_STATE] = FREE;
    h[b + B_PREV_FREE] = 0;
    h[b + B_NEXT_FREE] = next;
    if (next !== 0) this.view(next)[(next >>> 2) + B_PREV_FREE] = header;
    this.words[H_FREE_HEAD] = header;
  }

  #unlinkFree(header: number): void {
    const h = this.view(header), b = header >>> 2;
    const next = h[b + B_NEXT_FREE]!, prev = h[b + B_PREV_FREE]!;
    if (prev !== 0) this.view(prev)[(prev >>> 2) + B_NEXT_FREE] = next;
    else this.words[H_FREE_HEAD] = next;
    if (next !== 0) this.view(next)[(next >>> 2) + B_PREV_FREE] = prev;
    h[b + B_STATE] = 0;
  }
}
