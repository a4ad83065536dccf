import test from 'ava';
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { QUIET_ENV } from '../../src/launch/job.js';
import { cli, DEADLINE_MS, results as rankResults, run, type Run } from '../helpers/cli-run.js';

// Jobs here fail on purpose: no failure summaries. Each run's agent keeps its own dump folder (the tests
// read the merged dump there) and the tests remove it.
process.env[QUIET_ENV] = '1';

const fixture = fileURLToPath(new URL('../fixtures/procs.js', import.meta.url));
/** `[rank N] => json` lines, by rank. */
const results = (stdout: string): Map<number, Record<string, unknown>> => rankResults(stdout);

/** Processes whose command line holds `token` (the workers and agents of one test run). */
function processesWith(token: string): string[] {
  return execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' }).split('\n').filter((line) => line.includes(token));
}

async function noneLeft(token: string): Promise<string[]> {
  // Processes of a finished run may take a moment to be reaped; poll, do not sleep a fixed time.
  for (let i = 0; i < 200 && processesWith(token).length > 0; i++) await new Promise((r) => setTimeout(r, 50));
  return processesWith(token);
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function checkObjects(t: import('ava').ExecutionContext, r: Run, worldSize: number, processes: number): void {
  t.is(r.code, 0, r.stderr);
  const byRank = results(r.stdout);
  t.deepEqual([...byRank.keys()].sort((a, b) => a - b), Array.from({ length: worldSize }, (_, i) => i));
  for (const [rank, v] of byRank) {
    t.like(v, {
      rank, from: worldSize - 1, big: String(2n ** 70n), t: [1.5, -2], pids: processes,
      ring: (rank - 1 + worldSize) % worldSize, dict: [7, 'dict'],
    });
    t.deepEqual(v['ranksSeen'], Array.from({ length: worldSize }, (_, i) => i));
  }
}

test.serial('--procs 2: objects, tensor dicts and barrier on a world group across 2 processes of 4 ranks', async (t) => {
  checkObjects(t, await run(['-n', '8', '--procs', '2', fixture]), 8, 2);
});

test.serial('--procs 3: the same across 3 processes of uneven blocks (2, 2, 1 ranks)', async (t) => {
  checkObjects(t, await run(['-n', '5', '--procs', '3', fixture]), 5, 3);
});

test.serial('a CPU tensor collective on a group across processes fails naming the mpi backend and the processes', async (t) => {
  const r = await run(['-n', '4', '--procs', '2', fixture, '--export', 'tensorAcross']);
  t.is(r.code, 0, r.stderr);
  for (const v of results(r.stdout).values()) {
    t.regex(String(v), /^ERR_MULTIRANK_BACKEND_UNAVAILABLE: allReduce of CPU tensors on group "world"/);
    t.regex(String(v), /spans process 0 \(ranks 0-1\), process 1 \(ranks 2-3\): .*"mpi" backend/);
  }
});

test.serial('a device side on a group across processes gets member 0\'s unique id through the store', async (t) => {
  const r = await run(['-n', '3', '--procs', '3', fixture, '--export', 'deviceIdAcross']);
  t.is(r.code, 0, r.stderr);
  const byRank = results(r.stdout);
  t.is(byRank.size, 3);
  for (const v of byRank.values()) t.deepEqual(v as unknown as number[], [128, 3, 10, (127 * 7 + 3) & 255]);
});

test.serial('initDistributedEnvironment checks initMethod against the job\'s store', async (t) => {
  const r = await run(['-n', '2', '--procs', '2', fixture, '--export', 'initMethods']);
  t.is(r.code, 0, r.stderr);
  for (const v of results(r.stdout).values()) {
    const [env, tcp, file] = v as unknown as string[];
    t.is(env, 'ok');
    t.regex(tcp!, /ERR_MULTIRANK_OUT_OF_RANGE: `options.initMethod` \(tcp:\/\/127.0.0.1:1\) names another store than this job's \(127.0.0.1:\d+\)/);
    const fileError = new RegExp(
      /ERR_MULTIRANK_INVALID_ARG_VALUE: Expected `options\.initMethod` /.source +
      /to be one of "env:\/\/", "tcp:\/\/host:port"/.source,
    );
    t.regex(file!, fileError);
  }
});

for (const [procs, ranks] of [[2, 4], [3, 6]] as const) {
  test.serial(`--procs ${procs}: a process killed in the middle of a collective fails every other process's ranks, naming the lost ones; nothing is left behind`, async (t) => {
    const token = randomUUID();
    const r = await run(['-n', String(ranks), '--procs', String(procs), '--timeout-ms', String(DEADLINE_MS), fixture, '--export', 'killedMidway', '--', token]);
    t.is(r.code, 1);
    const last = `${ranks - 2}-${ranks - 1}`;
    // Each surviving process reports the lost process, by its ranks, as the cause (not a timeout).
    const reports = r.stderr.match(new RegExp(`failed: process ${procs - 1} \\(ranks ${last}\\), pid \\d+, was killed by SIGKILL`, 'g')) ?? [];
    t.is(reports.length, procs - 1, r.stderr);
    t.notRegex(r.stderr, /TimeoutError/);
    t.regex(r.stderr, /flight-recorder dumps of this node's processes:\n\s+\S+multirank-flight-recorder-\d+-1\.json/);
    // The merged dump holds every surviving rank, each failed (the killed process wrote none).
    const merged = /all of them in one: (\S+)/.exec(r.stderr)?.[1];
    const dump = JSON.parse(readFileSync(merged!, 'utf8')) as { processes: unknown[]; ranks: Record<string, { state: string }> };
    t.is(dump.processes.length, procs - 1);
    t.deepEqual(Object.keys(dump.ranks).map(Number).sort((a, b) => a - b), Array.from({ length: ranks - 2 }, (_, i) => i));
    t.true(Object.values(dump.ranks).every((rank) => rank.state === 'FAILED'));
    rmSync(dirname(merged!), { recursive: true, force: true });
    t.deepEqual(await noneLeft(token), []);
  });
}

test.serial('two nodes on one machine (two multirank run --nnodes 2 on loopback): objects across them, node-local ranks', async (t) => {
  const port = String(await freePort());
  const node = (k: number, exportName?: string): Promise<Run> =>
    run(['-n', '3', '--nnodes', '2', '--node-rank', String(k), '--master-port', port, fixture, ...(exportName ? ['--export', exportName] : [])]);
  const [a, b] = await Promise.all([node(0, 'nodes'), node(1, 'nodes')]);
  t.is(a.code, 0, a.stderr);
  t.is(b.code, 0, b.stderr);
  const all = new Map([...results(a.stdout), ...results(b.stdout)]);
  t.deepEqual([...results(b.stdout).keys()].sort(), [3, 4, 5]);
  for (const [rank, v] of all) {
    t.like(v, { localRank: rank % 3, localWorldSize: 3, localRanks: [0, 1, 2, 0, 1, 2] });
    t.deepEqual(v['sameNode'], [false, false, false, true, true, true]); // as member 5, on node 1
  }
  const port2 = String(await freePort());
  const objects = (k: number): Promise<Run> => run(['-n', '2', '--nnodes', '2', '--node-rank', String(k), '--master-port', port2, '--procs', '2', fixture]);
  const [c, d] = await Promise.all([objects(0), objects(1)]);
  checkObjects(t, { ...c, stdout: c.stdout + d.stdout, stderr: c.stderr + d.stderr, code: c.code ?? d.code }, 4, 4);
  t.is(d.code, 0, d.stderr);
});

test.serial('a killed launcher takes its worker processes with it', async (t) => {
  const token = randomUUID();
  // A killed agent cannot remove its dump folder: give it one that the test removes.
  const dumps = mkdtempSync(join(tmpdir(), 'multirank-test-dumps-'));
  t.teardown(() => rmSync(dumps, { recursive: true, force: true }));
  const agent = spawn(process.execPath, [cli, 'run', '-n', '2', '--procs', '2', fixture, '--export', 'looping', '--', token], {
    stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MULTIRANK_FR_DUMP_DIR: dumps },
  });
  await new Promise<void>((resolve) => agent.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('looping') && resolve()));
  t.is(processesWith(token).length, 3); // the agent and its two workers
  agent.kill('SIGKILL');
  t.deepEqual(await noneLeft(token), []);
});
