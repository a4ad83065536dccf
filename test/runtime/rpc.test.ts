import test from 'ava';
import { launch } from '../../src/launch/launch.js';

const fixture = new URL('../fixtures/rpc.js', import.meta.url);

test('collectiveRpc runs a collective step on every rank after main returned; rank(i).call reaches one rank', async (t) => {
  const job = await launch({ worldSize: 4, module: fixture });
  try {
    t.deepEqual(await job.results, ['ready', 'ready', 'ready', 'ready']);
    for (const x of [1, 10, 100]) t.deepEqual(await job.collectiveRpc('step', x), Array(4).fill(6 + 4 * x));
    t.is(await job.rank(3).call('whoami'), 3);
    const big = Float64Array.from({ length: 300_000 }, (_, i) => i % 7);
    const expected = big.reduce((a, b) => a + b, 0);
    t.deepEqual(await job.collectiveRpc('digest', big), Array(4).fill([300_000, expected]));
    const calls = await Promise.all([job.collectiveRpc('step', 2), job.collectiveRpc('step', 3)]);
    t.deepEqual(calls, [Array(4).fill(14), Array(4).fill(18)]);
  } finally {
    await job.close();
  }
});

test('a rank that throws in collectiveRpc rejects the call with its rank in the message', async (t) => {
  const job = await launch({ worldSize: 3, module: fixture });
  try {
    await job.results;
    const error = await t.throwsAsync(job.collectiveRpc('failsOnRank2'));
    t.regex(error!.message, /Rank 2: no step for rank 2/);
    t.deepEqual(await job.collectiveRpc('whoami'), [0, 1, 2]);
    await t.throwsAsync(job.collectiveRpc('noSuchExport'), { message: /noSuchExport/ });
  } finally {
    await job.close();
  }
});
