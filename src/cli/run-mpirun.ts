/**
 * `multirank run -n N --procs P --backend mpi rank.js`: starts the job's P processes with Open MPI's
 * mpirun on this machine (each a `multirank run -n T` of its block of ranks, which finds the others
 * through MPI: launch/mpi-world.ts), so that CPU tensor collectives between processes run on the `mpi`
 * backend. The exit code is mpirun's (128 + the signal's number when mpirun itself was killed).
 *
 * Uneven blocks (N not a multiple of P) use mpirun's MPMD form: `-np 2 ... -n 4 : -np 1 ... -n 3`, the
 * larger blocks first (as `--procs` places them). Each process gets its own share of the cores (`placement`);
 * more processes than cores is allowed (--oversubscribe), and then every process may use every core. As
 * root, Open MPI's OMPI_ALLOW_RUN_AS_ROOT pair is set.
 */
import { spawn } from 'node:child_process';
import { availableParallelism, constants } from 'node:os';
import { blockSizes, cliEntry } from './run-agent.js';
import type { CommandOutput } from './main.js';

/**
 * Where mpirun puts `procs` processes on a machine of `cpus` hardware threads: while each can have cpus / procs
 * of its own, bound to them (as Open MPI binds one process per core by default). A process's rank
 * threads then take turns on its own cores, where they meet through shared memory, and the leaders' MPI
 * step finds the other processes' leaders running on theirs: on 2 cores, a 2 x 4 allReduce of 16 B - 1 KiB
 * took 28-31 µs bound against 44-65 µs unbound (docs/BENCHMARKS.md). With more processes than hardware
 * threads, none is bound.
 */
export function placement(procs: number, cpus: number = availableParallelism()): string[] {
  if (procs > cpus) return ['--bind-to', 'none'];
  return ['--use-hwthread-cpus', '--map-by', `slot:PE=${Math.floor(cpus / procs)}`, '--bind-to', 'hwthread'];
}

/** The command line of mpirun for `ranks` ranks in `procs` processes, each running `workerArgv`. */
export function mpirunArgv(ranks: number, procs: number, workerArgv: readonly string[], cpus?: number): string[] {
  const sizes = blockSizes(ranks, procs);
  const apps: string[][] = [];
  for (const size of new Set(sizes)) {
    const count = sizes.filter((s) => s === size).length;
    const worker = [process.execPath, ...process.execArgv, cliEntry(), 'run', '-n', String(size), ...workerArgv];
    apps.push(['-np', String(count), ...worker]);
  }
  return ['--oversubscribe', ...placement(procs, cpus), ...apps.flatMap((app, i) => (i === 0 ? app : [':', ...app]))];
}

/** Runs the job under mpirun; resolves with mpirun's exit code. */
export async function runMpirun(
  ranks: number, procs: number, workerArgv: readonly string[], out: CommandOutput,
): Promise<number> {
  const root = process.getuid?.() === 0;
  const env = { ...process.env, ...(root ? { OMPI_ALLOW_RUN_AS_ROOT: '1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1' } : {}) };
  const child = spawn('mpirun', mpirunArgv(ranks, procs, workerArgv), { stdio: ['ignore', 'inherit', 'inherit'], env });
  // Ctrl-C / SIGTERM go to mpirun, which passes them on to every process of the job.
  const pass = (signal: NodeJS.Signals): void => void child.kill(signal);
  const onExit = (): void => void child.kill('SIGKILL');
  process.on('SIGINT', pass).on('SIGTERM', pass).on('exit', onExit);
  try {
    return await new Promise<number>((resolve) => {
      child.once('error', (error) => {
        const missing = (error as { code?: string }).code === 'ENOENT';
        out.error(`multirank run: --backend mpi could not start mpirun: ${missing
          ? 'it is not installed (apt-get install openmpi-bin libopenmpi-dev)' : error.message}`);
        resolve(1);
      });
      child.once('exit', (code, signal) => {
        resolve(code ?? 128 + (signal === null ? 0 : constants.signals[signal] ?? 0));
      });
    });
  } finally {
    process.off('SIGINT', pass).off('SIGTERM', pass).off('exit', onExit);
  }
}
