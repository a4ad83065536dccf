/**
 * The rank side of a job, in each worker thread: attach the arena and kernels once per thread, then for
 * each task set up the rank's context, import the rank module, run its entry, and report the outcome.
 * Failures are returned as data (not thrown) so that every field survives the trip to the driver.
 */
import { register } from 'node:module';
import { workerData } from 'node:worker_threads';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { invalidType } from '../errors.js';
import { JobControl } from '../comm/threads/job-control.js';
import { Arena } from '../shm/arena.js';
import { instantiateKernels, type Kernels } from '../shm/kernels.js';
import { setDefaultArena } from '../tensor/storage.js';
import type { PoolWorkerData, RankTask } from './protocol.js';
import { RankState } from '../debug/rank-status.js';
import { Chaos } from '../debug/chaos.js';
import { TraceRecorder, type TraceEvent } from '../debug/trace.js';
import { serveRpc } from './rank-rpc.js';
import { buildRankContexts } from './rank-context.js';
import { StoreLink } from '../comm/store-link.js';
import { setCurrentRank, type RankEnvironment } from '../state/current-rank.js';
import { serializeError, type SerializedError } from './serialize-error.js';
import { encodeResult, type EncodedResult } from './result-codec.js';
import { environmentSnapshot, flushOutput, JobScope, prefixOutput, setEnvironment } from './rank-scope.js';

interface ThreadState {
  arena: Arena;
  kernels: Kernels;
  typescriptHooks: boolean;
}

let thread: ThreadState | undefined;

function attach(): ThreadState {
  const data = workerData as { workerData?: PoolWorkerData } | PoolWorkerData | undefined;
  const pool = data !== undefined && 'memory' in data ? data : data?.workerData;
  if (pool === undefined) throw invalidType('workerData', 'the shared memory and kernels of a pool', data);
  const arena = new Arena(pool.memory);
  return { arena, kernels: instantiateKernels(pool.memory, pool.kernelModule), typescriptHooks: false };
}

/**
 * Everything a thread can do before its first task: attach the arena and kernels, and load the package's
 * main entry point, which rank modules import (a standby thread does this while it waits for its job).
 */
export async function prepareThread(): Promise<void> {
  thread ??= attach();
  await import('../index.js');
}

/** A rank's outcome, with its trace events and chaos schedule when those were on. */
export type RankOutcome = ({ ok: true; value: EncodedResult } | { ok: false; error: SerializedError }) & {
  trace?: TraceEvent[] | undefined;
  chaosSchedule?: number[] | undefined;
};

/** The job this thread runs now: its changes to the thread's globals, undone when the job ends. */
let scope: JobScope | undefined;

/** Puts this thread back as it was before the current job (its environment, output, rank context). */
function endJob(): void {
  const ending = scope;
  scope = undefined;
  ending?.end();
}

/** Installs what a job sees in this thread: its rank, its arena, its environment, its output prefix. */
function beginJob(task: RankTask, environment: RankEnvironment, arena: Arena, owner: number): void {
  const job = (scope = new JobScope());
  job.change(() => setCurrentRank(environment), () => setCurrentRank(undefined));
  // Shared tensors belong to this job: tagged with its owner, freed with it, unusable after it (tensor/storage.ts).
  const tensors = { owner, ended: false };
  job.change(() => setDefaultArena(arena, tensors), () => {
    tensors.ended = true;
    setDefaultArena(undefined);
  });
  const saved = environmentSnapshot();
  const env = {
    ...task.env, RANK: String(task.rank), LOCAL_RANK: String(task.localRank), WORLD_SIZE: String(task.worldSize),
    LOCAL_WORLD_SIZE: String(task.localWorldSize),
  };
  job.change(() => setEnvironment(env), () => setEnvironment(saved));
  let restoreOutput = (): void => undefined;
  const prefix = `[rank ${task.rank}] `;
  if (task.outputPrefix) job.change(() => (restoreOutput = prefixOutput(prefix)), () => restoreOutput());
  // The driver closes the job's port when the job ends; the rank's module may still be called until then.
  task.port.once('close', () => {
    if (scope === job) endJob();
    else job.end();
  });
}

/** Runs one rank of a job in this thread. */
export async function runRankTask(task: RankTask): Promise<unknown> {
  // The previous job's port may close after this task arrived (the two travel apart): end it first.
  endJob();
  thread ??= attach();
  const { arena, kernels } = thread;
  const job = new JobControl(arena, task.controlOffset);
  const record = job.record(task.rank);
  const trace = task.trace ? new TraceRecorder(task.rank) : undefined;
  const { rank, worldSize, localRank, localWorldSize } = task;
  const chaos = task.chaos === undefined ? undefined : new Chaos(task.chaos, rank);
  const processWorld = Object.freeze(task.processWorld);
  const { threads, comm: context } = buildRankContexts({
    arena, kernels, job, record, rank, worldSize, timeoutMs: task.timeoutMs, checkCalls: task.checkCalls, chaos, trace,
    processWorld, storeLink: task.storeLink === undefined ? undefined : new StoreLink(task.storeLink, job.abortWord),
  });
  record.setTimeOrigin();
  record.setState(RankState.RUNNING);
  beginJob(task, { context, threads, worldSize, localRank, localWorldSize }, arena, job.owner);
  let outcome: RankOutcome | undefined;
  let transfer: ArrayBuffer[] = [];
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
    if (typeof entry !== 'function') {
      throw invalidType(`the export \`${name}\` of ${task.moduleUrl}`, 'a function (the rank entry)', entry);
    }
    const value = await (entry as (info: unknown) => unknown)({ rank, worldSize, localRank, args: task.args });
    entryRunning = false;
    const result = encodeResult(value, `the value rank ${rank}'s entry returned`);
    transfer = result.transfer;
    record.recordIdle();
    record.setState(RankState.RETURNED);
    outcome = { ok: true, value: result.encoded, trace: trace?.events, chaosSchedule: chaos?.schedule };
  } catch (error) {
    record.setState(RankState.FAILED);
    const serialized = serializeError(error);
    job.fail(rank, `${serialized.name}: ${serialized.message}\n${serialized.stack ?? ''}`);
    outcome = { ok: false, error: serialized, trace: trace?.events, chaosSchedule: chaos?.schedule };
  } finally {
    // A failed rank is done with its job: nothing of it may reach the next job on this thread.
    if (outcome?.ok !== true) endJob();
  }
  // The thread may be terminated as soon as the job closes: its output must have reached the driver.
  await flushOutput();
  // The result's copies are this thread's own: transfer them rather than copy them once more.
  if (transfer.length === 0) return outcome;
  return move({ [transferableSymbol]: transfer, [valueSymbol]: outcome } as never);
}
