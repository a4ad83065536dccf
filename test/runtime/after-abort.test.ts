/**
 * After a failure, no stale result (issue 13 item 6): a rank that caught a deadlock or a timeout and
 * calls again on the same group gets the original failure, not its input plus a peer's abandoned one;
 * `job.results` of a job the watchdog ended rejects; the same through RPC after a failed collectiveRpc.
 */
import test from 'ava';
import { launch } from '../../src/launch/launch.js';
import { withRanks } from '../../src/testing/index.js';
import { ErrorCodes } from '../../src/errors.js';
import { quietFailures } from '../helpers/quiet-failures.js';

quietFailures(); // failing on purpose: dumps in a removed folder, no failure summaries

const fixture = new URL('../fixtures/after-abort.js', import.meta.url);

interface Caught { code?: string; message: string }

test('a caught deadlock: the next allReduce throws it again, and job.results rejects with it', async (t) => {
  const job = await launch({ worldSize: 2, module: fixture, exportName: 'caughtDeadlock', timeoutMs: 60_000 });
  try {
    const error = (await t.throwsAsync(job.results)) as Error & { code?: string };
    t.is(error?.code, ErrorCodes.DEADLOCK, 'the job the watchdog ended fails, even though its ranks caught the error');
    const seen = (await job.rank(0).call('seenByEntry')) as { first: Caught; second: Caught | number[] };
    t.is(seen.first.code, ErrorCodes.DEADLOCK);
    t.false(Array.isArray(seen.second), `rank 0's allReduce after the deadlock returned ${JSON.stringify(seen.second)}`);
    t.is((seen.second as Caught).code, ErrorCodes.DEADLOCK);
    t.is((seen.second as Caught).message, seen.first.message, 'the original failure, thrown again');
  } finally {
    await job.close();
  }
});

test('a caught timeout fails the group: later calls throw the original failure on every member', async (t) => {
  const [r0, r1] = (await withRanks(2, { module: fixture, exportName: 'caughtTimeout' }, { timeoutMs: 60_000 })) as
    { first: Caught | number[]; second?: Caught | number[] }[];
  const first0 = r0!.first as Caught, second0 = r0!.second as Caught;
  t.is(first0.code, ErrorCodes.TIMEOUT);
  t.is(second0.code, ErrorCodes.TIMEOUT, `rank 0's second call: ${JSON.stringify(second0)}`);
  t.is(second0.message, first0.message, 'the original failure, thrown again');
  const late = r1!.first as Caught;
  t.false(Array.isArray(late), `rank 1 got a result from a failed group: ${JSON.stringify(late)}`);
  t.regex(late.message, /Group world \[0, 1\] failed: rank 0 timed out in allReduce \(call #2\)/);
});

test('after a collectiveRpc ended in a deadlock, rank(0).call throws it instead of a stale sum', async (t) => {
  const job = await launch({ worldSize: 2, module: fixture, timeoutMs: 60_000 });
  try {
    await job.results;
    await t.throwsAsync(job.collectiveRpc('stepOrRecv', 1), { message: /Deadlock/ });
    // Rank 0's allReduce of 1 was abandoned, its arrival still counted: 5 must not come back as 6.
    const later = await job.rank(0).call('step', 5).then((value) => JSON.stringify(value), (e: Error) => e.message);
    t.regex(later, /Deadlock/);
  } finally {
    await job.close();
  }
});
