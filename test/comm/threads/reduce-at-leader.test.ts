/**
 * ThreadsCommunicator.reduceAtLeader, the shared-memory half of the mpi backend's small hierarchical
 * reductions: member 0 folds every member's input, a step turns the fold into the result, and the other
 * members wait for that result only (one arrival each). Checked against the plain-JS reference on every
 * dtype and op, at 2, 3 and 8 ranks; and its two failures: a member 0 that never comes, and a step that
 * times out.
 */
import test from 'ava';
import { withRanks } from '../../../src/testing/index.js';
import { quietFailures } from '../../helpers/quiet-failures.js';
import type { ValuesReport } from '../../fixtures/reduce-at-leader.js';

quietFailures();

const fixture = new URL('../../fixtures/reduce-at-leader.js', import.meta.url);

/** What every member of group g says once rank `rank` timed out in call #1 and failed the group. */
const latched = (rank: number): string => `TimeoutError: Group g [0, 1, 2] failed: rank ${rank} timed out in ` +
  'reduce (call #1) and left it, so the members are out of step: every later call on the group fails';

for (const [ranks, checks] of [[2, 'checked'], [3, 'checked'], [8, 'checked'], [3, 'unchecked']] as const) {
  test(`${ranks} ranks (${checks} calls): every dtype x op, in place and not, in runs and between other ` +
    'collectives, matches the reference', async (t) => {
    const reports = await withRanks<ValuesReport>(ranks, { module: fixture, exportName: 'values' }, { args: checks });
    const leader = reports[0]!.digests;
    t.deepEqual(reports[0]!.problems, [], 'member 0 against the reference');
    t.true(leader.length > 800, `${leader.length} calls`);
    // every member holds member 0's bits, call by call (the first that differs is named)
    for (let rank = 1; rank < ranks; rank++) {
      const mine = reports[rank]!.digests, differs = mine.findIndex((d, i) => d !== leader[i]);
      t.is(differs, -1, `rank ${rank}: ${mine[differs]}, where rank 0 has ${leader[differs]}`);
      t.is(mine.length, leader.length, `rank ${rank}: calls`);
    }
  });
}

test('a member that comes late: a member whose deadline ends first names member 0 and the one it waits for',
  async (t) => {
  const got = await withRanks<string>(3, { module: fixture, exportName: 'memberLate' });
  t.regex(got[1]!, new RegExp('^TimeoutError: Rank 1 timed out in reduce \\(call #1 of group g \\[0, 1, 2\\]\\) ' +
    'waiting for rank 0 to give its result, which waits for rank 2 \\(at call #0\\) to arrive ' +
    '\\(waited \\d+ ms, timeout 1000 ms; '));
  for (const rank of [0, 2]) t.is(got[rank], latched(1), `rank ${rank}`);
});

test('a late member and a slow step within member 0\'s deadlines: the members that waited for the result get it',
  async (t) => {
  const got = await withRanks<string>(3, { module: fixture, exportName: 'lateButInTime' });
  t.deepEqual(got, ['sum 6', 'sum 6', 'sum 6']);
});

test('a member 0 that never calls: the others time out naming it as the member whose result they wait for',
  async (t) => {
  const got = await withRanks<string>(3, { module: fixture, exportName: 'leaderAbsent' });
  t.is(got[0], 'absent');
  // The first to time out says why; the group's failure then ends the other's wait, naming that one.
  const own = (rank: number): RegExp => new RegExp(`^TimeoutError: Rank ${rank} timed out in reduce \\(call #1 ` +
    'of group g \\[0, 1, 2\\]\\) waiting for rank 0 to arrive and give its result \\(waited \\d+ ms, ' +
    'timeout 2000 ms; ');
  const first = own(1).test(got[1]!) ? 1 : 2;
  t.regex(got[first]!, own(first));
  t.true(own(3 - first).test(got[3 - first]!) || got[3 - first] === latched(first), String(got[3 - first]));
});

test('a member 0 that returned: the deadlock report names it as the member whose result the others wait for',
  async (t) => {
  const error = await t.throwsAsync(withRanks(3, { module: fixture, exportName: 'leaderAbsent' }, { args: 'returns' }));
  t.regex(error!.message, /rank 0: returned from its entry function/);
  for (const rank of [1, 2]) {
    t.regex(error!.message, new RegExp(`rank ${rank}: blocked in reduce \\(call #1\\) of group g \\[0, 1, 2\\], ` +
      'waiting for rank 0 to arrive and give its result'));
  }
});

test('a member that gives up while member 0\'s step runs: member 0 fails the call too, as the others do',
  async (t) => {
  const got = await withRanks<string>(3, { module: fixture, exportName: 'memberGivesUp' });
  t.regex(got[1]!, new RegExp('^TimeoutError: Rank 1 timed out in reduce \\(call #1 of group g \\[0, 1, 2\\]\\) ' +
    'waiting for rank 0 to give its result \\(waited \\d+ ms, timeout 600 ms; '));
  t.is(got[0], latched(1), 'member 0 returned from a call its group failed');
  t.is(got[2], latched(1));
});

test('a step that times out on member 0: the others fail at once with the group\'s failure naming it', async (t) => {
  const got = await withRanks<string>(3, { module: fixture, exportName: 'stepTimesOut' });
  t.is(got[0], 'TimeoutError: the step between processes timed out');
  for (const rank of [1, 2]) t.is(got[rank], latched(0), `rank ${rank}`);
});
