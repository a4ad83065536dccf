/**
 * A rank thread terminated inside an allocation (by close()'s grace period, a peer's failure or
 * shutdown()) leaves the arena's lock held. The driver sees the thread exit, recovers the lock and
 * repairs the heap: the next job starts at once instead of blocking 10 s and failing.
 */
import test from 'ava';
import { withRanks } from '../../src/testing/index.js';

const killed = new URL('../fixtures/arena-killed.js', import.meta.url);
const basics = new URL('../fixtures/world-basics.js', import.meta.url);

/** Runs a normal job; returns how long it took (it must not wait for the arena lock). */
async function normalJob(t: { deepEqual(a: unknown, b: unknown): void }): Promise<number> {
  const started = performance.now();
  const results = (await withRanks(2, basics)) as { sum: number[] }[];
  t.deepEqual(results.map((r) => r.sum), [[1, 2], [1, 2]]);
  return performance.now() - started;
}

test.serial('a rank terminated while it holds the arena lock: the job fails with its peer, the next job runs at once', async (t) => {
  await normalJob(t); // warm up: pools and kernels exist
  const error = await t.throwsAsync(withRanks(2, { module: killed, exportName: 'holdsLockWhenKilled' }, { timeoutMs: 60_000 }));
  t.regex(error!.message, /Rank 1 failed: Error: peer gives up/);
  const ms = await normalJob(t);
  t.true(ms < 5_000, `the next job took ${ms} ms`);
});

test.serial('the issue\'s loop: a rank terminated while it allocates shared tensors never poisons the arena', async (t) => {
  for (let round = 0; round < 3; round++) {
    const error = await t.throwsAsync(withRanks(2, { module: killed, exportName: 'allocLoopWhenKilled' }, { timeoutMs: 60_000 }));
    t.regex(error!.message, /Rank 1 failed: Error: peer gives up/, `round ${round}`);
    const ms = await normalJob(t);
    t.true(ms < 5_000, `round ${round}: the next job took ${ms} ms`);
  }
});
