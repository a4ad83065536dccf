/**
 * Jobs whose processes mpirun starts: `mpirun -np P multirank run -n T` (P x T ranks, each process's place
 * from MPI), and `multirank run -n N --procs P --backend mpi`, which starts mpirun itself. The world group
 * spans every process: its CPU tensors go over the `mpi` backend (checked against plain-JS values), its
 * objects over the job's store. Exit codes are mpirun's; nothing is left behind. Skipped, with the reason,
 * where mpirun or the binding is missing.
 */
import test from 'ava';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mpirunFlags, mpirunMissing } from '../helpers/mpirun.js';
import { mpirunArgv, placement } from '../../src/cli/run-mpirun.js';

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const fixture = fileURLToPath(new URL('../fixtures/mpi-run.js', import.meta.url));
/** Generous: ranks share 2 cores with other work; nothing here should come near it. */
const DEADLINE_MS = 120_000;
const missing = mpirunMissing();
const mpiTest = missing === undefined ? test.serial : test.serial.skip;
if (missing !== undefined) test('mpirun launch tests are skipped', (t) => t.log(`skipped: ${missing}`) ?? t.pass());

interface Run { code: number | null; stdout: string; stderr: string }

/** The failing jobs' flight-recorder dumps go here, removed after the tests. */
const dumps = mkdtempSync(join(tmpdir(), 'mpirun-launch-'));
test.after.always(() => rmSync(dumps, { recursive: true, force: true }));

function exec(file: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((resolve) => {
    const options = { timeout: DEADLINE_MS, killSignal: 'SIGKILL' as const, env: { ...env, MULTIRANK_FR_DUMP_DIR: dumps } };
    execFile(file, args, options, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : (error as { code?: number }).code ?? null, stdout, stderr });
    });
  });
}

const multirank = (args: string[], env?: NodeJS.ProcessEnv): Promise<Run> => exec(process.execPath, [cli, 'run', ...args], env);
const underMpirun = (np: number, args: string[]): Promise<Run> =>
  exec('mpirun', [...mpirunFlags(), '--bind-to', 'none', '-np', String(np), process.execPath, cli, 'run', ...args]);

/** `[rank N] => json` lines, by rank. */
function results(stdout: string): Map<number, Record<string, unknown>> {
  const out = new Map<number, Record<string, unknown>>();
  for (const m of stdout.matchAll(/^\[rank (\d+)\] => (.*)$/gm)) out.set(Number(m[1]), JSON.parse(m[2]!) as Record<string, unknown>);
  return out;
}

/** Every rank's report against the plain-JS values of the fixture's collectives; `blocks`: ranks per process. */
function checkJob(t: import('ava').ExecutionContext, r: Run, blocks: number[]): void {
  t.is(r.code, 0, r.stderr);
  const worldSize = blocks.reduce((a, b) => a + b, 0);
  const byRank = results(r.stdout);
  t.deepEqual([...byRank.keys()].sort((a, b) => a - b), Array.from({ length: worldSize }, (_, i) => i));
  const total = (worldSize * (worldSize - 1)) / 2;
  const pidOf = new Map<number, unknown>();
  let first = 0;
  blocks.forEach((count, p) => {
    for (let rank = first; rank < first + count; rank++) {
      t.deepEqual(byRank.get(rank), {
        rank, localRank: rank, worldSize, sum: [total, worldSize, -3 * total], max: [(worldSize - 1) * 0.5, 0],
        gathered: Array.from({ length: worldSize }, (_, i) => 10 + i), root: worldSize - 1, pid: byRank.get(rank)!['pid'],
      });
      if (!pidOf.has(p)) pidOf.set(p, byRank.get(rank)!['pid']);
      t.is(byRank.get(rank)!['pid'], pidOf.get(p), `rank ${rank} runs in process ${p}`);
    }
    first += count;
  });
  t.is(new Set(pidOf.values()).size, blocks.length);
}

/** Processes whose command line holds `token`. */
async function noneLeft(token: string): Promise<string[]> {
  const find = (): string[] => execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(token));
  for (let i = 0; i < 200 && find().length > 0; i++) await new Promise((r) => setTimeout(r, 50));
  return find();
}

mpiTest('mpirun -np 2 multirank run -n 2: a job of 2 x 2 ranks, the world group over MPI', async (t) => {
  checkJob(t, await underMpirun(2, ['-n', '2', fixture]), [2, 2]);
});

mpiTest('mpirun -np 3 multirank run -n 1: a job of 3 x 1 ranks', async (t) => {
  checkJob(t, await underMpirun(3, ['-n', '1', fixture]), [1, 1, 1]);
});

mpiTest('multirank run -n 5 --procs 2 --backend mpi starts mpirun itself (blocks of 3 and 2 ranks)', async (t) => {
  checkJob(t, await multirank(['-n', '5', '--procs', '2', '--backend', 'mpi', fixture]), [3, 2]);
  t.deepEqual(await noneLeft(fixture), []);
});

mpiTest('a failing rank: every process fails naming it, the exit code is mpirun\'s (1), nothing left', async (t) => {
  const r = await multirank(['-n', '4', '--procs', '2', '--backend', 'mpi', fixture, '--export', 'failing', '--', '2']);
  t.is(r.code, 1);
  t.regex(r.stderr, /Rank 2 failed: Error: rank 2 fails on purpose/);
  t.regex(r.stderr, /mpirun detected that one or more processes exited with non-zero status/);
  t.deepEqual(await noneLeft(fixture), []);
});

mpiTest('a process killed in the middle of an allReduce: mpirun ends the job with its code (137), naming it', async (t) => {
  const r = await multirank(['-n', '4', '--procs', '2', '--backend', 'mpi', fixture, '--export', 'killed', '--', '3']);
  t.is(r.code, 137, r.stderr); // 128 + SIGKILL, as mpirun reports a process lost to a signal
  t.regex(r.stderr, /process rank 1 .*exited on signal 9/);
  t.notRegex(r.stdout, /\[rank \d\] =>/, 'a rank completed an allReduce the lost process never joined');
  t.deepEqual(await noneLeft(fixture), []);
});

mpiTest('a rank of another process never joins: the wait ends at its deadline naming the ranks it waited for', async (t) => {
  const r = await multirank(['-n', '2', '--procs', '2', '--backend', 'mpi', fixture, '--export', 'skips', '--', '1']);
  t.is(r.code, 1);
  t.regex(r.stderr, /Rank 0 failed: TimeoutError: agreeing on allReduce on group world \[0, 1\] \(rank 0\), waiting for ranks \[1\] in other processes: allGather timed out after 2000 ms/);
  // Hierarchical: the member that returned is found by its process's deadlock watchdog, and every process fails.
  const h = await multirank(['-n', '4', '--procs', '2', '--backend', 'mpi', fixture, '--export', 'skips', '--', '3']);
  t.is(h.code, 1);
  t.regex(h.stderr, /Rank 2 \(in another process of the job\) failed: a deadlock in process 1 \(ranks 2-3\)/);
  t.regex(h.stderr, /rank 3: returned from its entry function/);
  t.deepEqual(await noneLeft(fixture), []);
});

for (const kind of ['any', 'tagged'] as const) {
  const what = kind === 'any' ? 'from any source' : 'with a tag from a rank of another process';
  mpiTest(`a receive ${what} that nothing matches ends at its deadline, naming what it waited for; the group works after it`, async (t) => {
    const r = await multirank(['-n', '4', '--procs', '2', '--backend', 'mpi', fixture, '--export', 'unmatched', '--', kind]);
    t.is(r.code, 0, r.stderr);
    const byRank = results(r.stdout);
    const zero = byRank.get(0) as { error: string; five: number[]; sum: number[] };
    t.regex(zero.error, kind === 'any'
      ? /^TimeoutError: .*recv from any source with tag 4.*: waited 1500 ms for ranks \[1, 2, 3\]; none sent a message with tag 4$/
      : /^TimeoutError: recv from group rank 3 with tag 4 on group world \[0, 1, 2, 3\] \(rank 0\): timed out after 1500 ms waiting for group rank 3 \(in another process\) \(messages with other tags arrived, held: 5\)$/);
    // The tag-5 message that arrived meanwhile is still there for the receive that asks for it.
    t.deepEqual(zero.five, [5]);
    for (let rank = 0; rank < 4; rank++) t.deepEqual((byRank.get(rank) as { sum: number[] }).sum, [6], `rank ${rank}`);
    t.deepEqual(await noneLeft(fixture), []);
  });

  mpiTest(`a rank that fails while a rank of its process waits in a receive ${what}: the wait ends with the failure`, async (t) => {
    const r = await multirank(['-n', '4', '--procs', '2', '--backend', 'mpi', fixture, '--export', 'unmatched', '--', kind, '1']);
    t.is(r.code, 1, r.stderr);
    t.regex(r.stderr, /Rank 1 failed: Error: rank 1 fails on purpose/);
    // Not its 60 s deadline: the job's failure, naming the rank that failed.
    t.regex(r.stderr, /rank 0's receive ended with (?!TimeoutError)\w+: .*rank 1/);
    t.deepEqual(await noneLeft(fixture), []);
  });
}

mpiTest('processes that call different collectives: every process fails, listing each one\'s call', async (t) => {
  const args = ['-n', '4', '--procs', '2', '--backend', 'mpi', fixture, '--export', 'mismatched', '--', '2'];
  const r = await multirank(args);
  t.is(r.code, 1, r.stderr);
  const calls = (shape: number): string => `\\{"op":"allReduce","dtype":"int32","shape":\\[${shape}\\],"reduceOp":"sum"\\}`;
  // Each process reports its first failure: its leader's (the list of calls) or its other member's.
  t.regex(r.stderr, /Rank [01] failed: MismatchError: Ranks of group world \[0, 1, 2, 3\]/);
  t.regex(r.stderr, /Rank [23] failed: MismatchError: Ranks of group world \[0, 1, 2, 3\]/);
  t.regex(r.stderr, /MismatchError: Ranks of group world \[0, 1, 2, 3\] called different collectives:/);
  const listed = `collectives:\\n  ranks \\[0, 1\\]: ${calls(1)}\\n  ranks \\[2, 3\\]: ${calls(2)}`;
  t.regex(r.stderr, new RegExp(listed));
  t.deepEqual(await noneLeft(fixture), []);
});

mpiTest('processes that met through the store (--procs without --backend mpi): the mpi backend says why not', async (t) => {
  const r = await multirank(['-n', '2', '--procs', '2', fixture]);
  t.is(r.code, 1);
  t.regex(r.stderr, /The "mpi" backend is unavailable: not connecting this job's processes: it runs only where mpirun started them/);
  t.regex(r.stderr, /met through the job's store/);
});

test('--procs P --backend mpi places each process on its own share of the hardware threads while there are enough', (t) => {
  t.deepEqual(placement(2, 2), ['--use-hwthread-cpus', '--map-by', 'slot:PE=1', '--bind-to', 'hwthread']);
  t.deepEqual(placement(3, 16), ['--use-hwthread-cpus', '--map-by', 'slot:PE=5', '--bind-to', 'hwthread']);
  t.deepEqual(placement(3, 2), ['--bind-to', 'none']);
  const argv = mpirunArgv(5, 2, ['rank.js'], 4);
  t.deepEqual(argv.slice(0, 6), ['--oversubscribe', '--use-hwthread-cpus', '--map-by', 'slot:PE=2', '--bind-to', 'hwthread']);
  t.deepEqual(argv.filter((a) => a === '-np' || a === ':'), ['-np', ':', '-np']);
});

mpiTest('placement: this machine\'s mpirun binds each process to the share of hardware threads placement() ' +
  'gives it (PE = all of them for one process, one each for as many processes as threads)', async (t) => {
  const cpus = availableParallelism();
  const allowed = (text: string): string[] =>
    [...text.matchAll(/^Cpus_allowed_list:\s*(\S+)$/gm)].map((m) => m[1]!);
  const expand = (list: string): number[] => list.split(',').flatMap((part) => {
    const [from, to = from] = part.split('-').map(Number) as [number, number?];
    return Array.from({ length: to! - from + 1 }, (_, i) => from + i);
  });
  for (const procs of new Set([1, cpus])) {
    const flags = placement(procs, cpus);
    const r = await exec('mpirun', [...mpirunFlags(), ...flags, '-np', String(procs),
      'grep', 'Cpus_allowed_list', '/proc/self/status']);
    t.is(r.code, 0, `${flags.join(' ')}: ${r.stderr}`);
    const sets = allowed(r.stdout).map(expand);
    t.is(sets.length, procs, r.stdout);
    for (const set of sets) t.is(set.length, cpus / procs, `${procs} process(es): ${r.stdout}`);
    t.is(new Set(sets.flat()).size, cpus, `the processes' threads are apart and cover the machine:\n${r.stdout}`);
  }
});

test('--backend mpi: usage errors name the flag', async (t) => {
  const alone = await multirank(['-n', '2', '--backend', 'mpi', fixture]);
  t.is(alone.code, 2);
  t.regex(alone.stderr, /--backend mpi needs --procs P \(P > 1\)/);
  const other = await multirank(['-n', '2', '--procs', '2', '--backend', 'gloo', fixture]);
  t.is(other.code, 2);
  t.regex(other.stderr, /--backend must be mpi, got "gloo"/);
  const nodes = await multirank(['-n', '2', '--nnodes', '2', '--node-rank', '0', '--backend', 'mpi', fixture]);
  t.is(nodes.code, 2);
  t.regex(nodes.stderr, /across machines, start the job with mpirun -H hosts/);
});

test('--backend mpi where mpirun is not installed: a clear message, exit code 1', async (t) => {
  const r = await multirank(['-n', '2', '--procs', '2', '--backend', 'mpi', fixture], { ...process.env, PATH: '/nonexistent' });
  t.is(r.code, 1);
  t.regex(r.stderr, /--backend mpi could not start mpirun: it is not installed \(apt-get install openmpi-bin libopenmpi-dev\)/);
});
