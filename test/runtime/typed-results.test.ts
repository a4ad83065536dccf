/**
 * launch<Args, Result>, withRanks<Result, Args>, RankEntry: the types of args and results reach the driver
 * without casts. The @ts-expect-error lines are part of the test: the build fails when one of those calls
 * stops being a type error (args typed `unknown` again, results `unknown[]`).
 */
import test from 'ava';
import { launch, type Job, type RankEntry, type RankInfo } from '../../src/index.js';
import { withRanks } from '../../src/testing/index.js';
import type { ScaleArgs, ScaleResult } from '../fixtures/typed-entry.js';

const target = { module: new URL('../fixtures/typed-entry.js', import.meta.url), exportName: 'scale' };

test('withRanks<Result, Args>: typed args in, typed results out', async (t) => {
  const results = await withRanks<ScaleResult, ScaleArgs>(4, target, { args: { factor: 3 } });
  const sums: number[] = results.map((r) => r.scaledSum); // no cast: r is a ScaleResult
  t.deepEqual(sums, [18, 18, 18, 18]);
  t.deepEqual(results.map((r) => r.rank), [0, 1, 2, 3]);
  // Type-checked, never run:
  // @ts-expect-error: the args are a ScaleArgs
  const badArgs = (): Promise<ScaleResult[]> => withRanks<ScaleResult, ScaleArgs>(1, target, { args: { factor: 'x' } });
  t.is(typeof badArgs, 'function');
});

test('launch<Args, Result>: job.results, rank(i).call<T> and collectiveRpc<T> are typed', async (t) => {
  const job: Job<ScaleResult> = await launch<ScaleArgs, ScaleResult>({ ...target, worldSize: 2, args: { factor: 2 } });
  try {
    const results = await job.results;
    const first: ScaleResult = results[0]!;
    t.is(first.scaledSum, 2);
    const echoed: string = await job.rank(1).call<string>('echo', 'x');
    t.is(echoed, 'echo x');
    const all: string[] = await job.collectiveRpc<string>('echo', 'y');
    t.deepEqual(all, ['echo y', 'echo y']);
    // @ts-expect-error: a result is a ScaleResult, which has no `total`
    t.is(results[1]!.total, undefined);
  } finally {
    await job.close();
  }
});

test('RankEntry checks an entry against its args and result types', (t) => {
  const entry: RankEntry<ScaleArgs, number> = ({ args }: RankInfo<ScaleArgs>) => args.factor;
  // @ts-expect-error: the entry returns a string where a number is expected
  const wrong: RankEntry<ScaleArgs, number> = ({ args }: RankInfo<ScaleArgs>) => String(args.factor);
  t.is(entry({ rank: 0, worldSize: 1, localRank: 0, args: { factor: 5 } }), 5);
  t.is(typeof wrong, 'function');
});
