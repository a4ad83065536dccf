/**
 * Rebuilds the allocator's state after its lock holder died mid-update (arena-format.ts: the tiling is
 * readable at every store, the intent word names the block that was being allocated or freed). Run by
 * the thread that took the lock over, before it releases it.
 *
 * The walk from HEADER_BYTES to `top` gives every block; a block is allocated when its state says USED
 * and it is not the intent's (a region being allocated never reached its caller, one being freed was
 * given up by its owner). Every other block (free, or between states) is free; runs of them merge, a
 * free run at the end lowers `top`, and the free list, the previous-block links, the last block, the
 * bytes in use and the region count are written anew.
 */
import { arenaCorrupt } from '../errors.js';
import {
  BLOCK_HEADER_BYTES, BLOCK_MAGIC, B_MAGIC, B_NEXT_FREE, B_PREV, B_PREV_FREE, B_SIZE, B_STATE, FREE, HEADER_BYTES,
  H_FREE_HEAD, H_INTENT, H_LAST, H_LIVE, H_TOP, H_USED, USED, type HeapView,
} from './arena-format.js';

interface Block {
  header: number;
  size: number;
  used: boolean;
}

/** Reads the tiling; throws when it is not readable (a bug: no single store can break it). */
function walk(words: Uint32Array, heap: HeapView): Block[] {
  const top = words[H_TOP]!, intent = words[H_INTENT]!;
  const blocks: Block[] = [];
  let header = HEADER_BYTES;
  while (header < top) {
    const h = heap(header), b = header >>> 2;
    const size = h[b + B_SIZE]!;
    if (h[b + B_MAGIC] !== BLOCK_MAGIC || header + BLOCK_HEADER_BYTES + size > top) {
      throw arenaCorrupt(`The shared arena's heap cannot be repaired: no block at ${header} (top ${top})`);
    }
    blocks.push({ header, size, used: h[b + B_STATE] === USED && header !== intent });
    header += BLOCK_HEADER_BYTES + size;
  }
  return blocks;
}

export function repairHeap(words: Uint32Array, heap: HeapView): void {
  const blocks = walk(words, heap);
  let prev = 0, usedBytes = 0, live = 0, freeHead = 0, lastFree = false;
  for (let i = 0; i < blocks.length; i++) {
    const block = blocks[i]!;
    let size = block.size;
    if (!block.used) {
      // Merge the run of blocks that are not in use into this one.
      while (i + 1 < blocks.length && !blocks[i + 1]!.used) {
        const next = blocks[++i]!;
        size += BLOCK_HEADER_BYTES + next.size;
        heap(next.header)[(next.header >>> 2) + B_MAGIC] = 0;
      }
    }
    const h = heap(block.header), b = block.header >>> 2;
    h[b + B_SIZE] = size;
    h[b + B_PREV] = prev;
    if (block.used) {
      usedBytes += size;
      live++;
    } else {
      h[b + B_STATE] = FREE;
      h[b + B_PREV_FREE] = 0;
      h[b + B_NEXT_FREE] = freeHead;
      if (freeHead !== 0) heap(freeHead)[(freeHead >>> 2) + B_PREV_FREE] = block.header;
      freeHead = block.header;
    }
    lastFree = !block.used;
    prev = block.header;
  }
  if (lastFree) {
    // The last block is never free: lower the top instead (it heads the free list, pushed last).
    const h = heap(prev), b = prev >>> 2;
    words[H_TOP] = prev;
    freeHead = h[b + B_NEXT_FREE]!;
    if (freeHead !== 0) heap(freeHead)[(freeHead >>> 2) + B_PREV_FREE] = 0;
    prev = h[b + B_PREV]!;
    h[b + B_MAGIC] = 0;
    h[b + B_STATE] = 0;
  }
  words[H_LAST] = prev;
  words[H_FREE_HEAD] = freeHead;
  words[H_USED] = usedBytes;
  words[H_LIVE] = live;
  words[H_INTENT] = 0;
}
