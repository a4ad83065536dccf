/**
 * A rank thread terminated inside an allocation (by close()'s grace period, a peer's failure or
 * shutdown()) leaves the arena's lock held. The driver sees the thread exit, recovers the lock and
 * repairs the heap: the next job starts at once instead of blocking 10 s and failing. (No timings here:
 * on a loaded machine a normal job can take as long as the lock's deadline. The tests check that the
 * lock was taken over from the dead thread and is free, and that the next job allocates and succeeds.)
 */
import test from 'ava';
import { withRanks } from '../../src/testing/index.js';
import { processRuntime } from '../../src/launch/runtime.js';
import { quietFailures } from '../helpers/quiet-failures.js';

quietFailures();

const killed = new URL('../fixtures/arena-killed.js', import.meta.url);
const basics = new URL('../fixtures/world-basics.js', import.meta.url);

/** Runs a normal job (its ranks allocate in the arena), which must succeed. */
async function normalJob(t: { deepEqual(a: unknown, b: unknown): void }): Promise<void> {
  const results = (await withRanks(2, basics)) as { sum: number[] }[];
  t.deepEqual(results.map((r) => r.sum), [[1, 2], [1, 2]]);
}

test.serial('a rank terminated while it holds the arena lock: the job fails with its peer, the next job runs at once', async (t) => {
  await normalJob(t); // warm up: pools and kernels exist
  const { arena } = processRuntime();
  const recoveries = arena.lockRecoveries;
  const error = await t.throwsAsync(withRanks(2, { module: killed, exportName: 'holdsLockWhenKilled' }, { timeoutMs: 60_000 }));
  t.regex(error!.message, /Rank 1 failed: Error: peer gives up/);
  t.is(arena.lockRecoveries, recoveries + 1, 'the lock was taken over from the terminated thread');
  t.is(arena.lockHolder, undefined, 'and released');
  await normalJob(t);
});

test.serial('the issue\'s loop: a rank terminated while it allocates shared tensors never poisons the arena', async (t) => {
  for (let round = 0; round < 3; round++) {
    const error = await t.throwsAsync(withRanks(2, { module: killed, exportName: 'allocLoopWhenKilled' }, { timeoutMs: 60_000 }));
    t.regex(error!.message, /Rank 1 failed: Error: peer gives up/, `round ${round}`);
    t.is(processRuntime().arena.lockHolder, undefined, `round ${round}: the lock is free`);
    await normalJob(t);
  }
});
