/** `multirank run -n N rank.js [-- args]`: run a rank module on N ranks; exit non-zero when a rank fails. */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { launch } from '../launch/launch.js';
import type { CommandOutput } from './main.js';
import { dumpNote } from '../debug/flight-dump.js';
import type { LaunchOptions } from '../launch/options.js';
import { timeoutFromEnv } from '../shm/wait.js';
import type { TCPStore } from '../store/tcp-store.js';
import { parseInitMethod, StoreRendezvous } from '../launch/process-rendezvous.js';
import { runAgent } from './run-agent.js';
import { processRuntime } from '../launch/runtime.js';
import { endWithAgent, passOn, planProcesses, type ProcessesPlan } from './run-processes.js';
import { runMpirun } from './run-mpirun.js';
import { MpiWorld } from '../launch/mpi-world.js';

/** The shell's code for a process ended by SIGINT (128 + 2). */
export const INTERRUPTED_EXIT_CODE = 130;

export const RUN_USAGE = `Usage: multirank run -n RANKS [options] rank.js|rank.ts [-- args...]

Runs the module's default export (or --export NAME) on RANKS ranks, each a worker thread of this process.
The entry is called as main({ rank, worldSize, localRank, args }); args are the words after --.
Each rank's output is prefixed with [rank N]; a rank's return value, when not undefined, is printed.
A rank blocked in a wait for 10 s is reported ("still waiting"), then every 30 s (MULTIRANK_STILL_WAITING_MS).
Ctrl-C prints where every rank was and ends the job (exit code 130; a second Ctrl-C ends the process
at once); kill -USR2 PID writes a flight-recorder dump and prints its path.

Options:
  -n, --nproc RANKS       number of ranks (required)
      --export NAME       the export to run (default: default)
      --local-world-size  ranks per node for LOCAL_RANK (default: RANKS)
      --timeout-ms MS     deadline of every blocking wait (default: MULTIRANK_TIMEOUT_MS or 300000); it
                          covers waits only: a rank that computes or spins forever is not ended by it
      --job-timeout-ms MS end the whole job after MS (a rank that never waits included); exit code 1
      --quiet             do not print return values
  -h, --help              this text

Jobs of several processes (each process holds a contiguous block of thread-ranks):
      --procs P           run this machine's RANKS in P processes (default 1)
      --nnodes N          join a job of N machines (nodes), as torchrun; RANKS is this node's ranks
      --node-rank K       this node's number, 0..N-1 (node 0 hosts the job's store)
      --master-addr A     the address of node 0 (default 127.0.0.1)
      --master-port PORT  node 0's store port (default 29500 with --nnodes; a free port otherwise)
      --init-method M     run as one worker process of such a job: env:// (torchrun's MASTER_ADDR,
                          MASTER_PORT, RANK, WORLD_SIZE: this process among the job's processes) or
                          tcp://host:port?rank=R&world_size=W; RANKS is this process's ranks
      --backend mpi       with --procs P: start the P processes with mpirun on this machine, so that CPU
                          tensor collectives between processes run on MPI
Under mpirun (mpirun -np P [-H hosts] multirank run -n RANKS rank.js) each process runs RANKS ranks of a
job of P x RANKS, its place given by MPI; the exit code is mpirun's.`;

export async function runCommand(argv: string[], out: CommandOutput): Promise<number> {
  const dashDash = argv.indexOf('--');
  const own = dashDash === -1 ? argv : argv.slice(0, dashDash);
  const rankArgs = dashDash === -1 ? [] : argv.slice(dashDash + 1);
  let parsed;
  try {
    parsed = parseArgs({
      args: own, allowPositionals: true,
      options: {
        nproc: { type: 'string', short: 'n' }, export: { type: 'string' }, 'local-world-size': { type: 'string' },
        'timeout-ms': { type: 'string' }, 'job-timeout-ms': { type: 'string' }, quiet: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' }, procs: { type: 'string' }, nnodes: { type: 'string' },
        'node-rank': { type: 'string' }, 'master-addr': { type: 'string' }, 'master-port': { type: 'string' },
        'init-method': { type: 'string' }, backend: { type: 'string' },
      },
    });
  } catch (error) {
    out.error(`multirank run: ${(error as Error).message}\n\n${RUN_USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    out.log(RUN_USAGE);
    return 0;
  }
  if (values.nproc === undefined || positionals.length !== 1) {
    out.error(
      `multirank run: ${values.nproc === undefined ? '-n RANKS is required' : 'expected exactly one rank module'}` +
        `\n\n${RUN_USAGE}`,
    );
    return 2;
  }
  const number = (name: string, text: string | undefined): number | undefined => {
    if (text === undefined) return undefined;
    const value = Number(text);
    if (!Number.isInteger(value) || value <= 0) {
      throw new RangeError(`--${name} must be a positive integer, got ${JSON.stringify(text)}`);
    }
    return value;
  };
  let options: LaunchOptions;
  let jobTimeoutMs: number | undefined;
  let processes: ProcessesPlan;
  try {
    // Bad words are usage errors (exit 2), found before any rank starts.
    const module = positionals[0]!;
    if (!/^[a-z]+:/i.test(module) && !existsSync(resolve(module))) {
      throw new RangeError(`the rank module ${resolve(module)} does not exist`);
    }
    options = {
      worldSize: number('nproc', values.nproc)!, module, args: rankArgs, outputPrefix: true,
      ...(values.export === undefined ? {} : { exportName: values.export }),
      ...(values['local-world-size'] === undefined
        ? {}
        : { localWorldSize: number('local-world-size', values['local-world-size'])! }),
      ...(values['timeout-ms'] === undefined ? {} : { timeoutMs: number('timeout-ms', values['timeout-ms'])! }),
    };
    jobTimeoutMs = number('job-timeout-ms', values['job-timeout-ms']);
    processes = planProcesses(values, options.worldSize, number);
  } catch (error) {
    out.error(`multirank run: ${(error as Error).message}\n\n${RUN_USAGE}`);
    return 2;
  }
  // What each process this one starts (by mpirun or as an agent) runs: `multirank run` with these words.
  const workerArgv = (): string[] => [...passOn(values, resolveModule(positionals[0]!)), '--', ...rankArgs];
  if (processes.mpirunProcs !== undefined) {
    return runMpirun(options.worldSize, processes.mpirunProcs, workerArgv(), out);
  }
  if (processes.agent !== undefined) {
    return runAgent({ ...processes.agent, ranks: options.worldSize, workerArgv: workerArgv() }, out);
  }
  let store: TCPStore | undefined;
  let mpiWorld: MpiWorld | undefined;
  let ok = false;
  try {
    if (processes.underMpirun === true) {
      processRuntime().pools.prepare(options.worldSize); // the threads boot while the processes meet
      mpiWorld = new MpiWorld(options.worldSize, options.timeoutMs ?? timeoutFromEnv());
      const processWorld = await mpiWorld.resolve();
      options = { ...options, worldSize: processWorld.worldSize, processWorld, store: mpiWorld.store };
    } else if (processes.initMethod !== undefined) {
      processRuntime().pools.prepare(options.worldSize); // the threads boot while the processes meet
      const target = parseInitMethod(processes.initMethod);
      const rendezvous = new StoreRendezvous(target, options.worldSize, options.timeoutMs ?? timeoutFromEnv());
      const processWorld = await rendezvous.resolve();
      store = rendezvous.store;
      options = { ...options, worldSize: processWorld.worldSize, processWorld, store };
      endWithAgent();
    }
    const job = await launch(options);
    let timedOut = false;
    const timer = jobTimeoutMs === undefined ? undefined : setTimeout(() => {
      timedOut = true;
      void job.close();
    }, jobTimeoutMs);
    // Ctrl-C: say who was where (as a failure does), then end the job; `once`, so that a second Ctrl-C
    // ends the process at once, as Node's default would have.
    let interrupted = false;
    const onInterrupt = (): void => {
      interrupted = true;
      const dump = job.dumpFlightRecorder('SIGINT');
      out.error(`multirank run: interrupted (SIGINT); where the ranks were:\n${dump.summary}\n${dumpNote(dump)}`);
      void job.close();
    };
    process.once('SIGINT', onInterrupt);
    try {
      const results = await job.results;
      if (!values.quiet) {
        const print = (value: unknown, rank: number): void => out.log(`[rank ${rank}] => ${printable(value)}`);
        results.forEach((value, slot) => value !== undefined && print(value, job.firstRank + slot));
      }
      ok = true;
      return 0;
    } catch (error) {
      if (interrupted) return INTERRUPTED_EXIT_CODE;
      if (timedOut) {
        throw new Error(`the job ran past --job-timeout-ms ${jobTimeoutMs} and was closed`, { cause: error });
      }
      throw error;
    } finally {
      process.off('SIGINT', onInterrupt);
      clearTimeout(timer);
      await job.close();
    }
  } catch (error) {
    out.error(`multirank run: ${(error as Error).message}`);
    return 1;
  } finally {
    await store?.close();
    // Under mpirun: a job that ended well finalises MPI with the others; after a failure this process
    // exits non-zero and mpirun ends the job's other processes (its exit code is this one's).
    const ending = ok ? mpiWorld?.finish(options.processWorld!.processCount) : mpiWorld?.abandon();
    await ending?.catch((error: Error) => out.error(`multirank run: ending the MPI job: ${error.message}`));
  }
}

/** A rank's result as JSON, with bigints (int64 tensors' values) written as `123n`. */
function printable(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
}

/** The rank module as its worker processes get it: a URL as is, a path made absolute. */
function resolveModule(module: string): string {
  return /^[a-z]+:/i.test(module) ? module : resolve(module);
}
