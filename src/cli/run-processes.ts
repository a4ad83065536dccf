/**
 * `multirank run`'s flags for jobs of several processes: which role this command has (the agent that
 * starts a node's worker processes, one worker process, or the whole job in this process), checked
 * before anything starts, and what a worker is told.
 */
import { DEFAULT_MASTER_PORT, type AgentOptions } from './run-agent.js';
import { timeoutFromEnv } from '../shm/wait.js';
import { mpirunProcessCount } from '../launch/mpi-world.js';

/** The flags as parseArgs gives them. */
export interface ProcessFlags {
  procs?: string | undefined;
  nnodes?: string | undefined;
  'node-rank'?: string | undefined;
  'master-addr'?: string | undefined;
  'master-port'?: string | undefined;
  'init-method'?: string | undefined;
  backend?: string | undefined;
  export?: string | undefined;
  'timeout-ms'?: string | undefined;
  'job-timeout-ms'?: string | undefined;
  quiet?: boolean | undefined;
}

/** What this command is: an agent (`agent`), a worker process (`initMethod`), or neither (one process). */
export interface ProcessesPlan {
  readonly agent?: Omit<AgentOptions, 'ranks' | 'workerArgv'> | undefined;
  readonly initMethod?: string | undefined;
  /** `--backend mpi`: mpirun starts this many processes on this machine. */
  readonly mpirunProcs?: number | undefined;
  /** This process is one of those mpirun started (OMPI_COMM_WORLD_SIZE > 1): its world comes from MPI. */
  readonly underMpirun?: boolean | undefined;
}

/**
 * The plan from the flags; `positive` reads a positive integer flag; `underMpirun`: the process count of
 * the mpirun that started this process, if one did.
 * @throws RangeError naming the flag (a usage error).
 */
export function planProcesses(
  v: ProcessFlags, ranks: number, positive: (name: string, text: string | undefined) => number | undefined,
  underMpirun: number | undefined = mpirunProcessCount(),
): ProcessesPlan {
  const procs = positive('procs', v.procs) ?? 1;
  const nnodes = positive('nnodes', v.nnodes) ?? 1;
  const multi = procs > 1 || nnodes > 1;
  if (v.backend !== undefined) {
    if (v.backend !== 'mpi') throw new RangeError(`--backend must be mpi, got ${JSON.stringify(v.backend)}`);
    if (nnodes > 1 || v['init-method'] !== undefined || v['node-rank'] !== undefined) {
      throw new RangeError('--backend mpi starts mpirun on this machine and takes no --nnodes, --node-rank or ' +
        '--init-method; across machines, start the job with mpirun -H hosts ... multirank run -n RANKS');
    }
    if (procs < 2) throw new RangeError('--backend mpi needs --procs P (P > 1): the processes mpirun starts');
    if (procs > ranks) throw tooManyProcs(procs, ranks);
    return { mpirunProcs: procs };
  }
  if (underMpirun !== undefined && underMpirun > 1) {
    if (multi || v['init-method'] !== undefined) {
      throw new RangeError('under mpirun each process is one process of the job (mpirun -np P multirank run -n ' +
        'RANKS): it takes no --procs, --nnodes or --init-method');
    }
    return { underMpirun: true };
  }
  if (v['init-method'] !== undefined) {
    if (multi || v['node-rank'] !== undefined) {
      throw new RangeError('--init-method runs one worker process: it takes no --procs, --nnodes or --node-rank');
    }
    return { initMethod: v['init-method'] };
  }
  const nodeFlags = ['node-rank', 'master-addr', 'master-port'] as const;
  if (!multi) {
    const stray = nodeFlags.find((name) => v[name] !== undefined);
    if (stray !== undefined) throw new RangeError(`--${stray} needs --nnodes N (N > 1) or --procs P (P > 1)`);
    return {};
  }
  if (procs > ranks) throw tooManyProcs(procs, ranks);
  const nodeRank = v['node-rank'] === undefined ? 0 : Number(v['node-rank']);
  if (!Number.isInteger(nodeRank) || nodeRank < 0 || nodeRank >= nnodes) {
    throw new RangeError(`--node-rank must be an integer in 0..${nnodes - 1}, got ${JSON.stringify(v['node-rank'])}`);
  }
  if (nnodes > 1 && v['node-rank'] === undefined) {
    throw new RangeError(`--nnodes ${nnodes} needs --node-rank K (0..${nnodes - 1})`);
  }
  const port = v['master-port'] === undefined ? (nnodes > 1 ? DEFAULT_MASTER_PORT : 0) : Number(v['master-port']);
  if (!Number.isInteger(port) || port < 0 || port > 65535 || (port === 0 && nnodes > 1)) {
    const lowest = nnodes > 1 ? 1 : 0;
    throw new RangeError(`--master-port must be a port in ${lowest}..65535, got ${JSON.stringify(v['master-port'])}`);
  }
  const timeoutMs = positive('timeout-ms', v['timeout-ms']) ?? timeoutFromEnv();
  const masterAddr = v['master-addr'] ?? '127.0.0.1';
  return { agent: { procs, nnodes, nodeRank, masterAddr, masterPort: port, timeoutMs } };
}

/** The words a worker process gets from its agent's command line (the module, the options it keeps). */
export function passOn(v: ProcessFlags, module: string): string[] {
  const words: string[] = [];
  if (v.export !== undefined) words.push('--export', v.export);
  if (v['timeout-ms'] !== undefined) words.push('--timeout-ms', v['timeout-ms']);
  if (v['job-timeout-ms'] !== undefined) words.push('--job-timeout-ms', v['job-timeout-ms']);
  if (v.quiet === true) words.push('--quiet');
  return [...words, module];
}

/**
 * A worker started by an agent ends with it: when the agent goes away (its IPC channel closes: killed,
 * crashed), the worker exits at once rather than live on as an orphan. The channel does not keep the
 * worker alive.
 */
export function endWithAgent(): void {
  if (process.channel === undefined) return;
  process.channel.unref();
  process.once('disconnect', () => {
    const parent = process.ppid;
    process.stderr.write(`multirank run: the launcher of this worker process (pid ${parent}) went away; exiting\n`);
    process.exit(1);
  });
}

const tooManyProcs = (procs: number, ranks: number): RangeError =>
  new RangeError(`--procs ${procs} is more processes than ranks (-n ${ranks}): each holds at least one rank`);
