/** The `...Async` forms of every collective return a Work whose wait() gives the blocking call's result. */
import test from 'ava';
import { withRanks } from '../../src/testing/index.js';

const fixture = new URL('../fixtures/comm-async.js', import.meta.url);

test('every ...Async form returns a Work whose wait() gives the collective result (3 ranks)', async (t) => {
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

for (const n of [2, 3, 8]) {
  test(`irecv, then isend, then wait does not deadlock (${n} ranks)`, async (t) => {
    const results = (await withRanks(n, { module: fixture, exportName: 'irecvThenIsend' }, { timeoutMs: 20_000 })) as number[][];
    results.forEach((got, rank) => {
      const prev = (rank - 1 + n) % n;
      t.deepEqual(got, [prev, prev * 2, prev * 3], `rank ${rank}`);
    });
  });
}

test('many outstanding Works complete in the order upstream allows, waited on in any order (4 ranks)', async (t) => {
  const n = 4;
  const results = (await withRanks(n, { module: fixture, exportName: 'manyOutstanding' }, { timeoutMs: 20_000 })) as Record<string, unknown>[];
  const sumOf = (f: (r: number) => number): number => Array.from({ length: n }, (_, r) => f(r)).reduce((a, b) => a + b, 0);
  results.forEach((r, rank) => {
    t.deepEqual(r.blocking, [sumOf((m) => 1000 + m)], `rank ${rank}: the blocking call after the queued ones`);
    t.deepEqual(r.queuedAfter, [true, true, true, true, true, true], `rank ${rank}: queued collectives ran before the blocking one`);
    t.deepEqual(r.reduced, [0, 1, 2, 3, 4, 5].map((i) => sumOf((m) => m + 10 * i)), `rank ${rank}: each queued collective's own sum`);
    const received = r.received as Record<string, number[]>;
    for (let peer = 0; peer < n; peer++) {
      if (peer !== rank) t.deepEqual(received[peer], [peer * 100, peer * 100 + 1, peer * 100 + 2], `rank ${rank} from ${peer}`);
    }
    t.deepEqual(r.polledValue, [7], `rank ${rank}: isCompleted() polling completed the irecv`);
  });
});

test('an ...Async call with a bad argument throws at the call', async (t) => {
  const results = (await withRanks(2, { module: fixture, exportName: 'badArgumentAtIssue' }, { timeoutMs: 20_000 })) as string[][];
  for (const [op, out] of results) {
    t.regex(op!, /options\.op/);
    t.regex(out!, /options\.out.*must be float32 \[2\]/);
  }
});
