/**
 * The rank side of a job, in each worker thread: attach the arena and kernels once per thread, then for
 * each task set up the rank's context, import the rank module, run its entry, and report the outcome.
 * Failures are returned as data (not thrown) so that every field survives the trip to the driver.
 */
import { register } from 'node:module';
import { workerData } from 'node:worker_threads';
import * as Comlink from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { invalidType } from '../errors.js';
import { JobControl } from '../comm/job-control.js';
import type { RankContext } from '../comm/threads.js';
import { Arena } from '../shm/arena.js';
import { instantiateKernels, type Kernels } from '../shm/kernels.js';
import { spinIterationsFor } from '../shm/wait.js';
import { setDefaultArena } from '../tensor/storage.js';
import type { PoolWorkerData, RankTask } from './protocol.js';
import { RankState, type RankRecord } from '../debug/rank-status.js';
import { Chaos } from '../debug/chaos.js';
import { TraceRecorder, type TraceEvent } from '../debug/trace.js';
import { RpcServer } from './rpc-queue.js';
import { serializeError, type SerializedError } from './serialize-error.js';

interface ThreadState {
  arena: Arena;
  kernels: Kernels;
  typescriptHooks: boolean;
}

/** What the current rank of this thread knows (set while a task runs and until the next one). */
export interface RankEnvironment {
  readonly context: RankContext;
  readonly worldSize: number;
  readonly localRank: number;
  readonly localWorldSize: number;
}

let thread: ThreadState | undefined;
let current: RankEnvironment | undefined;

/** The rank of this thread, or undefined outside a multirank worker. */
export function currentRank(): RankEnvironment | undefined {
  return current;
}

function attach(): ThreadState {
  const data = (workerData as { workerData?: PoolWorkerData } | PoolWorkerData | undefined);
  const pool = data !== undefined && 'memory' in data ? data : (data as { workerData?: PoolWorkerData } | undefined)?.workerData;
  if (pool === undefined) throw invalidType('workerData', 'the shared memory and kernels of a multirank pool', data);
  const arena = new Arena(pool.memory);
  return { arena, kernels: instantiateKernels(pool.memory, pool.kernelModule), typescriptHooks: false };
}

/** A rank's outcome, with its trace events and chaos schedule when those were on. */
export type RankOutcome = ({ ok: true; value: unknown } | { ok: false; error: SerializedError }) & {
  trace?: TraceEvent[] | undefined;
  chaosSchedule?: number[] | undefined;
};

/** Runs one rank of a job in this thread. */
export async function runRankTask(task: RankTask): Promise<RankOutcome> {
  thread ??= attach();
  const { arena, kernels } = thread;
  const job = new JobControl(arena, task.controlOffset);
  const record = job.record(task.rank);
  const trace = task.trace ? new TraceRecorder(task.rank) : undefined;
  const context: RankContext = {
    arena, kernels, job, rank: task.rank, timeoutMs: task.timeoutMs, spinIterations: spinIterationsFor(task.worldSize), record,
    chaos: task.chaos === undefined ? undefined : new Chaos(task.chaos, task.rank), trace, checkCalls: task.checkCalls,
  };
  record.setTimeOrigin();
  record.setState(RankState.RUNNING);
  current = { context, worldSize: task.worldSize, localRank: task.localRank, localWorldSize: task.localWorldSize };
  // Shared tensors belong to this job: freed with it, unusable after it (tensor/storage.ts). The port
  // closes when the driver closes the job; the next job in this thread ends it at the latest.
  const scope = { owner: job.owner, ended: false };
  setDefaultArena(arena, scope);
  task.port.once('close', () => void (scope.ended = true));
  // This thread's own copy of the environment (worker threads do not share process.env).
  Object.assign(process.env, task.env, {
    RANK: String(task.rank), LOCAL_RANK: String(task.localRank), WORLD_SIZE: String(task.worldSize),
    LOCAL_WORLD_SIZE: String(task.localWorldSize),
  });
  if (task.outputPrefix) prefixOutput(`[rank ${task.rank}] `);
  try {
    if (/\.(ts|mts|cts)$/.test(task.moduleUrl) && !thread.typescriptHooks) {
      register(new URL('./ts-hooks.js', import.meta.url));
      thread.typescriptHooks = true;
    }
    const module = (await import(task.moduleUrl)) as Record<string, unknown>;
    let entryRunning = true;
    serveRpc(task, module, record, arena, job, () => entryRunning);
    const name = task.exportName ?? 'default';
    const entry = module[name];
    if (typeof entry !== 'function') throw invalidType(`the export \`${name}\` of ${task.moduleUrl}`, 'a function (the rank entry)', entry);
    const value = await (entry as (info: unknown) => unknown)({ rank: task.rank, worldSize: task.worldSize, localRank: task.localRank, args: task.args });
    entryRunning = false;
    record.recordIdle();
    record.setState(RankState.RETURNED);
    return { ok: true, value, trace: trace?.events, chaosSchedule: context.chaos?.schedule };
  } catch (error) {
    record.setState(RankState.FAILED);
    const serialized = serializeError(error);
    job.fail(task.rank, `${serialized.name}: ${serialized.message}\n${serialized.stack ?? ''}`);
    return { ok: false, error: serialized, trace: trace?.events, chaosSchedule: context.chaos?.schedule };
  }
}

/** Exposes the rank module's exports to the driver (`job.rank(i).call(name, ...args)`). */
function serveRpc(
  task: RankTask, module: Record<string, unknown>, record: RankRecord, arena: Arena, job: JobControl, entryRunning: () => boolean,
): void {
  let server: RpcServer | undefined;
  let active = 0;
  const api = {
    /** `job.collectiveRpc`: runs queued call `id` (and any before it) from the driver's queue. */
    runQueued(id: number): Promise<unknown> {
      // A failed job fails its later calls too (the abort word), as every other wait of the rank does.
      const options = { timeoutMs: task.timeoutMs, spinIterations: 0, abort: job.abortWord };
      server ??= new RpcServer(arena, task.rpcQueue, task.rank, options, (name, args) => api.call(name, args), record);
      return server.run(id);
    },
    async call(name: string, args: unknown[]): Promise<unknown> {
      const fn = module[name];
      if (typeof fn !== 'function') throw invalidType(`the export \`${name}\` of rank ${task.rank}'s module`, 'a function', fn);
      record.setState(RankState.RUNNING);
      active++;
      try {
        return await (fn as (...a: unknown[]) => unknown)(...args);
      } catch (error) {
        if (error instanceof Error) error.message = `Rank ${task.rank}: ${error.message}`;
        throw error;
      } finally {
        // The rank is idle again only when no other call runs and its entry function has returned.
        if (--active === 0 && !entryRunning()) record.setState(RankState.RETURNED);
      }
    },
  };
  Comlink.expose(api, nodeEndpoint(task.port as never));
}

const originalWrites = new Map<NodeJS.WriteStream, NodeJS.WriteStream['write']>();

/** Prefixes every line this thread writes to stdout/stderr (the CLI tells ranks apart this way). */
function prefixOutput(prefix: string): void {
  for (const stream of [process.stdout, process.stderr]) {
    if (!originalWrites.has(stream)) originalWrites.set(stream, stream.write.bind(stream));
    const write = originalWrites.get(stream)!;
    let atLineStart = true;
    stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      const lines = text.split('\n');
      const prefixed = lines.map((line, i) => ((i === 0 ? atLineStart : true) && (line !== '' || i < lines.length - 1) ? prefix + line : line)).join('\n');
      atLineStart = text.endsWith('\n');
      return (write as (...a: unknown[]) => boolean)(prefixed, ...rest);
    }) as NodeJS.WriteStream['write'];
  }
}
