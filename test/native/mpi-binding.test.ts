/**
 * The MPI binding under mpirun (2 and 3 processes): init once per process with MPI_THREAD_MULTIPLE,
 * communicators by create-group and split, collectives and eager point to point, errors returned as
 * statuses (a deadline, a disagreement on a group's members, the job's abort word), a worker thread
 * sharing its process's MPI, and MPI_Abort ending every process with its code. Without mpirun or the
 * binding the tests skip, saying why.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { mpirunMissing, runMpi } from '../helpers/mpirun.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/mpi-binding.js', import.meta.url));
const CHECKS = ['init', 'allGather', 'commSplit', 'deadline', 'argument errors', 'send/recv', 'abort word', 'worker thread'];
const missing = mpirunMissing();
const maybe = missing === undefined ? test.serial : test.skip;
const why = missing === undefined ? '' : ` (skipped: ${missing})`;

for (const processes of [2, 3]) {
  maybe(`the binding's calls over ${processes} processes${why}`, (t) => {
    const run = runMpi(processes, FIXTURE, ['basics'], 60_000);
    t.is(run.status, 0, `${run.stdout}\n${run.stderr}`);
    for (let p = 0; p < processes; p++) {
      for (const check of CHECKS) t.true(run.stdout.includes(`ok ${check} (process ${p})`), `${check} on process ${p}:\n${run.stdout}`);
    }
    // The group of the last two processes, and the disagreement of processes 0 and 1.
    t.true(run.stdout.includes(`ok commCreate (process ${processes - 1})`));
    t.true(run.stdout.includes('ok create mismatch (process 1)'));
  });
}

maybe(`MPI_Abort ends every process with the code, and leaves none behind${why}`, (t) => {
  const run = runMpi(3, FIXTURE, ['abort', '7'], 60_000);
  t.is(run.status, 7, `${run.stdout}\n${run.stderr}`);
  t.false(run.stdout.includes('outlived the abort'));
  const left = spawnSync('pgrep', ['-f', `${FIXTURE} abort`], { encoding: 'utf8' });
  t.is(left.stdout.trim(), '', 'processes of the aborted job are still running');
});

maybe(`a process killed in an allGather ends the job with mpirun's code, naming it, and leaves none behind${why}`, (t) => {
  const started = Date.now();
  const run = runMpi(3, FIXTURE, ['kill'], 60_000);
  t.is(run.status, 137, `${run.stdout}\n${run.stderr}`); // 128 + SIGKILL, as mpirun reports the lost process
  t.regex(run.stdout + run.stderr, /process rank 2 .*exited on signal 9/);
  t.false(run.stdout.includes('returned from the allGather'), 'a peer completed an allGather the lost process never joined');
  t.true(Date.now() - started < 50_000, 'the job outlived the lost process by most of the deadline');
  const left = spawnSync('pgrep', ['-f', `${FIXTURE} kill`], { encoding: 'utf8' });
  t.is(left.stdout.trim(), '', 'processes of the job are still running');
});
