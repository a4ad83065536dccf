/**
 * The CLI and driver scripts as their own processes: "still waiting" lines, SIGUSR2 and Ctrl-C while a
 * rank is stuck on a promise, a rank's unhandled rejection under `multirank run`, and a driver script
 * that forgets `await job.close()`. Each waits for what it looks for on the child's output (no sleeps);
 * the deadlines are generous, for a loaded machine.
 */
import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { STILL_WAITING_ENV } from '../../src/debug/still-waiting.js';
import { QUIET_ENV } from '../../src/launch/job.js';
import { quietFailures } from '../helpers/quiet-failures.js';

const dumps = quietFailures();
const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const fixture = fileURLToPath(new URL('../fixtures/host-failures.js', import.meta.url));
const DEADLINE_MS = 90_000;

interface Child {
  process: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves once stderr matches `pattern` (rejects at the deadline, with what came). */
  stderrMatches(pattern: RegExp): Promise<RegExpExecArray>;
  exit: Promise<{ code: number | null; signal: string | null }>;
}

function start(args: string[], env: Record<string, string> = {}): Child {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  delete childEnv[QUIET_ENV]; // these tests read what the driver prints
  const child = spawn(process.execPath, args, { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  const waiters: (() => void)[] = [];
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk));
  child.stderr!.on('data', (chunk: Buffer) => {
    err += chunk;
    for (const wake of waiters.splice(0)) wake();
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), DEADLINE_MS);
  const exit = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.on('exit', (code, signal) => {
    clearTimeout(killer);
    for (const wake of waiters.splice(0)) wake();
    resolve({ code, signal });
  }));
  const stderrMatches = async (pattern: RegExp): Promise<RegExpExecArray> => {
    for (;;) {
      const match = pattern.exec(err);
      if (match !== null) return match;
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`exited before ${pattern}:\n${err}\n${out}`);
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };
  return { process: child, stdout: () => out, stderr: () => err, stderrMatches, exit };
}

const stuckRun = (file: string): Child => start(
  [cli, 'run', '-n', '2', fixture, '--export', 'waitsForFile', '--', file],
  { [STILL_WAITING_ENV]: '200,400', MULTIRANK_FR_DUMP_DIR: dumps },
);

test('a rank stuck on a promise: "still waiting" lines name the call, the group and the rank; SIGUSR2 says where the dump went', async (t) => {
  const file = join(dumps, 'go-still-waiting');
  const child = stuckRun(file);
  const line = await child.stderrMatches(/multirank: still waiting[^\n]*\n(( {2}[^\n]*\n)+)/);
  t.regex(line[1]!, /rank 0: blocked for [\d.]+ s in allReduce \(call #\d+\) of group world \[0, 1\], waiting for rank 1 to arrive; at .*host-failures\.(js|ts):\d+/);
  t.regex(line[1]!, /rank 1: running \(in no multirank wait: computing, or awaiting something else\)/);
  child.process.kill('SIGUSR2');
  const dump = await child.stderrMatches(/multirank: SIGUSR2: Flight recorder dump: (\S+) \(job of 2 ranks\)\n {2}rank 0: blocked/);
  t.true(existsSync(dump[1]!), dump[1]);
  writeFileSync(file, ''); // rank 1 joins the allReduce: the job ends well
  const { code } = await child.exit;
  t.is(code, 0, child.stderr());
  t.regex(child.stdout(), /\[rank 0\] => \[3\]/);
});

test('Ctrl-C in multirank run prints who was where and ends the job with exit code 130', async (t) => {
  const child = stuckRun(join(dumps, 'never-created'));
  await child.stderrMatches(/still waiting/); // rank 0 is in its wait by now
  child.process.kill('SIGINT');
  const { code } = await child.exit;
  t.is(code, 130, child.stderr());
  t.regex(child.stderr(), /multirank run: interrupted \(SIGINT\); where the ranks were:\n {2}rank 0: blocked in allReduce \(call #\d+\) of group world \[0, 1\], waiting for rank 1 to arrive/);
  t.regex(child.stderr(), /\n {2}rank 1: running/);
  t.regex(child.stderr(), /Flight recorder dump: \S+/);
});

test('multirank run: a rank\'s unhandled rejection fails the run naming the rank; the CLI does not crash', async (t) => {
  const child = start([cli, 'run', '-n', '3', fixture, '--export', 'dropsRejection'], { MULTIRANK_FR_DUMP_DIR: dumps });
  const { code } = await child.exit;
  t.is(code, 1, child.stderr());
  t.regex(child.stderr(), /multirank run: Rank 1 failed: Error: dropped on rank 1 \(an unhandled promise rejection\)/);
  t.notRegex(child.stderr(), /Emitted 'error' event/);
});

test('a driver script that forgets await job.close() exits when its work is done', async (t) => {
  const child = start([fileURLToPath(new URL('../fixtures/forgets-close.js', import.meta.url))]);
  const { code, signal } = await child.exit;
  t.is(signal, null, 'ended by itself, not killed at the deadline');
  t.is(code, 0, child.stderr());
  t.is(child.stdout().trim(), JSON.stringify({ results: [1, 1], reply: 1 }));
});
