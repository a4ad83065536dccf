/** Tensors inside objects arrive as Tensors (dtype, shape, values), at any depth, through every object path. */
import test from 'ava';
import { withRanks } from '../../src/testing/index.js';

const fixture = new URL('../fixtures/objects-tensors.js', import.meta.url);

function expected(rank: number): unknown {
  const t = (dtype: string, shape: number[], values: unknown[]) => ({ dtype, shape, values: values.map(String) });
  return {
    top: t('float32', [1], [rank + 1]), deep: t('float64', [2], [rank, rank + 0.5]), sameRef: true, map: t('int32', [1], [rank]),
    set: t('int64', [1], [7n]), holder: t('bool', [2], [true, false]), cyc: t('int8', [2, 2], [1, 2, 3, rank]), cycle: true, plain: 'text', item: rank + 1,
  };
}

for (const n of [2, 3]) {
  test(`tensors inside objects survive every object path (${n} ranks)`, async (t) => {
    const results = (await withRanks(n, fixture, { timeoutMs: 60_000 })) as Record<string, unknown>[];
    const last = n - 1;
    results.forEach((r, rank) => {
      t.deepEqual(r.queue, expected(last), `queue broadcastObject on rank ${rank}`);
      t.deepEqual(r.collectives, expected(0), `tensor-collective broadcastObject on rank ${rank}`);
      t.deepEqual(r.gathered, Array.from({ length: n }, (_, m) => expected(m)), `allGatherObject on rank ${rank}`);
      t.deepEqual(r.list, [expected(0), { dtype: 'float32', shape: [1], values: ['9'] }], `broadcastObjectList on rank ${rank}`);
      if (rank === last) t.deepEqual(r.p2p, expected(0), 'sendObject / recvObject');
      t.deepEqual(r.gatherObject, rank === 0 ? Array.from({ length: n }, (_, m) => expected(m)) : null, `gatherObject on rank ${rank}`);
      t.deepEqual(r.scatter, expected(rank), `scatterObjectList on rank ${rank}`);
      t.deepEqual(r.dict, { x: { dtype: 'float32', shape: [2], values: ['1', '2'] }, nested: { dtype: 'int32', shape: [1], values: ['5'] } });
    });
  });
}
