/** The `...Async` forms of every collective return a Work whose wait() gives the blocking call's result. */
import test from 'ava';
import { withRanks } from '../../src/testing/index.js';

const fixture = new URL('../fixtures/comm-async.js', import.meta.url);

test('every ...Async form returns a completed Work with the collective result (3 ranks)', async (t) => {
  const n = 3;
  const reports = (await withRanks(n, fixture, { timeoutMs: 20_000 })) as Record<string, { completed: boolean; value: unknown }>[];
  const ranks = [0, 1, 2];
  reports.forEach((r, rank) => {
    const expected: Record<string, unknown> = {
      allReduce: [n, 10 * n],
      allGather: ranks.flatMap((m) => [m + 1, 10 * (m + 1)]),
      reduceScatter: [ranks.reduce((a, m) => a + m + 1, 0)],
      broadcast: [n, 10 * n],
      allToAll: ranks.map((m) => m * 100 + rank),
      gather: rank === n - 1 ? ranks.flatMap((m) => [m + 1, 10 * (m + 1)]) : null,
      reduce: rank === 0 ? [6, 60] : [rank + 1, 10 * (rank + 1)],
      barrier: null,
      sendRecv: [((rank - 1 + n) % n) + 1, 10 * (((rank - 1 + n) % n) + 1)],
    };
    for (const [name, value] of Object.entries(expected)) {
      t.true(r[name]!.completed, `${name} on rank ${rank}`);
      t.deepEqual(r[name]!.value, value, `${name} on rank ${rank}`);
    }
  });
});
