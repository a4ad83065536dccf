import test from 'ava';
import { withRanks } from '../../src/testing/index.js';
import { ErrorCodes } from '../../src/errors.js';
import { quietFailures } from '../helpers/quiet-failures.js';

quietFailures();

const fixture = new URL('../fixtures/world-basics.js', import.meta.url);

for (const n of [1, 2, 3, 8]) {
  test(`world allReduce and allGather on ${n} ranks`, async (t) => {
    const results = (await withRanks(n, fixture)) as { sum: number[]; gathered: number[]; env: string }[];
    const expectedSum = [(n * (n - 1)) / 2, n];
    results.forEach((r, rank) => {
      t.deepEqual(r.sum, expectedSum);
      t.deepEqual(r.gathered, Array.from({ length: n }, (_, i) => i));
      t.is(r.env, String(rank));
    });
  });
}

test('a rank that throws fails the job with its rank and stack; peers are released', async (t) => {
  const started = performance.now();
  const error = await t.throwsAsync(withRanks(4, { module: fixture, exportName: 'throwsOnRank1' }, { timeoutMs: 60_000 }));
  t.is((error as { code?: string }).code, ErrorCodes.RANK_FAILED);
  t.is((error as { rank?: number }).rank, 1);
  t.regex(error!.message, /Rank 1 failed: Error: boom on rank 1/);
  t.regex(error!.message, /world-basics/);
  t.true(performance.now() - started < 10_000);
});
