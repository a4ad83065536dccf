/**
 * Running a script under Open MPI's mpirun from a test: whether mpirun is here, and one run of `np`
 * processes of `node script args...` with a deadline (the run is killed past it). Tests that need mpirun
 * skip with `mpirunMissing()`'s reason when it is absent.
 */
import { spawnSync } from 'node:child_process';
import { mpiUnavailableReason } from '../../src/native/mpi.js';

/** Why a test that runs processes under mpirun cannot run here, or undefined. */
export function mpirunMissing(): string | undefined {
  const probe = spawnSync('mpirun', ['--version'], { encoding: 'utf8' });
  if (probe.error !== undefined || probe.status !== 0) return 'mpirun is not installed (apt-get install openmpi-bin libopenmpi-dev)';
  return mpiUnavailableReason();
}

/** The flags every test run needs: more processes than cores, and root in CI containers. */
export function mpirunFlags(): string[] {
  const root = process.getuid?.() === 0;
  return ['--oversubscribe', ...(root ? ['--allow-run-as-root'] : [])];
}

export interface MpiRun {
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `mpirun -np <np> node <script> ...args`, killed after `timeoutMs`. */
export function runMpi(np: number, script: string, args: readonly string[], timeoutMs = 120_000, env: NodeJS.ProcessEnv = {}): MpiRun {
  const result = spawnSync('mpirun', [...mpirunFlags(), '-np', String(np), process.execPath, script, ...args], {
    encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL', env: { ...process.env, ...env },
  });
  return { status: result.status, signal: result.signal, stdout: result.stdout ?? '', stderr: result.stderr ?? '' };
}
