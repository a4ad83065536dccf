import test from 'ava';
import { withRanks } from '../../src/testing/index.js';

test('broadcastObject and broadcastTensorDict go through per-root shared-memory queues; createFromGroup streams in order', async (t) => {
  const n = 4;
  const results = (await withRanks(n, { module: new URL('../fixtures/group-queue.js', import.meta.url), exportName: 'broadcasts' })) as {
    objects: unknown[]; dict: unknown[]; viaTensors: unknown[]; streamed: number[];
  }[];
  results.forEach((r, rank) => {
    t.deepEqual(r.objects, Array.from({ length: n }, (_, src) => [src, [src, 'x'], 100_000, src]));
    t.deepEqual(r.dict, [[1.5, -2], 7, ['3', '4']]);
    t.deepEqual(r.viaTensors, [['k', 1]]);
    t.deepEqual(r.streamed, rank === n - 1 ? [] : Array.from({ length: 50 }, (_, i) => i * 3000));
  });
});

test('destroying a group right after its root broadcast waits for the readers (no lost message)', async (t) => {
  const results = await withRanks(3, { module: new URL('../fixtures/group-queue.js', import.meta.url), exportName: 'destroyAfterBroadcast' });
  t.deepEqual(results, Array(3).fill([{ i: 0 }, { i: 1 }, { i: 2 }]));
});

test('MessageQueue.createFromGroup, exported from multirank, gives vLLM\'s enqueue, dequeue and broadcastObject on its end', async (t) => {
  const { withRanks } = await import('../../src/testing/index.js');
  const results = (await withRanks(3, { module: new URL('../fixtures/mq-public.js', import.meta.url) })) as unknown[];
  t.deepEqual(results[0], { isWriter: true, sent: { n: 1 }, wrongRole: 'dequeue' });
  for (const r of results.slice(1)) t.deepEqual(r, { isWriter: false, first: { n: 1 }, second: [2, 'two'], wrongRole: 'enqueue' });
});
