/**
 * `multirank run --procs P` / `--nnodes N --node-rank K`: the launcher of a job of several processes,
 * as torchrun's agent. On each node it starts P worker processes (each `multirank run --init-method
 * env://` with torchrun's variables) that share this node's ranks in contiguous blocks; the agent of
 * node 0 hosts the job's TCPStore (MULTIRANK_AGENT_STORE=1 tells the workers so) and keeps it until every
 * process of every node is done.
 *
 * Failure: a worker that dies (a non-zero exit, a signal) has its ranks named in the job's abort key, so
 * every other process's ranks fail at once; workers that do not end within WORKER_GRACE_MS afterwards
 * are killed. Nothing outlives the agent: Ctrl-C / SIGTERM are passed on to the workers, a worker whose
 * agent went away (its IPC channel closed) ends itself (run.ts), and every worker is killed when the
 * agent exits. Each worker writes its flight-recorder dump into the run's dump folder (on a failure, or on
 * SIGUSR2, which the agent passes on); on a failure the agent lists them and merges them into one dump
 * of every rank of its node.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fromBlocks, processLabel } from '../comm/process-world.js';
import { DUMP_DIR_ENV } from '../debug/flight-dump.js';
import { TCPStore } from '../store/tcp-store.js';
import { ABORT_KEY, doneKey } from '../launch/process-job.js';
import { AGENT_STORE_ENV } from '../launch/process-rendezvous.js';
import type { CommandOutput } from './main.js';
import { entryFile } from '../package-files.js';

/** How long workers get to end on their own after one failed, before they are killed. */
export const WORKER_GRACE_MS = 10_000;
/** torchrun's default master port, for jobs of several nodes. */
export const DEFAULT_MASTER_PORT = 29500;

export interface AgentOptions {
  /** Ranks on this node. */
  readonly ranks: number;
  readonly procs: number;
  readonly nnodes: number;
  readonly nodeRank: number;
  readonly masterAddr: string;
  /** 0: any free port (one node only). */
  readonly masterPort: number;
  readonly timeoutMs: number;
  /** The words each worker's `multirank run` gets besides -n and --init-method (module, options, -- args). */
  readonly workerArgv: readonly string[];
}

/** Ranks per process on one node: contiguous blocks, the first ones one larger when P does not divide. */
export function blockSizes(ranks: number, procs: number): number[] {
  return Array.from({ length: procs }, (_, i) => Math.floor(ranks / procs) + (i < ranks % procs ? 1 : 0));
}

/** Runs the agent; returns the exit code (0 when every worker of this node exited with 0). */
export async function runAgent(o: AgentOptions, out: CommandOutput): Promise<number> {
  const processCount = o.nnodes * o.procs;
  const store = await TCPStore.create({
    host: o.masterAddr, port: o.masterPort, isMaster: o.nodeRank === 0, timeoutMs: o.timeoutMs, waitForWorkers: false,
    ...(o.nodeRank === 0 ? { listenHost: o.masterAddr } : {}),
  });
  // The workers' dumps go to one folder of the run; a folder the run made goes with it unless dumps are in it.
  const ownDumpDir = !process.env[DUMP_DIR_ENV];
  const dumpDir = process.env[DUMP_DIR_ENV] || mkdtempSync(join(tmpdir(), 'multirank-run-'));
  const sizes = blockSizes(o.ranks, o.procs);
  // The world as this node sees it (every node has P processes of this node's sizes): for messages only.
  const world = fromBlocks('given', Array.from({ length: processCount }, (_, p) => sizes[p % o.procs]!),
    Array.from({ length: processCount }, (_, p) => Math.floor(p / o.procs)), o.nodeRank * o.procs);
  const children: ChildProcess[] = [];
  let failed = false;
  const killAll = (signal: NodeJS.Signals): void => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    failed = true;
    killAll(signal === 'SIGINT' ? 'SIGINT' : 'SIGTERM');
    setTimeout(() => killAll('SIGKILL'), WORKER_GRACE_MS).unref();
  };
  const onExit = (): void => killAll('SIGKILL');
  // SIGUSR2 asks every worker for its flight-recorder dump (each job's handler writes one).
  const onDumpRequest = (): void => killAll('SIGUSR2');
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal).on('exit', onExit).on('SIGUSR2', onDumpRequest);
  try {
    const exits = sizes.map((size, i) => {
      const p = o.nodeRank * o.procs + i;
      const run = ['run', '-n', String(size), '--init-method', 'env://', ...o.workerArgv];
      const argv = [...process.execArgv, cliEntry(), ...run];
      const child = spawn(process.execPath, argv, {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        env: {
          ...process.env, MASTER_ADDR: o.masterAddr, MASTER_PORT: String(store.port), RANK: String(p),
          WORLD_SIZE: String(processCount), LOCAL_RANK: String(i), LOCAL_WORLD_SIZE: String(o.procs),
          GROUP_RANK: String(o.nodeRank), [AGENT_STORE_ENV]: '1', [DUMP_DIR_ENV]: dumpDir,
        },
      });
      children.push(child);
      return new Promise<number>((resolve) => {
        child.once('exit', (code, signal) => {
          if (code !== 0) {
            failed = true;
            const how = signal !== null ? `was killed by ${signal}` : `exited with code ${code}`;
            const message = `${processLabel(world, p)}, pid ${child.pid}, ${how}`;
            const record = JSON.stringify({ rank: world.processStarts[p], message });
            store.compareSet(ABORT_KEY, '', record).catch(() => undefined);
            setTimeout(() => killAll('SIGKILL'), WORKER_GRACE_MS).unref();
          }
          resolve(code ?? 1);
        });
      });
    });
    const codes = await Promise.all(exits);
    // The store's host stays until every process of every node is done (or the job failed).
    if (o.nodeRank === 0 && !failed) await allDone(store, processCount, o.timeoutMs);
    if (failed || codes.some((c) => c !== 0)) {
      const dumps = safeList(dumpDir);
      if (dumps.length > 0) {
        const merged = mergeDumps(dumpDir, dumps, o.nodeRank);
        const list = dumps.map((d) => `  ${join(dumpDir, d)}`).join('\n');
        const one = merged === undefined ? '' : `\n  all of them in one: ${merged}`;
        out.error(`multirank run: flight-recorder dumps of this node's processes:\n${list}${one}`);
      }
      return 1;
    }
    return 0;
  } finally {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal).off('exit', onExit).off('SIGUSR2', onDumpRequest);
    killAll('SIGKILL');
    await store.close();
    if (ownDumpDir && safeList(dumpDir).length === 0) rmSync(dumpDir, { recursive: true, force: true });
  }
}

/** Waits until every process posted its done key, or the job's abort key appeared. */
async function allDone(store: TCPStore, processCount: number, timeoutMs: number): Promise<void> {
  const keys = Array.from({ length: processCount }, (_, p) => doneKey(p));
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (await store.check(keys)) return;
    if (await store.check([ABORT_KEY])) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * One dump of every rank of this node (each worker's `ranks`, keyed by world rank, and its pid), beside
 * the workers' own; undefined when none could be read or it could not be written (the workers' stand).
 */
function mergeDumps(dir: string, names: readonly string[], nodeRank: number): string | undefined {
  const ranks: Record<string, unknown> = {};
  const processes: { pid: unknown; file: string; reason: unknown }[] = [];
  for (const name of names) {
    try {
      type Dump = { pid?: unknown; reason?: unknown; ranks?: Record<string, unknown> };
      const dump = JSON.parse(readFileSync(join(dir, name), 'utf8')) as Dump;
      Object.assign(ranks, dump.ranks ?? {});
      processes.push({ pid: dump.pid, file: name, reason: dump.reason });
    } catch {
      // A dump being written or unreadable: the list above still names it.
    }
  }
  if (processes.length === 0) return undefined;
  const path = join(dir, `multirank-flight-recorder-node${nodeRank}-${process.pid}.json`);
  try {
    writeFileSync(path, JSON.stringify({ version: '2.4', node: nodeRank, processes, ranks }));
    return path;
  } catch {
    return undefined;
  }
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir).filter((name) => /^multirank-flight-recorder-\d+-\d+\.json$/.test(name)).sort();
  } catch {
    return [];
  }
}

/** The CLI's entry file (this package's `multirank` command). */
export function cliEntry(): string {
  return fileURLToPath(entryFile('src/cli/main.js'));
}
