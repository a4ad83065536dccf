import test from 'ava';
import { withRanks, type WithRanksOptions } from '../../src/testing/index.js';
import { ErrorCodes } from '../../src/errors.js';
import { quietFailures } from '../helpers/quiet-failures.js';

quietFailures();

const fixture = new URL('../fixtures/failures.js', import.meta.url);

type Throws = { throwsAsync: (p: Promise<unknown>) => Promise<Error | undefined> };

/** Runs a fixture export that must fail (default job timeout 60 s); returns its error and the time taken. */
async function failure(t: Throws, n: number, exportName: string, options: WithRanksOptions = {}):
  Promise<{ error: Error & { code?: string }; ms: number }> {
  const started = performance.now();
  const job = withRanks(n, { module: fixture, exportName }, { timeoutMs: 60_000, ...options });
  const error = (await t.throwsAsync(job)) as Error & { code?: string };
  return { error, ms: performance.now() - started };
}

test('a recv cycle fails as a deadlock < 5 s after the last rank blocked, naming each call', async (t) => {
  // Each rank notes when it entered its recv; the job's 60 s deadline leaves the watchdog alone to end it.
  const entered = new Float64Array(new SharedArrayBuffer(2 * 8));
  const { error } = await failure(t, 2, 'recvCycle', { args: { entered } });
  const ms = Date.now() - Math.max(...entered);
  t.true(entered.every((stamp) => stamp > 0), 'both ranks entered their recv');
  t.is(error.code, ErrorCodes.DEADLOCK);
  t.regex(error.message, /rank 0: blocked in recv from rank 1; at .*failures\.(js|ts):\d+/);
  t.regex(error.message, /rank 1: blocked in recv from rank 0; at .*failures\.(js|ts):\d+/);
  // The watchdog needs STALL_MS + (QUIET_POLLS + 1) * POLL_MS, about 0.5 s; the bound leaves room for load.
  t.true(ms < 5000, `reported ${ms} ms after the last rank entered its recv`);
});

test('a barrier against an allReduce is a mismatch on both ranks', async (t) => {
  const { error } = await failure(t, 2, 'barrierAgainstCollective');
  t.is(error.code, ErrorCodes.RANK_FAILED);
  t.regex(error.message, /rank 0 \(group rank 0\): barrier\(\) at .*failures\.(js|ts):\d+/);
  t.regex(error.message, /rank 1 \(group rank 1\): allReduce\(dtype=float32, shape=\[1\], op=sum\) at .*failures\.(js|ts):\d+/);
});

test('a rank that returns early while the others wait is reported as a deadlock', async (t) => {
  const { error, ms } = await failure(t, 4, 'returnsEarly');
  t.is(error.code, ErrorCodes.DEADLOCK);
  t.regex(error.message, /rank 2: returned from its entry function/);
  t.regex(error.message, /rank 0: blocked in allReduce \(call #2\) of group world \[0, 1, 2, 3\], waiting for rank 2 to arrive/);
  t.true(ms < 8000, `reported after ${ms} ms (job start included; the watchdog itself needs < 1 s, see below)`);
});

test('a timeout names the rank that did not arrive and the call', async (t) => {
  const { error } = await failure(t, 3, 'neverArrives', { timeoutMs: 1500 });
  t.is(error.code, ErrorCodes.RANK_FAILED);
  t.regex(error.message, /timed out in allReduce \(call #2 of group world \[0, 1, 2\]\) waiting for rank 1 \(at call #1\) to arrive/);
});

for (const kind of ['perCallTimeout', 'perGroupTimeout']) {
  test(`${kind}: the shorter deadline applies and names the missing rank`, async (t) => {
    const { error, ms } = await failure(t, 2, kind);
    t.regex(error.message, /timed out in (allReduce|barrier) \(call #\d of group (world )?\[0, 1\]\) waiting for rank 1 \(at call #\d\) to arrive at it \(waited \d+ ms, timeout 300 ms/);
    // 300 ms, then FAILURE_GRACE_MS for the stuck rank before its thread is terminated: far below its 30 s.
    t.true(ms < 10_000, `failed after ${ms} ms`);
  });
}

test('a per-call timeoutMs lasts one call: the next call waits the job\'s deadline again', async (t) => {
  // Rank 0's second allReduce, without the option, waits 2 s for rank 1: past the first call's 500 ms.
  const target = { module: fixture, exportName: 'perCallTimeoutRestored' };
  t.deepEqual(await withRanks(2, target, { timeoutMs: 60_000 }), [[2], [2]]);
});
