/**
 * The deadlock watchdog's poll, driven by hand over a job control block without rank threads (no wall
 * time involved): ranks that stay blocked are reported after QUIET_POLLS quiet polls; a rank whose waits
 * end and block again between polls (its progress counter moves) is slow, not stuck, even though every
 * poll finds it blocked; a running rank holds the report back, a returned one does not.
 * failures.test.ts times the watchdog on real deadlocks.
 */
import test from 'ava';
import { Arena } from '../../src/shm/arena.js';
import { DEADLOCK, JobControl } from '../../src/comm/threads/job-control.js';
import { RankState } from '../../src/debug/rank-status.js';
import { QUIET_POLLS, Watchdog } from '../../src/debug/watchdog.js';

/** A job of `worldSize` ranks, each blocked in a recv from the next (a cycle), and its unstarted watchdog. */
function blockedJob(worldSize: number) {
  const arena = Arena.create({ initialBytes: 1 << 20, maxBytes: 16 << 20 });
  const control = JobControl.create(arena, worldSize);
  const records = Array.from({ length: worldSize }, (_, r) => control.record(r));
  /** What a wait does once it has waited STALL_MS. */
  const block = (r: number): void => records[r]!.markBlocked('recv', 'recv', 0, 0, (r + 1) % worldSize);
  for (let r = 0; r < worldSize; r++) block(r);
  return { control, records, block, watchdog: new Watchdog(control, worldSize) };
}

/** Polls QUIET_POLLS times expecting nothing (the first poll only takes the baseline), then once more. */
function pollUntilReport(t: import('ava').ExecutionContext, watchdog: Watchdog): string | undefined {
  for (let i = 0; i < QUIET_POLLS; i++) t.is(watchdog.poll(), undefined, `quiet poll ${i + 1}`);
  return watchdog.poll();
}

test('ranks that stay blocked are reported after QUIET_POLLS quiet polls, with their pending calls', (t) => {
  const { control, watchdog } = blockedJob(2);
  const report = pollUntilReport(t, watchdog);
  t.regex(report ?? '', /^Deadlock: every live rank of the job is blocked/);
  t.regex(report ?? '', /rank 0: blocked in recv from rank 1; at .*watchdog\.test\.(js|ts):\d+/);
  t.regex(report ?? '', /rank 1: blocked in recv from rank 0; at /);
  t.is(control.abortValue, DEADLOCK);
  t.is(control.failureMessage, report ?? '');
});

test('a rank that makes progress between polls is not deadlocked, though each poll finds it blocked', (t) => {
  const { control, records, block, watchdog } = blockedJob(2);
  for (let i = 0; i < 4 * QUIET_POLLS; i++) {
    t.is(watchdog.poll(), undefined, `poll ${i + 1}`);
    // Rank 1's wait ends and its next one blocks before the next poll: same state, one more step taken.
    records[1]!.clearBlocked();
    block(1);
  }
  t.is(control.abortValue, 0);
  // Once rank 1 stops moving, the report follows as for ranks that never moved.
  t.regex(pollUntilReport(t, watchdog) ?? '', /rank 1: blocked in recv from rank 0/);
});

test('a running rank holds the report back; a rank that returned is not waited for', (t) => {
  const { control, records, watchdog } = blockedJob(3);
  records[2]!.clearBlocked(); // computing, outside any wait
  for (let i = 0; i < 4 * QUIET_POLLS; i++) t.is(watchdog.poll(), undefined, `poll ${i + 1}`);
  records[2]!.setState(RankState.RETURNED);
  const report = pollUntilReport(t, watchdog);
  t.regex(report ?? '', /rank 2: returned from its entry function/);
  t.regex(report ?? '', /rank 1: blocked in recv from rank 2/);
  t.is(control.abortValue, DEADLOCK);
});

test('a failed rank whose failure is not yet recorded (a starved thread) is no deadlock of its peers', (t) => {
  // Under load, a rank thread can stop for longer than the quiet polls between failing and recording its
  // failure (the abort that releases its peers): a watchdog that took that for a deadlock reported one
  // instead of the rank's own error (CI: a job whose rank 1 threw failed with ERR_MULTIRANK_DEADLOCK).
  const { control, records, watchdog } = blockedJob(2);
  records[1]!.clearBlocked();
  records[1]!.setState(RankState.FAILED);
  for (let i = 0; i < 4 * QUIET_POLLS; i++) t.is(watchdog.poll(), undefined, `poll ${i + 1}`);
  t.is(control.abortValue, 0);
});
