/**
 * Failures that used to take the host down or to be told wrongly: a promise a rank left rejected (the
 * driver's process died with piscina's 'error' event and `withRanks` never settled), process.exit() in a
 * rank, every rank failing the same way, a module without the export asked for.
 */
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withRanks } from '../../src/testing/index.js';
import { launch } from '../../src/launch/launch.js';
import { shutdown } from '../../src/launch/runtime.js';
import { ErrorCodes } from '../../src/errors.js';
import { rankList } from '../../src/launch/job-failure.js';
import { quietFailures } from '../helpers/quiet-failures.js';

quietFailures();

const fixture = new URL('../fixtures/host-failures.js', import.meta.url);

async function failure(t: { throwsAsync: (p: Promise<unknown>) => Promise<unknown> }, n: number, exportName: string) {
  return (await t.throwsAsync(withRanks(n, { module: fixture, exportName }, { timeoutMs: 60_000 }))) as Error & {
    code?: string; rank?: number;
  };
}

test('a rejection a rank left unhandled fails the job naming the rank, and the host lives on', async (t) => {
  const error = await failure(t, 3, 'dropsRejection');
  t.is(error.code, ErrorCodes.RANK_FAILED);
  t.is(error.rank, 1);
  t.regex(error.message, /^Rank 1 failed: Error: dropped on rank 1 \(an unhandled promise rejection\)/);
  t.regex(error.message, /host-failures\.(js|ts):\d+/, 'the stack of the rejection');
  // The same process runs the next job as if nothing happened.
  t.deepEqual(await withRanks(2, { module: fixture, exportName: 'allThrow' }).catch(() => 'failed'), 'failed');
});

test('a dropped rejection ends the job at once while a peer waits for the rank, not at the deadline', async (t) => {
  const error = await failure(t, 2, 'dropsRejectionThenHangs');
  t.is(error.rank, 1);
  t.regex(error.message, /^Rank 1 failed: Error: dropped on rank 1, which then hangs \(an unhandled promise rejection\)/);
  t.regex(error.message, /rank 0 was stopped because of it/);
});

test('a rejection a rank drops after its entry returned fails the job, though every entry returned', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'multirank-late-failure-'));
  try {
    const target = { module: fixture, exportName: 'dropsRejectionAfterReturn' };
    const job = withRanks(2, target, { args: join(dir, 'reported'), timeoutMs: 60_000 });
    const error = (await t.throwsAsync(job)) as Error & { code?: string; rank?: number };
    t.is(error.code, ErrorCodes.RANK_FAILED);
    t.is(error.rank, 1);
    t.regex(error.message, /^Rank 1 failed after its entry returned: Error: dropped on rank 1 after it returned/);
    t.regex(error.message, /\(an unhandled promise rejection\)\nRank 1's stack:\n/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.serial('an exception thrown from a callback after the rank returned leaves the host alive and names the rank', async (t) => {
  const write = process.stderr.write.bind(process.stderr);
  let said = '';
  let heard: () => void = () => undefined;
  const line = new Promise<void>((resolve) => (heard = resolve));
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    said += String(chunk);
    if (said.includes('failed after the rank returned')) heard();
    return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stderr.write;
  try {
    const job = await launch({ worldSize: 2, module: fixture, exportName: 'returnsRank' });
    t.deepEqual(await job.results, [0, 1]);
    await job.rank(1).call('throwFromTimer');
    // Piscina's 'error' event, which used to end this process. The threads and ports are unref'd: a
    // ref'd deadline keeps this process waiting for it.
    let deadline: NodeJS.Timeout | undefined;
    const late = new Promise((_, reject) => (deadline = setTimeout(() => reject(new Error('no line in 60 s')), 60_000)));
    await Promise.race([line, late]);
    clearTimeout(deadline);
    await job.close();
  } finally {
    process.stderr.write = write;
  }
  t.regex(said, /multirank: rank 1's thread failed after the rank returned: Error: thrown from a timer on rank 1/);
});

test.serial('a thread of an idle warm pool that fails later is a process warning naming the error, ' +
  'not a crash', async (t) => {
  const write = process.stderr.write;
  // The warning is read below, not printed.
  process.stderr.write = (() => true) as typeof process.stderr.write;
  let listener: ((warning: Error) => void) | undefined;
  const warned = new Promise<Error>((resolve) => {
    listener = (warning) => {
      if (/idle rank thread failed/.test(warning.message)) resolve(warning);
    };
    process.on('warning', listener);
  });
  let deadline: NodeJS.Timeout | undefined;
  try {
    const job = await launch({
      worldSize: 2, module: fixture, exportName: 'returnsRank', keepModuleState: true,
    });
    t.deepEqual(await job.results, [0, 1]);
    await job.rank(1).call('throwAfterTheJob');
    await job.close(); // the pool goes back warm and idle; rank 1's timer fires there
    const late = new Promise<never>((_, reject) => (
      deadline = setTimeout(() => reject(new Error('no warning in 60 s')), 60_000)
    ));
    const warning = await Promise.race([warned, late]);
    const expected = /^multirank: an idle rank thread failed: thrown from a timer after the job ended$/;
    t.regex(warning.message, expected);
  } finally {
    clearTimeout(deadline);
    process.off('warning', listener!);
    process.stderr.write = write;
    await shutdown();
  }
});

test('process.exit() in a rank is told as such, and the summary shows the rank failed', async (t) => {
  const error = await failure(t, 3, 'exits');
  t.is(error.rank, 1);
  t.regex(error.message, /Rank 1 failed: Error: the rank's thread exited with code 1 \(process\.exit\(\) in a rank ends its thread/);
  t.notRegex(error.message, /worker exited/);
  const dump = JSON.parse(readFileSync(/Flight recorder dump: (\S+)/.exec(error.message)![1]!, 'utf8'));
  t.is(dump.ranks['1'].state, 'FAILED', 'the who-was-where summary reads this state');
  t.is(dump.ranks['1'].pending, 'rank 1: failed');
});

test('when every rank fails the same way, the others are not said to be stopped because of one', async (t) => {
  const error = await failure(t, 8, 'allThrow');
  t.regex(error.message, /^Rank \d failed: Error: the same on every rank\n\(ranks [\d., ]+ failed the same way\)\n/);
  t.notRegex(error.message, /stopped because of it/);
});

test('a module without the export asked for lists the functions it does export', async (t) => {
  const module = new URL('../fixtures/no-default.js', import.meta.url);
  const error = (await t.throwsAsync(withRanks(2, module))) as Error;
  t.regex(error.message, /Expected `the export "default" of file:\S+no-default\.js` to be a function \(the rank entry\), got undefined/);
  t.regex(error.message, /the module's functions: alpha \(name one with exportName, or --export NAME\); its other exports: beta/);
});

test('rank lists: runs of three or more as ranges', (t) => {
  t.is(rankList([3]), 'rank 3');
  t.is(rankList([0, 2]), 'ranks 0, 2');
  t.is(rankList([0, 1, 2, 3, 4, 5, 6]), 'ranks 0..6');
  t.is(rankList([0, 2, 3, 4, 5, 7, 8]), 'ranks 0, 2..5, 7, 8');
});
