/**
 * The arena's lock and heap survive a thread that dies holding the lock (issue 13 item 1): the thread
 * that created it recovers the lock when it sees it exit, and the repair rebuilds whatever the dead
 * thread left half done, from each partial state an allocation or a free can leave.
 */
import test from 'ava';
import { Worker } from 'node:worker_threads';
import { Arena } from '../../src/shm/arena.js';
import { arenaLockSettled, recoverOnThreadExit } from '../../src/shm/arena-recovery.js';
import {
  BLOCK_HEADER_BYTES, BLOCK_MAGIC, B_MAGIC, B_PREV, B_SIZE, B_STATE, H_INTENT, H_LAST, H_LIVE, H_LOCK, H_TOP, H_USED, USED,
} from '../../src/shm/arena-format.js';

const DEAD_THREAD = 999_999; // no such thread: its "death" is what the test says it is

function setup(): { arena: Arena; words: Uint32Array; heap: Uint32Array } {
  const arena = Arena.create({ initialBytes: 1 << 20, maxBytes: 1 << 22 });
  return { arena, words: new Uint32Array(arena.memory.buffer, 0, 1024), heap: new Uint32Array(arena.memory.buffer) };
}

/** The dead thread holds the lock; recovery must take it and leave a heap that works and adds up. */
function recoverAndCheck(t: { true(v: boolean, m?: string): void; is(a: unknown, b: unknown, m?: string): void }, arena: Arena,
  words: Uint32Array, live: { byteOffset: number; byteLength: number }[]): void {
  Atomics.store(new Int32Array(arena.memory.buffer, 0, 16), H_LOCK, DEAD_THREAD + 1);
  t.true(arena.recoverLockOf(DEAD_THREAD));
  t.is(arena.lockHolder, undefined);
  t.is(words[H_INTENT], 0);
  t.is(arena.liveRegions, live.length, 'regions in use');
  t.is(arena.usedBytes, live.reduce((sum, r) => sum + Math.ceil(Math.max(1, r.byteLength) / 64) * 64, 0), 'bytes in use');
  // The heap works: allocate and free a few sizes, then free what was live: it is one free heap again.
  const more = [100, 5000, 64, 20_000].map((n) => arena.alloc(n));
  for (const r of [...more, ...live]) arena.free(r);
  t.is(arena.liveRegions, 0);
  t.is(arena.usedBytes, 0);
  t.is(words[H_TOP], 4096, 'everything coalesced and the top came down');
}

test('died in the middle of a split: the rest\'s header written, the block not yet shrunk', (t) => {
  const { arena, words, heap } = setup();
  const keep = arena.alloc(64);
  const big = arena.alloc(10_000);
  const tail = arena.alloc(64);
  arena.free(big); // a free block of 10 048 bytes between two used ones
  const header = big.byteOffset - BLOCK_HEADER_BYTES;
  // What #takeFree + #split do before their commit: unlink (state 0), write the rest's header in full.
  heap[(header >>> 2) + B_STATE] = 0;
  const rest = header + BLOCK_HEADER_BYTES + 128;
  heap[(rest >>> 2) + B_MAGIC] = BLOCK_MAGIC;
  heap[(rest >>> 2) + B_SIZE] = heap[(header >>> 2) + B_SIZE]! - 128 - BLOCK_HEADER_BYTES;
  heap[(rest >>> 2) + B_PREV] = header;
  heap[(rest >>> 2) + B_STATE] = 0;
  recoverAndCheck(t, arena, words, [keep, tail]);
});

test('died after marking a block used, before returning it: the region is freed again', (t) => {
  const { arena, words, heap } = setup();
  const keep = arena.alloc(64);
  const lost = arena.alloc(300); // as if alloc died before returning it: its intent still names it
  const last = arena.alloc(64);
  words[H_INTENT] = lost.byteOffset - BLOCK_HEADER_BYTES;
  t.is(heap[((lost.byteOffset - BLOCK_HEADER_BYTES) >>> 2) + B_STATE], USED);
  recoverAndCheck(t, arena, words, [keep, last]);
});

test('died in the middle of a free: counters already lowered, the block still marked used', (t) => {
  const { arena, words } = setup();
  const keep = arena.alloc(64);
  const freeing = arena.alloc(1000);
  const last = arena.alloc(64);
  words[H_INTENT] = freeing.byteOffset - BLOCK_HEADER_BYTES;
  words[H_USED] -= 1024;
  words[H_LIVE] -= 1;
  recoverAndCheck(t, arena, words, [keep, last]);
});

test('died while carving a block at the top: the last-block word moved, the top did not', (t) => {
  const { arena, words, heap } = setup();
  const keep = arena.alloc(64);
  const top = words[H_TOP]!;
  heap[(top >>> 2) + B_MAGIC] = BLOCK_MAGIC; // the new header, written in full but not reachable
  heap[(top >>> 2) + B_SIZE] = 4096;
  heap[(top >>> 2) + B_PREV] = words[H_LAST]!;
  heap[(top >>> 2) + B_STATE] = 0;
  words[H_LAST] = top;
  recoverAndCheck(t, arena, words, [keep]);
});

test('only the dead holder\'s lock is taken over; a live holder or a free lock is left alone', (t) => {
  const { arena } = setup();
  t.false(arena.recoverLockOf(DEAD_THREAD), 'a free lock');
  const lock = new Int32Array(arena.memory.buffer, 0, 16);
  Atomics.store(lock, H_LOCK, 12 + 1); // thread 12 holds it
  t.false(arena.recoverLockOf(DEAD_THREAD));
  t.is(arena.lockHolder, 12);
  t.is(arena.lockRecoveries, 0);
  Atomics.store(lock, H_LOCK, 0);
});

test('a worker terminated while it holds the lock: its creator recovers the lock when it sees it exit', async (t) => {
  const { arena } = setup();
  const stop = recoverOnThreadExit(arena);
  try {
    const worker = new Worker(new URL('./fixtures/arena-holder.js', import.meta.url), { workerData: { memory: arena.memory } });
    await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    t.is(arena.lockHolder, worker.threadId);
    await worker.terminate();
    await arenaLockSettled(arena, 5_000);
    t.is(arena.lockHolder, undefined);
    t.is(arena.lockRecoveries, 1);
    arena.free(arena.alloc(128));
    t.is(arena.liveRegions, 0);
  } finally {
    stop();
  }
});
