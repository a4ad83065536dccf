/**
 * Side outputs never change a job's outcome (issue 13 items 7 and 11): a flight-recorder dump or a trace
 * that cannot be written is a warning naming the path and the OS error; SIGUSR2 with a bad dump folder
 * does not kill the driver; dumps are kept to a bounded number per process, in the folder the user chose.
 */
import test from 'ava';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launch } from '../../src/launch/launch.js';
import { withRanks } from '../../src/testing/index.js';
import { ErrorCodes } from '../../src/errors.js';
import { writeFlightRecorderDump } from '../../src/debug/flight-dump.js';
import type { JobView } from '../../src/debug/job-view.js';
import { QUIET_ENV } from '../../src/launch/job.js';

// The jobs of this file fail on purpose: no failure summaries on the test's output (dumps go where each
// test says, and are removed).
process.env[QUIET_ENV] = '1';

const basics = new URL('../fixtures/world-basics.js', import.meta.url);
const MISSING = join(tmpdir(), 'multirank-no-such-dir', 'deeper');
const DUMP_DIR = 'MULTIRANK_FR_DUMP_DIR', DUMP_KEEP = 'MULTIRANK_FR_DUMP_KEEP';

/** Collects the process warnings emitted while `run` runs (and a tick after). */
interface Outcome<T> { value: T | undefined; error: unknown; warnings: string[] }

async function warningsDuring<T>(run: () => Promise<T>): Promise<Outcome<T>> {
  const warnings: string[] = [];
  const onWarning = (w: Error): void => void warnings.push(w.message);
  process.on('warning', onWarning);
  let value: T | undefined, error: unknown;
  try {
    value = await run();
  } catch (e) {
    error = e;
  }
  await new Promise((resolve) => setTimeout(resolve, 50));
  process.off('warning', onWarning);
  return { value, error, warnings };
}

const failing = { module: basics, exportName: 'throwsOnRank1' };

test.serial('a bad MULTIRANK_FR_DUMP_DIR: the rank\'s own error is reported, the dump failure is a warning', async (t) => {
  process.env[DUMP_DIR] = MISSING;
  try {
    const { error, warnings } = await warningsDuring(() => withRanks(2, failing, { timeoutMs: 30_000 }));
    t.is((error as { code?: string }).code, ErrorCodes.RANK_FAILED);
    t.regex((error as Error).message, /Rank 1 failed: Error: boom on rank 1/);
    t.regex((error as Error).message, /flight recorder dump was not written/i);
    t.true(warnings.some((w) => w.includes(MISSING) && /ENOENT/.test(w)), warnings.join('\n'));
  } finally {
    delete process.env[DUMP_DIR];
  }
});

test.serial('a bad trace path: a job that succeeded still resolves; the trace failure is a warning', async (t) => {
  const path = join(MISSING, 'trace.json');
  const { value, error, warnings } = await warningsDuring(() => withRanks(2, basics, { tracePath: path }));
  t.is(error, undefined, String(error));
  t.is((value as unknown[]).length, 2);
  t.true(warnings.some((w) => w.includes(path) && /ENOENT/.test(w)), warnings.join('\n'));
});

test.serial('SIGUSR2 with a bad dump folder warns and leaves the driver and the job running', async (t) => {
  process.env[DUMP_DIR] = MISSING;
  try {
    const { value, error, warnings } = await warningsDuring(async () => {
      const job = await launch({ worldSize: 2, module: basics });
      try {
        process.kill(process.pid, 'SIGUSR2');
        await new Promise((resolve) => setTimeout(resolve, 100));
        return await job.results;
      } finally {
        await job.close();
      }
    });
    t.is(error, undefined, String(error));
    t.is((value as unknown[]).length, 2);
    t.true(warnings.some((w) => w.includes(MISSING) && /ENOENT/.test(w)), warnings.join('\n'));
  } finally {
    delete process.env[DUMP_DIR];
  }
});

test.serial('flight-recorder dumps go to MULTIRANK_FR_DUMP_DIR, and only the newest MULTIRANK_FR_DUMP_KEEP stay', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'multirank-dumps-'));
  process.env[DUMP_DIR] = dir;
  process.env[DUMP_KEEP] = '3';
  try {
    const paths: string[] = [];
    for (let i = 0; i < 5; i++) {
      const error = await t.throwsAsync(withRanks(2, failing, { timeoutMs: 30_000 }));
      const path = /Flight recorder dump: (\S+)/.exec(error!.message)?.[1];
      t.truthy(path, error!.message);
      t.true(path!.startsWith(dir), path);
      paths.push(path!);
    }
    t.deepEqual(paths.map((p) => existsSync(p)), [false, false, true, true, true]);
    t.is(readdirSync(dir).length, 3);
  } finally {
    delete process.env[DUMP_DIR];
    delete process.env[DUMP_KEEP];
    rmSync(dir, { recursive: true, force: true });
  }
});

test.serial('a dump whose records cannot be read is a warning, and says so where the dump path would be', async (t) => {
  const broken: JobView = {
    record: () => { throw new RangeError('Invalid typed array length: 16'); },
    abortValue: 1,
    failDeadlock: () => undefined,
    groupWait: () => ({ ranks: [], missing: [] }),
  };
  const outcome = await warningsDuring(async () => writeFlightRecorderDump(broken, 2, 'failure'));
  t.is(outcome.error, undefined, 'nothing throws');
  t.is(outcome.value?.path, undefined);
  t.regex(outcome.value!.summary, /could not be read/);
  t.true(outcome.warnings.some((w) => /flight-recorder dump \(reading the records\): Invalid typed array length/.test(w)), outcome.warnings.join('\n'));
});

test.serial('SIGUSR2 with 12 live jobs: one process listener, every job dumps, none left after close', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'multirank-dumps-'));
  process.env[DUMP_DIR] = dir;
  const listeners = process.listenerCount('SIGUSR2');
  const stderr = process.stderr.write.bind(process.stderr);
  const lines: string[] = [];
  process.stderr.write = ((chunk: string | Uint8Array) => (lines.push(String(chunk)), true)) as typeof process.stderr.write;
  try {
    const { error, warnings } = await warningsDuring(async () => {
      const jobs = await Promise.all(Array.from({ length: 12 }, () => launch({ worldSize: 2, module: basics, exportName: 'allReduceForever' })));
      try {
        t.is(process.listenerCount('SIGUSR2'), listeners + 1, 'one listener for every job');
        process.kill(process.pid, 'SIGUSR2');
        await new Promise((resolve) => setTimeout(resolve, 200));
      } finally {
        await Promise.all(jobs.map((job) => job.close()));
      }
    });
    t.is(error, undefined, String(error));
    t.deepEqual(warnings, [], 'no MaxListenersExceededWarning');
  } finally {
    process.stderr.write = stderr;
    delete process.env[DUMP_DIR];
  }
  t.is(lines.filter((l) => l.startsWith('multirank: SIGUSR2:')).length, 12, lines.join(''));
  t.is(readdirSync(dir).length, 12, 'a dump per job');
  rmSync(dir, { recursive: true, force: true });
  t.is(process.listenerCount('SIGUSR2'), listeners, 'no listener left after the jobs closed');
});
