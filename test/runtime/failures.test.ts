import test from 'ava';
import { withRanks } from '../../src/testing/index.js';
import { ErrorCodes } from '../../src/errors.js';
import { POLL_MS, QUIET_POLLS } from '../../src/debug/watchdog.js';
import { STALL_MS } from '../../src/debug/rank-status.js';

const fixture = new URL('../fixtures/failures.js', import.meta.url);

async function failure(t: { throwsAsync: (p: Promise<unknown>) => Promise<Error | undefined> }, n: number, exportName: string, timeoutMs = 60_000): Promise<{ error: Error & { code?: string }; ms: number }> {
  const started = performance.now();
  const error = (await t.throwsAsync(withRanks(n, { module: fixture, exportName }, { timeoutMs }))) as Error & { code?: string };
  return { error, ms: performance.now() - started };
}

test('a recv cycle is reported as a deadlock within a second, naming both ranks and call sites', async (t) => {
  const { error, ms } = await failure(t, 2, 'recvCycle');
  t.is(error.code, ErrorCodes.DEADLOCK);
  t.regex(error.message, /rank 0: blocked in recv from rank 1; at .*failures\.(js|ts):\d+/);
  t.regex(error.message, /rank 1: blocked in recv from rank 0; at .*failures\.(js|ts):\d+/);
  t.true(ms < 8000, `reported after ${ms} ms (job start included; the watchdog itself needs < 1 s, see below)`);
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
  const { error } = await failure(t, 3, 'neverArrives', 1500);
  t.is(error.code, ErrorCodes.RANK_FAILED);
  t.regex(error.message, /timed out in allReduce \(call #2 of group world \[0, 1, 2\]\) waiting for rank 1 \(at call #1\) to arrive/);
});

for (const kind of ['perCallTimeout', 'perGroupTimeout']) {
  test(`${kind}: the shorter deadline applies and names the missing rank`, async (t) => {
    const { error, ms } = await failure(t, 2, kind, 60_000);
    t.regex(error.message, /timed out in (allReduce|barrier) \(call #\d of group (world )?\[0, 1\]\) waiting for rank 1 \(at call #\d\) to arrive at it \(waited \d+ ms, timeout 300 ms/);
    // 300 ms, then FAILURE_GRACE_MS for the stuck rank before its thread is terminated: far below its 30 s.
    t.true(ms < 10_000, `failed after ${ms} ms`);
  });
}

test('the watchdog reports within a second of the last rank blocking', (t) => {
  t.true(STALL_MS + (QUIET_POLLS + 1) * POLL_MS < 1000);
});
