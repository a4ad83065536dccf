/**
 * Every blocking wait marks its rank BLOCKED in the rank record, so the watchdog reports a deadlock that
 * runs through a MessageQueue (broadcastObject, the RPC queue) within a second, naming the call and the
 * ranks waited for; two groups with the same members are told apart by name. The jobs run with a long
 * timeout, so only the watchdog can end them in time. With call checks on, a barrier against a
 * broadcastObject is a mismatch at once (the queue calls agree on their call first: object-checks.test.ts);
 * these jobs turn the checks off to reach the queue waits themselves.
 */
import test from 'ava';
import { launch } from '../../src/launch/launch.js';
import { withRanks } from '../../src/testing/index.js';
import { ErrorCodes } from '../../src/errors.js';
import { quietFailures } from '../helpers/quiet-failures.js';

quietFailures();

const fixture = new URL('../fixtures/queue-deadlock.js', import.meta.url);
const LONG_MS = 120_000;
/** Far below LONG_MS: only the watchdog can end the job this early (alone, these take about a second). */
const FAST_MS = 30_000;

type Thrower = { throwsAsync(p: Promise<unknown>): Promise<Error | undefined> };

async function deadlock(t: Thrower, n: number, exportName: string): Promise<{ error: Error & { code?: string }; ms: number }> {
  const started = performance.now();
  const job = withRanks(n, { module: fixture, exportName }, { timeoutMs: LONG_MS, checkCalls: false });
  const error = (await t.throwsAsync(job)) as Error & { code?: string };
  return { error, ms: performance.now() - started };
}

for (const n of [2, 3]) {
  test.serial(`barrier against a broadcastObject reader is a deadlock report (${n} ranks)`, async (t) => {
    const { error, ms } = await deadlock(t, n, 'barrierAgainstRead');
    t.is(error.code, ErrorCodes.DEADLOCK, error.message);
    t.true(ms < FAST_MS, `reported after ${ms} ms`);
    t.regex(error.message, /rank 0: blocked in barrier \(call #\d+\) of group world \[/);
    for (let r = 1; r < n; r++) {
      t.regex(error.message, new RegExp(`rank ${r}: blocked in broadcastObject from root 0 of group world ` +
        `\\[[^\\]]*\\]: reading message #1, waiting for rank 0 to write it; at .*queue-deadlock\\.(js|ts):\\d+`));
    }
  });

  test.serial(`barrier against a broadcastObject writer with a full ring is a deadlock report (${n} ranks)`, async (t) => {
    const { error, ms } = await deadlock(t, n, 'barrierAgainstWrite');
    t.is(error.code, ErrorCodes.DEADLOCK, error.message);
    t.true(ms < FAST_MS, `reported after ${ms} ms`);
    const readers = Array.from({ length: n - 1 }, (_, i) => i + 1).join(', ');
    t.regex(error.message, new RegExp(`rank 0: blocked in broadcastObject from root 0 of group objects \\[[^\\]]*\\]: ` +
      `writing message #\\d+, waiting for ranks? ${readers} to read message #\\d+; at .*queue-deadlock\\.(js|ts):\\d+`));
    t.regex(error.message, /rank 1: blocked in barrier \(call #\d+\) of group objects \[/);
  });
}

test.serial('a deadlock between two groups with the same members names each group', async (t) => {
  const { error } = await deadlock(t, 2, 'twoGroupsSameMembers');
  t.is(error.code, ErrorCodes.DEADLOCK);
  t.regex(error.message, /rank 0: blocked in allReduce \(call #1\) of group tp \[0, 1\], waiting for rank 1/);
  t.regex(error.message, /rank 1: blocked in allReduce \(call #1\) of group dp \[0, 1\], waiting for rank 0/);
});

test.serial('collectiveRpc: a barrier against a broadcastObject in the called method is a deadlock report', async (t) => {
  const job = await launch({ worldSize: 3, module: fixture, timeoutMs: LONG_MS, checkCalls: false });
  try {
    t.deepEqual(await job.results, ['ready', 'ready', 'ready']);
    const started = performance.now();
    const error = await t.throwsAsync(job.collectiveRpc('mixed'));
    t.true(performance.now() - started < FAST_MS, `reported after ${performance.now() - started} ms`);
    t.regex(error!.message, /Deadlock/);
    t.regex(error!.message, /rank 2: blocked in broadcastObject from root 0 of group world/);
  } finally {
    await job.close();
  }
});

test.serial('close() right after a failed collectiveRpc waits for the calls it released: the next job starts', async (t) => {
  const job = await launch({ worldSize: 3, module: fixture, timeoutMs: LONG_MS, checkCalls: false });
  await job.results;
  // The call rejects with the first rank released by the deadlock; the others may not have left their
  // waits yet, and their memory must not be freed (and reused by the next job) under them.
  await t.throwsAsync(job.collectiveRpc('mixed'), { message: /Deadlock/ });
  await job.close();
  const started = performance.now();
  t.deepEqual(await withRanks(3, fixture, { timeoutMs: LONG_MS }), ['ready', 'ready', 'ready']);
  t.true(performance.now() - started < FAST_MS, `the next job took ${performance.now() - started} ms`);
});

test.serial('collectiveRpc: a call streaming through the RPC queue while one rank is stuck is a deadlock report', async (t) => {
  const job = await launch({ worldSize: 3, module: fixture, timeoutMs: LONG_MS });
  try {
    await job.results;
    const started = performance.now();
    const stuck = job.rank(0).call('barrierAlone');
    stuck.catch(() => undefined);
    // 4 MiB: more than the RPC ring, so the driver waits for rank 0, which is in a barrier waiting for 1 and 2.
    const error = await t.throwsAsync(job.collectiveRpc('digest', new Float64Array(512 * 1024)));
    t.true(performance.now() - started < FAST_MS, `reported after ${performance.now() - started} ms`);
    t.regex(error!.message, /Deadlock/);
    t.regex(error!.message, /rank 1: blocked in collectiveRpc/);
    await t.throwsAsync(stuck, { message: /Deadlock/ });
  } finally {
    await job.close();
  }
});

test.serial('collectiveRpc: a large call while one rank is slow to pick it up is no deadlock', async (t) => {
  const job = await launch({ worldSize: 3, module: fixture, exportName: 'mainThenBusy', timeoutMs: LONG_MS });
  try {
    await job.results;
    // Ranks 1 and 2 read and wait for the driver; the driver waits for rank 0, which has returned from its
    // entry and is busy: the call on its way makes it live, so this is no deadlock.
    t.deepEqual(await job.collectiveRpc('digest', new Float64Array(512 * 1024)), [524_288, 524_288, 524_288]);
  } finally {
    await job.close();
  }
});
