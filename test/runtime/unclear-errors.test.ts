/**
 * Errors that say what was wrong and whose fault it was (issue 13, "Unclear errors"): values that cannot
 * be serialized, launch arguments that cannot be cloned, values of the wrong type, and a job the driver
 * closed (no rank is blamed, no failure dump is written).
 */
import test from 'ava';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launch } from '../../src/launch/launch.js';
import { withRanks } from '../../src/testing/index.js';
import { ErrorCodes } from '../../src/errors.js';
import { quietFailures } from '../helpers/quiet-failures.js';

quietFailures();

const fixture = new URL('../fixtures/unclear-errors.js', import.meta.url);

interface Caught { name: string; code?: string; message: string }

test('an object holding a function: one MultirankError with a code, naming the argument and the function', async (t) => {
  const target = { module: fixture, exportName: 'functionObjects' };
  const results = (await withRanks(2, target, { timeoutMs: 30_000 })) as Record<string, Caught | undefined>[];
  for (const [rank, r] of results.entries()) {
    for (const [call, caught] of Object.entries(r)) {
      if (caught === undefined) continue;
      t.is(caught.name, 'MultirankError', `rank ${rank} ${call}: ${JSON.stringify(caught)}`);
      t.is(caught.code, ErrorCodes.NOT_SERIALIZABLE, `rank ${rank} ${call}`);
      const where = /`(obj|list)(\[1\])?\.nested\.hook` is a function \(onStep\)/;
      t.regex(caught.message, where, `rank ${rank} ${call}: ${caught.message}`);
      t.regex(caught.message, /cannot be serialized/, `rank ${rank} ${call}`);
    }
  }
});

test('launch args that cannot be cloned: launch() throws the driver\'s argument error before starting', async (t) => {
  const args = { ok: 1, cb: () => 1 };
  const error = await t.throwsAsync(launch({ worldSize: 2, module: fixture, exportName: 'wrongTypes', args }));
  t.is((error as { code?: string }).code, ErrorCodes.INVALID_ARG_TYPE);
  t.regex(error!.message, /`options\.args\.cb` to be data that can cross threads .*got function cb/);
  t.notRegex(error!.message, /Rank \d failed/);
});

test('values of the wrong type are shown with their type', async (t) => {
  const target = { module: fixture, exportName: 'wrongTypes' };
  const [r] = (await withRanks(2, target, { timeoutMs: 30_000 })) as Record<string, Caught>[];
  t.regex(r!.dst!.message, /`options\.dst`.*"1" \(string\)/);
  t.regex(r!.src!.message, /`options\.src`.*"0" \(string\)/);
  t.regex(r!.timeoutMs!.message, /`options\.timeoutMs`.*"5000" \(string\)/);
  const timeoutMs = '5000' as unknown as number;
  const error = await t.throwsAsync(launch({ worldSize: 2, module: fixture, timeoutMs }));
  t.regex(error!.message, /`options\.timeoutMs`.*"5000" \(string\)/);
});

// Serial (ava runs serial tests before the others): it points the dumps at a folder of its own.
test.serial('close() on a busy job says the driver closed it, blames no rank and writes no failure dump', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'multirank-close-'));
  const before = process.env.MULTIRANK_FR_DUMP_DIR;
  process.env.MULTIRANK_FR_DUMP_DIR = dir;
  try {
    const job = await launch({ worldSize: 3, module: fixture, exportName: 'busy', timeoutMs: 60_000 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    await job.close();
    const error = (await t.throwsAsync(job.results)) as Error & { code?: string };
    t.is(error.code, ErrorCodes.CLOSED, error.message);
    t.regex(error.message, /closed by the driver/);
    t.notRegex(error.message, /Rank \d failed/);
    t.deepEqual(readdirSync(dir), [], 'no failure dump');
  } finally {
    process.env.MULTIRANK_FR_DUMP_DIR = before;
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a queue timeout message is whole: who waits for which message, the deadline, balanced parentheses', async (t) => {
  // Call checks off: with them on, the members agree on the call before the queue, and the wait that times
  // out is that agreement's (its message is checked in failures.test.ts).
  const error = await t.throwsAsync(withRanks(2, { module: fixture, exportName: 'queueTimeout' }, { timeoutMs: 60_000, checkCalls: false }));
  const line = error!.message.split('\n')[0]!;
  const ending = /\(waited \d+ ms, timeout 1500 ms; MULTIRANK_TIMEOUT_MS sets the default\)$/;
  t.regex(line, /^Rank 1 failed: TimeoutError: MessageQueue reader 0 waiting for message 1 \(chunk 1\): /);
  t.regex(line, ending);
  const depth = [...line].reduce((d, c) => (c === '(' ? d + 1 : c === ')' ? d - 1 : d), 0);
  t.is(depth, 0, line);
});
