import test from 'ava';
import { Worker } from 'node:worker_threads';
import { Arena, ARENA_MAX_ENV, PAGE_BYTES, arenaMaxBytesFromEnv } from '../../src/shm/arena.js';
import { ErrorCodes } from '../../src/errors.js';
import { Rng } from '../helpers/mulberry32.js';

test('allocation/free churn: regions are 64-byte aligned, never overlap, and all memory comes back', (t) => {
  const arena = Arena.create({ initialBytes: 1 << 20, maxBytes: 64 << 20 });
  const rng = new Rng(7);
  const live: { byteOffset: number; byteLength: number; fill: number }[] = [];
  const bytes = (): Uint8Array => new Uint8Array(arena.buffer(arena.memory.buffer.byteLength));
  for (let step = 0; step < 5000; step++) {
    if (live.length > 0 && rng.float() < 0.45) {
      const [region] = live.splice(Math.floor(rng.float() * live.length), 1);
      // Its bytes are intact: no other region overlapped it.
      const view = bytes().subarray(region!.byteOffset, region!.byteOffset + region!.byteLength);
      t.true(view.every((b) => b === region!.fill), `region at ${region!.byteOffset} was overwritten`);
      arena.free(region!);
    } else {
      const size = Math.floor(rng.float() * (rng.float() < 0.1 ? 200_000 : 3000));
      const region = arena.alloc(size);
      t.is(region.byteOffset % 64, 0);
      const fill = step % 251;
      bytes().fill(fill, region.byteOffset, region.byteOffset + size);
      live.push({ ...region, fill });
    }
  }
  t.is(arena.liveRegions, live.length);
  for (const region of live) arena.free(region);
  t.is(arena.usedBytes, 0);
  t.is(arena.liveRegions, 0);
  // After everything was freed the heap is one block again: a large allocation fits at the start.
  const again = arena.alloc(1 << 20);
  t.true(again.byteOffset < 8192);
});

test('freeing twice or a foreign offset throws, naming the argument', (t) => {
  const arena = Arena.create({ initialBytes: 1 << 20, maxBytes: 8 << 20 });
  const region = arena.alloc(100);
  arena.alloc(100); // keeps `region` from being the last block
  arena.free(region);
  t.throws(() => arena.free(region), { code: ErrorCodes.INVALID_ARG_TYPE, message: /`region` to be a region that is allocated/ });
  t.throws(() => arena.free({ byteOffset: 12_345_678, byteLength: 1 }), { code: ErrorCodes.INVALID_ARG_TYPE, message: /region\.byteOffset/ });
  t.throws(() => arena.alloc(-1), { code: ErrorCodes.OUT_OF_RANGE, message: /byteLength/ });
});

test('the limit error says how much was asked, used and allowed, and what raises it', (t) => {
  const arena = Arena.create({ initialBytes: PAGE_BYTES, maxBytes: 4 << 20 });
  arena.alloc(3 << 20);
  const error = t.throws(() => arena.alloc(2 << 20));
  t.is((error as { code?: string }).code, ErrorCodes.ARENA_FULL);
  t.regex(error!.message, /cannot allocate 2097152 bytes: 3145728 bytes are in use in 1 regions and the maximum is 4194304 bytes/);
  t.regex(error!.message, new RegExp(`${ARENA_MAX_ENV}.*arenaMaxBytes`));
  t.is(arenaMaxBytesFromEnv({ [ARENA_MAX_ENV]: '1048576' }), 1048576);
  t.throws(() => arenaMaxBytesFromEnv({ [ARENA_MAX_ENV]: 'lots' }), { message: new RegExp(ARENA_MAX_ENV) });
});

test('growth is seen by a second worker thread: it allocates past the old end and the main thread reads it', async (t) => {
  const arena = Arena.create({ initialBytes: PAGE_BYTES, maxBytes: 256 << 20 });
  const before = arena.memory.buffer.byteLength;
  const worker = new Worker(new URL('./fixtures/arena-grow.js', import.meta.url), { workerData: { memory: arena.memory } });
  const result = await new Promise<{ byteOffset: number; byteLength: number }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await worker.terminate();
  t.true(result.byteOffset + result.byteLength > before, 'the worker grew the memory');
  const view = new Uint8Array(arena.buffer(result.byteOffset + result.byteLength), result.byteOffset, result.byteLength);
  t.is(view[0], 42);
  t.is(view[result.byteLength - 1], 42);
  // The main thread's allocations continue after the worker's: the header is shared.
  t.true(arena.alloc(64).byteOffset > result.byteOffset);
});

test('freeOwnedBy frees exactly the allocated regions with that tag, coalescing around them', (t) => {
  const arena = Arena.create({ initialBytes: 1 << 20, maxBytes: 1 << 22 });
  const untagged = arena.alloc(100);
  const a = [arena.alloc(64, 7), arena.alloc(1000, 7), arena.alloc(64, 9), arena.alloc(5000, 7), arena.alloc(64)];
  arena.free(a[1]!); // freed by its user: not freed again
  const reused = arena.alloc(900, 9); // may reuse a[1]'s block under another tag
  t.is(arena.freeOwnedBy(7), 2);
  t.is(arena.liveRegions, 4);
  t.is(arena.freeOwnedBy(7), 0, 'nothing is freed twice');
  t.throws(() => arena.freeOwnedBy(0), { message: /`owner`/ });
  for (const r of [untagged, a[2]!, a[4]!, reused]) arena.free(r);
  t.is(arena.liveRegions, 0);
  t.is(arena.usedBytes, 0);
  // The heap is whole again: one region as large as everything freed fits without growing.
  t.truthy(arena.tryAlloc(6000));
});

test('freeOwnedBy handles owned blocks at the top of the heap, next to each other', (t) => {
  const arena = Arena.create({ initialBytes: 1 << 20, maxBytes: 1 << 22 });
  const keep = arena.alloc(64);
  const owned = [arena.alloc(128, 5), arena.alloc(64, 5), arena.alloc(4096, 5)];
  arena.free(owned[1]!);
  arena.alloc(64, 5); // takes owned[1]'s block again
  t.is(arena.freeOwnedBy(5), 3);
  t.is(arena.liveRegions, 1);
  const again = arena.alloc(128 + 64 + 4096 + 2 * 64); // the freed run coalesced into one block
  t.is(again.byteOffset, owned[0]!.byteOffset);
  arena.free(again);
  arena.free(keep);
  t.is(arena.usedBytes, 0);
});

test('a lock left held (its holder died, nobody recovered it) gives a TimeoutError naming the holder, not a hang', (t) => {
  const arena = Arena.create({ initialBytes: 1 << 20, maxBytes: 1 << 22 });
  arena.lockTimeoutMs = 300;
  const header = new Int32Array(arena.memory.buffer, 0, 16);
  header[1] = 5; // the lock word holds its holder's tag: thread 4
  t.is(arena.lockHolder, 4);
  const start = performance.now();
  const message = /waited \d+ ms for the shared arena's lock, held by thread 4/;
  const error = t.throws(() => arena.alloc(64), { code: ErrorCodes.TIMEOUT, message });
  t.regex(error!.message, /terminated inside an allocation/);
  t.true(performance.now() - start < 5_000);
  t.false(arena.recoverLockOf(3), 'only the holder\'s death frees its lock');
  t.true(arena.recoverLockOf(4));
  t.is(arena.lockHolder, undefined);
  const region = arena.alloc(64); // usable again once recovered
  t.is(arena.lockHolder, undefined, 'the lock word is cleared on release');
  arena.free(region);
});

test('a handle whose view predates a grow (another thread grew the memory) keeps the free list whole', (t) => {
  const a1 = Arena.create({ initialBytes: PAGE_BYTES, maxBytes: 8 << 20 });
  const a2 = new Arena(a1.memory); // a second thread's handle, attached before the grow
  const low = a1.alloc(1024);
  a1.alloc(200_000); // grows the memory: what follows has its header past a2's view
  const high = a1.alloc(4096);
  a1.alloc(64); // keeps `high` from being the last block
  t.true(high.byteOffset > PAGE_BYTES);
  a1.free(high);
  a2.free(low); // links `low` before `high` in the free list: a2 writes high's header, past its old view
  t.is(a1.alloc(4096).byteOffset, high.byteOffset, 'high is taken from the free list');
  t.is(a1.alloc(1024).byteOffset, low.byteOffset, 'low is still in the free list');
});
