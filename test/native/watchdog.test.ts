/**
 * The device watchdog on the shim: a member stuck in a collective makes every member's call fail within
 * its deadline with an error naming the group and the call; a member whose collective fails aborts its
 * communicator and its peers fail at once (remote error) instead of waiting for the deadline; a member
 * that throws ends its peers' device waits through the job's abort word. A communicator that was aborted
 * refuses every later call.
 */
import './shim-env.js';
import test from 'ava';
import { withRanks } from '../../src/testing/index.js';
import type { FaultReport } from '../fixtures/native-faults.js';
import { quietFailures } from '../helpers/quiet-failures.js';

quietFailures();

const fixture = new URL('../fixtures/native-faults.js', import.meta.url);

for (const backend of ['nccl', 'hccl'] as const) {
  test(`${backend}: a stuck member: every member fails within its deadline, naming the group and the call`, async (t) => {
    const timeoutMs = 1000;
    const reports = (await withRanks(4, fixture, { args: { scenario: 'hang', culprit: 2, timeoutMs, backend } })) as FaultReport[];
    const title = backend.toUpperCase();
    for (const [rank, r] of reports.entries()) {
      t.truthy(r, `rank ${rank} got no error`);
      t.regex(r.message, new RegExp(`${title} all-reduce on the ${backend} communicator of group "tp" \\(ranks \\[0, 1, 2, 3\\]`), `rank ${rank}`);
      t.true(r.ms < timeoutMs + 4000, `rank ${rank} took ${r.ms.toFixed(0)} ms (deadline ${timeoutMs} ms)`);
      t.regex(r.after!, /cannot run: the communicator was aborted after an earlier failure/);
    }
    t.true(reports.some((r) => r.name === 'TimeoutError' && /timed out after 1000 ms/.test(r.message)), 'someone timed out');
    t.true(reports.every((r) => r.name === 'TimeoutError' || r.code === 'ERR_MULTIRANK_DEVICE'), JSON.stringify(reports.map((r) => r.name)));
  });
}

test('a member whose collective fails: its peers fail at once with a remote error, not at their deadline', async (t) => {
  const reports = (await withRanks(3, fixture, { args: { scenario: 'fail', culprit: 1, timeoutMs: 60_000 } })) as FaultReport[];
  t.regex(reports[1]!.message, /NCCL all-reduce on the nccl communicator of group "tp".*failed: internal error.*injected failure.*aborted/s);
  for (const rank of [0, 2]) {
    t.regex(reports[rank]!.message, /failed: remote process exited or there was a network error/);
    t.is(reports[rank]!.code, 'ERR_MULTIRANK_DEVICE');
  }
  for (const r of reports) t.true(r.ms < 10_000, `${r.ms.toFixed(0)} ms, far below the 60 s deadline`);
});

test('a member that throws releases its peers\' device waits through the job\'s abort word', async (t) => {
  const error = await t.throwsAsync(withRanks(3, fixture, { args: { scenario: 'throw', culprit: 0, timeoutMs: 60_000 } }));
  const thrownAt = Number(/rank 0 gives up at (\d+)/.exec(error!.message)![1]);
  const ms = Date.now() - thrownAt;
  t.true(ms < 15_000, `the job ended ${ms} ms after rank 0 threw: its peers did not wait for their 60 s deadline`);
});
