/**
 * The arena's format (shared by the allocator, its lock and its repair). Byte offsets; every header word
 * is a u32, read and written with Atomics or under the lock.
 *
 *   0                        HEADER_BYTES                                   top          memory.buffer.byteLength
 *   +-----------------------+---------+----------+---------+----------+-----+-------------+
 *   | arena header (words)  | blk hdr | payload  | blk hdr | payload  | ... | (unused)    |
 *   +-----------------------+---------+----------+---------+----------+-----+-------------+
 *
 *   arena header words: [0] MAGIC  [1] lock (0 free, else the holder's thread tag | WAITERS; arena-lock.ts)
 *                       [2] top (end of last block)  [3] maxPages  [4] usedBytes (payload bytes handed out)
 *                       [5] freeHead (0 = none)  [6] liveRegions  [7] header of the last block (0 = none)
 *                       [8] intent: the header of the block being allocated or freed under the lock (0: none)
 *                       [9] the last owner tag handed out (`Arena.newOwner`)  [10] lock recoveries so far
 *                       [15] MAGIC (canary)
 *   block header (BLOCK_HEADER_BYTES = 64, so payloads stay 64-aligned):
 *                       [0] BLOCK_MAGIC  [1] payloadBytes  [2] state (1 used, 2 free, 0 in between)
 *                       [3] offset of the previous block's header (0 for the first)
 *                       [4] next free block header (free blocks only)  [5] previous free block header
 *                       [6] owner: the tag given to alloc (0: none), which `freeOwnedBy` matches
 *
 * Invariants: blocks tile [HEADER_BYTES, top) with no gap; two free blocks are never adjacent (freeing
 * coalesces both ways); the last block is never free (freeing it lowers `top` instead).
 *
 * Crash safety: a thread can be terminated at any point while it holds the lock. Every update keeps the
 * tiling readable at each single store (a new block header is written in full before the store that
 * makes it reachable: a size, or `top`), and the intent word names the one block whose allocation or
 * release was under way. From the tiling alone `repairHeap` rebuilds everything else: the free list, the
 * previous-block links, the counters, the last block (arena-repair.ts).
 */
export const PAGE_BYTES = 65536;
export const ALIGN_BYTES = 64;
export const HEADER_BYTES = 4096;
export const BLOCK_HEADER_BYTES = 64;
export const MAGIC = 0x6d72616e; // "mran"
export const BLOCK_MAGIC = 0x626c6b31; // "blk1"
export const H_MAGIC = 0, H_LOCK = 1, H_TOP = 2, H_MAX_PAGES = 3, H_USED = 4, H_FREE_HEAD = 5, H_LIVE = 6, H_LAST = 7;
export const H_INTENT = 8, H_OWNER_SEQ = 9, H_RECOVERED = 10, H_CANARY = 15;
export const B_MAGIC = 0, B_SIZE = 1, B_STATE = 2, B_PREV = 3, B_NEXT_FREE = 4, B_PREV_FREE = 5, B_OWNER = 6;
export const USED = 1, FREE = 2;
/** wasm32 addresses 4 GiB at most. */
export const MAX_PAGES_LIMIT = 65536;
export const DEFAULT_MAX_BYTES = MAX_PAGES_LIMIT * PAGE_BYTES;
/** The environment variable that raises the arena's maximum (bytes). */
export const ARENA_MAX_ENV = 'MULTIRANK_ARENA_MAX_BYTES';

/** The heap's u32 words covering the block header at `header` (re-made after a grow; see Arena). */
export type HeapView = (header: number) => Uint32Array;
