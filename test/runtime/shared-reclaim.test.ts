/**
 * A job's shared tensors belong to the job (issue 13 item 9): what its ranks did not release returns to
 * the arena when the job ends, so a warm process runs any number of jobs; a shared tensor kept past its
 * job throws on use instead of reading memory that another tensor holds by then.
 */
import test from 'ava';
import { withRanks } from '../../src/testing/index.js';
import { processRuntime } from '../../src/launch/runtime.js';
import { ErrorCodes } from '../../src/errors.js';

const fixture = new URL('../fixtures/shared-reclaim.js', import.meta.url);
const ARENA_BYTES = 64 * 1024 * 1024;

test.serial('200 jobs of 4 ranks, each with 8 MiB shared and no release(), fit a 64 MiB arena', async (t) => {
  const first = await withRanks(4, { module: fixture, exportName: 'eightMiB' }, { arenaMaxBytes: ARENA_BYTES });
  t.deepEqual(first, [6, 6, 6, 6]);
  const arena = processRuntime().arena;
  t.is(arena.maxBytes, ARENA_BYTES, 'this process\'s arena was made by the first job, with the 64 MiB limit');
  const before = [arena.liveRegions, arena.usedBytes];
  for (let job = 2; job <= 200; job++) {
    // Mostly on warm threads (a fresh thread costs tens of ms to boot; what a job leaves in the arena does
    // not depend on which threads ran it), every 25th on fresh ones.
    const results = await withRanks(4, { module: fixture, exportName: 'eightMiB' }, { keepModuleState: job % 25 !== 0 });
    if (results.some((r) => r !== 6)) t.fail(`job ${job}: ${JSON.stringify(results)}`);
  }
  t.deepEqual([arena.liveRegions, arena.usedBytes], before, 'nothing is left in the arena');
});

test.serial('a shared tensor kept past its job throws on use, and its release() frees nothing of the next job', async (t) => {
  t.deepEqual(await withRanks(2, { module: fixture, exportName: 'keep' }, { keepModuleState: true }), [1, 2]);
  const arena = processRuntime().arena;
  const before = [arena.liveRegions, arena.usedBytes];
  const later = (await withRanks(2, { module: fixture, exportName: 'useKept' }, { keepModuleState: true })) as string[];
  for (const outcome of later) {
    t.false(outcome.startsWith('read'), outcome);
    if (outcome !== 'nothing kept') t.regex(outcome, new RegExp(`^threw ${ErrorCodes.INVALID_ARG_VALUE}: .*job .*ended`));
  }
  t.true(later.some((o) => o !== 'nothing kept'), 'the warm threads kept their tensors (the same pool ran both jobs)');
  t.deepEqual([arena.liveRegions, arena.usedBytes], before);
});
