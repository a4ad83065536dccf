/**
 * The "still waiting" reporter, polled by hand over a job control block without rank threads, at chosen
 * times: nothing before the first threshold, a line when it passes, again every interval while the same
 * wait lasts, and a new wait starts the count again. test/runtime/cli-signals.test.ts sees the lines of a
 * real job on the CLI's stderr.
 */
import test from 'ava';
import { Arena } from '../../src/shm/arena.js';
import { JobControl } from '../../src/comm/threads/job-control.js';
import { RankState } from '../../src/debug/rank-status.js';
import { formatWait, STILL_WAITING_ENV, stillWaitingFromEnv, StillWaitingReporter } from '../../src/debug/still-waiting.js';

function job(worldSize: number) {
  const arena = Arena.create({ initialBytes: 1 << 20, maxBytes: 16 << 20 });
  const control = JobControl.create(arena, worldSize);
  const records = Array.from({ length: worldSize }, (_, r) => control.record(r));
  for (const record of records) record.setState(RankState.RUNNING);
  const written: string[] = [];
  const times = { firstMs: 1000, everyMs: 3000 };
  const reporter = new StillWaitingReporter(control, worldSize, times, (text) => written.push(text));
  return { control, records, reporter, written };
}

test('a wait is reported once past the first threshold, then every interval, with whom it waits for', (t) => {
  const { records, reporter, written } = job(3);
  records[0]!.markBlocked('recv', 'recv', 0, 0, 1);
  const since = records[0]!.blockedSinceMs;
  t.true(Math.abs(since - Date.now()) < 60_000, 'the mark carries the wall-clock time it began');
  t.is(reporter.poll(since + 999), undefined);
  const first = reporter.poll(since + 1000) ?? '';
  t.regex(first, /^multirank: still waiting \(MULTIRANK_STILL_WAITING_MS sets when this shows\):\n/);
  t.regex(first, /\n {2}rank 0: blocked for 1 s in recv from rank 1; at .*still-waiting\.test\.(js|ts):\d+/);
  t.regex(first, /\n {2}rank 1: running \(in no multirank wait: computing, or awaiting something else\)\n$/);
  t.notRegex(first, /rank 2/, 'only the ranks waited for are described');
  t.is(reporter.poll(since + 1500), undefined, 'not again before the interval');
  t.regex(reporter.poll(since + 4000) ?? '', /rank 0: blocked for 4 s in recv/);
  t.is(reporter.poll(since + 6999), undefined);
  t.regex(reporter.poll(since + 7000) ?? '', /rank 0: blocked for 7 s/);
  t.is(written.length, 3);
});

test('a new wait starts the count again; a rank that stopped waiting is not reported', (t) => {
  const { records, reporter } = job(2);
  records[1]!.markBlocked('send', 'send', 0, 0, 0);
  const since = records[1]!.blockedSinceMs;
  t.regex(reporter.poll(since + 1200) ?? '', /rank 1: blocked for 1\.2 s in send to rank 0/);
  records[1]!.clearBlocked(); // the send went through
  t.is(reporter.poll(since + 5000), undefined);
  records[1]!.markBlocked('send', 'send', 0, 0, 0); // the next one blocks
  const again = records[1]!.blockedSinceMs;
  t.is(reporter.poll(again + 500), undefined, 'the new wait is timed from its own start');
  t.regex(reporter.poll(again + 1000) ?? '', /rank 1: blocked for 1 s in send/);
});

test('a wait that ends and another that begins between two polls is timed from the new one', (t) => {
  const { records, reporter } = job(2);
  records[1]!.markBlocked('send', 'send', 0, 0, 0);
  const since = records[1]!.blockedSinceMs;
  t.regex(reporter.poll(since + 1200) ?? '', /rank 1: blocked for 1\.2 s in send to rank 0/);
  // The send goes through and the next one blocks before the next poll: still blocked, its progress moved.
  records[1]!.clearBlocked();
  records[1]!.markBlocked('send', 'send', 0, 0, 0);
  const again = records[1]!.blockedSinceMs;
  t.is(reporter.poll(again + 500), undefined, 'the new wait is timed from its own start');
  t.regex(reporter.poll(again + 1000) ?? '', /rank 1: blocked for 1 s in send/, 'not on the old wait\'s schedule');
});

test('nothing is reported once the job failed or was closed (its own report says where ranks were)', (t) => {
  const { control, records, reporter } = job(2);
  records[0]!.markBlocked('recv', 'recv', 0, 0, 1);
  control.close();
  t.is(reporter.poll(records[0]!.blockedSinceMs + 60_000), undefined);
});

test(`${STILL_WAITING_ENV}: first[,every] in ms, 0 turns the lines off, anything else is refused`, (t) => {
  t.deepEqual(stillWaitingFromEnv({}), { firstMs: 10_000, everyMs: 30_000 });
  t.deepEqual(stillWaitingFromEnv({ [STILL_WAITING_ENV]: '200' }), { firstMs: 200, everyMs: 600 });
  t.deepEqual(stillWaitingFromEnv({ [STILL_WAITING_ENV]: '200,500' }), { firstMs: 200, everyMs: 500 });
  t.is(stillWaitingFromEnv({ [STILL_WAITING_ENV]: '0' }), undefined);
  for (const bad of ['-1', '1.5', 'soon', '1,2,3', '10,0']) {
    const error = t.throws(() => stillWaitingFromEnv({ [STILL_WAITING_ENV]: bad })) as Error & { code?: string };
    t.is(error.code, 'ERR_MULTIRANK_OUT_OF_RANGE');
    t.true(error.message.includes(`MULTIRANK_STILL_WAITING_MS to be FIRST or FIRST,EVERY in milliseconds`), bad);
    t.true(error.message.includes(JSON.stringify(bad)), bad);
  }
  t.is(formatWait(1234), '1.2 s');
  t.is(formatWait(45_400), '45 s');
  t.is(formatWait(200_000), '3 min 20 s');
});
