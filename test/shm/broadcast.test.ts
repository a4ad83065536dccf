import test from 'ava';
import { MessageQueue } from '../../src/shm/message-queue.js';
import { H_PUBLISHED } from '../../src/shm/ring-buffer.js';
import { spinIterationsFor } from '../../src/shm/wait.js';
import { arrayLengths, shuffled } from './fixtures/plan.js';
import { guardedRegion, guardsIntact, runFixture, startFixture, waitAsyncUntil } from './helpers.js';

const SEED = 42;

// vLLM tests/distributed/test_shm_broadcast.py: 4 ranks, writer rank 2, 40 KiB x 2 chunks, 10 000 random int64
// arrays with lengths 1..10 000 (about half larger than a chunk), random pauses on both sides.
test('vLLM semantics: 10 000 random int64 arrays from rank 2 to 3 readers through 40 KiB x 2 chunks', async (t) => {
  const worldSize = 4, writerRank = 2, count = 10_000;
  const sizes = { nReaders: worldSize - 1, maxChunkBytes: 40 * 1024, maxChunks: 2 };
  const region = guardedRegion(MessageQueue.bytesNeeded(sizes));
  const { handle } = MessageQueue.create(region, sizes);
  const spinIterations = spinIterationsFor(worldSize);
  const started = performance.now();
  const ranks = await Promise.all(Array.from({ length: worldSize }, (_, rank) =>
    runFixture<{ rank: number; count: number; overflowed: number; wrong: number }>('random-arrays',
      { handle, rank, writerRank, count, seed: SEED, spinIterations })));
  t.log(`seed ${SEED}: ${count} messages to ${worldSize - 1} readers in ${Math.round(performance.now() - started)} ms`);
  const overflowing = arrayLengths(count, SEED).filter((n) => 8 * n > sizes.maxChunkBytes).length;
  t.true(overflowing > 0.4 * count && overflowing < 0.6 * count, `${overflowing} arrays larger than a chunk`);
  t.deepEqual(ranks, [0, 1, 2, 3].map((rank) => ({ rank, count, overflowed: overflowing, wrong: 0 })));
  t.true(guardsIntact(region));
});

// Readers attach one at a time in a seeded order while the writer is already blocked on a full ring.
for (const seed of [1, 2, 4]) { // three different join orders
  test(`readers join in any order (seed ${seed})`, async (t) => {
    const nReaders = 4;
    const sizes = { nReaders, maxChunkBytes: 256, maxChunks: 3 };
    const region = guardedRegion(MessageQueue.bytesNeeded(sizes));
    const queue = MessageQueue.create(region, sizes);
    const plan = { handle: queue.handle, seed, count: 150, maxBytes: 1500, spinIterations: 0, pauseChance: 0.05 };
    const control = new Int32Array(new SharedArrayBuffer(4 * (nReaders + 1))); // [0..3] gates, [4] attached
    const order = shuffled(nReaders, seed);
    const writer = runFixture<number>('plan-writer', plan);
    const readers = [0, 1, 2, 3].map((index) => runFixture<{ index: number; count: number; wrong: number[] }>('plan-reader',
      { ...plan, index, control, gateIndex: index, attachedIndex: nReaders, inPlaceChance: 0 }));
    await waitAsyncUntil(queue.ring.words, H_PUBLISHED, (published) => published >= sizes.maxChunks); // the ring is full
    for (const [joined, index] of order.entries()) {
      Atomics.store(control, index, 1);
      Atomics.notify(control, index);
      await waitAsyncUntil(control, nReaders, (attached) => attached === joined + 1);
    }
    t.is(await writer, plan.count);
    t.deepEqual(await Promise.all(readers), [0, 1, 2, 3].map((index) => ({ index, count: plan.count, wrong: [], viewed: 0 })));
    t.log(`join order ${order.join(', ')}`);
    t.true(guardsIntact(region));
  });
}

test('a reader may attach before the writer and wait for the first message', async (t) => {
  const sizes = { nReaders: 1, maxChunkBytes: 128, maxChunks: 2 };
  const queue = MessageQueue.create(guardedRegion(MessageQueue.bytesNeeded(sizes)), sizes);
  const control = new Int32Array(new SharedArrayBuffer(8));
  const reader = startFixture<{ ended: string; value: unknown }>('blocked-reader', { handle: queue.handle, index: 0, control, timeoutMs: 20_000 });
  await waitAsyncUntil(control, 0, (attached) => attached === 1);
  queue.writer().enqueue({ first: true });
  t.like(await reader.result, { ended: 'returned', value: { first: true } });
});
