/**
 * The rank side of a job, in each worker thread: attach the arena and kernels once per thread, then for
 * each task set up the rank's context, import the rank module, run its entry, and report the outcome.
 * Failures are returned as data (not thrown) so that every field survives the trip to the driver.
 */
import { workerData } from 'node:worker_threads';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { invalidType } from '../errors.js';
import { JobControl } from '../comm/threads/job-control.js';
import { Arena } from '../shm/arena.js';
import { instantiateKernels, type Kernels } from '../shm/kernels.js';
import { setThreadYield, waitYieldFromEnv } from '../shm/wait.js';
import { tryNativeAddon } from '../native/addon.js';
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
import { afterRejectionsReported, catchLostRejections, routeLostRejections } from './lost-rejections.js';
import { endTypeScriptJob, serveTypeScript } from './ts-relay.js';

interface ThreadState {
  arena: Arena;
  kernels: Kernels;
}

let thread: ThreadState | undefined;

function attach(): ThreadState {
  const data = workerData as { workerData?: PoolWorkerData } | PoolWorkerData | undefined;
  const pool = data !== undefined && 'memory' in data ? data : data?.workerData;
  if (pool === undefined) throw invalidType('workerData', 'the shared memory and kernels of a pool', data);
  const arena = new Arena(pool.memory);
  // Waits poll with yields of the core before they sleep (shm/wait.ts), where the addon is built.
  setThreadYield(waitYieldFromEnv(process.env) ? tryNativeAddon()?.yieldThread : undefined);
  return { arena, kernels: instantiateKernels(pool.memory, pool.kernelModule) };
}

/**
 * Everything a thread can do before its first task: attach the arena and kernels, and load the package's
 * main entry point, which rank modules import (a standby thread does this while it waits for its job).
 */
export async function prepareThread(): Promise<void> {
  thread ??= attach();
  catchLostRejections();
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

/**
 * Installs what a job sees in this thread: its rank, its arena, its environment, its output prefix, and
 * where a promise rejection that nobody handled goes (`onLost`: it fails this rank).
 */
function beginJob(
  task: RankTask, environment: RankEnvironment, arena: Arena, owner: number, onLost: (error: SerializedError) => void,
): void {
  const job = (scope = new JobScope());
  job.change(() => routeLostRejections(onLost), () => routeLostRejections(undefined));
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
  const sources = task.sources;
  if (sources !== undefined) {
    // A TypeScript job: its modules come from the driver, and stack traces name their .ts lines.
    const mapped = (process as { sourceMapsEnabled?: boolean }).sourceMapsEnabled ?? false;
    job.change(() => process.setSourceMapsEnabled(true), () => process.setSourceMapsEnabled(mapped));
    job.change(() => serveTypeScript(sources), () => endTypeScriptJob(sources));
  }
  // The driver closes the job's port when the job ends; the rank's module may still be called until then.
  task.port.once('close', () => {
    if (scope === job) endJob();
    else job.end();
  });
}

/** The error for an export that is not a function: it names the exports the module does have. */
function notAnEntry(name: string, moduleUrl: string, module: Record<string, unknown>, entry: unknown): TypeError {
  const error = invalidType(`the export "${name}" of ${moduleUrl}`, 'a function (the rank entry)', entry);
  const functions = Object.keys(module).filter((key) => typeof module[key] === 'function');
  const others = Object.keys(module).filter((key) => typeof module[key] !== 'function');
  error.message += functions.length === 0
    ? `; the module exports no function${others.length === 0 ? '' : ` (its exports: ${others.join(', ')})`}`
    : `; the module's functions: ${functions.join(', ')} (name one with exportName, or --export NAME)` +
      (others.length === 0 ? '' : `; its other exports: ${others.join(', ')}`);
  return error;
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
  // A rejection nobody handled fails this rank: at once (its peers' waits are released, as for a throw),
  // and its outcome, should the entry still return; after the rank reported, it still fails the job.
  let lost: SerializedError | undefined;
  const fail = (error: SerializedError): void => {
    job.fail(rank, `${error.name}: ${error.message}\n${error.stack ?? ''}`);
  };
  const onLost = (error: SerializedError): void => {
    lost ??= error;
    fail(error);
  };
  beginJob(task, { context, threads, worldSize, localRank, localWorldSize }, arena, job.owner, onLost);
  let outcome: RankOutcome | undefined;
  let transfer: ArrayBuffer[] = [];
  try {
    const module = (await import(task.moduleUrl)) as Record<string, unknown>;
    let entryRunning = true;
    serveRpc(task, module, record, arena, job, () => entryRunning);
    const name = task.exportName ?? 'default';
    const entry = module[name];
    if (typeof entry !== 'function') throw notAnEntry(name, task.moduleUrl, module, entry);
    const value = await (entry as (info: unknown) => unknown)({ rank, worldSize, localRank, args: task.args });
    entryRunning = false;
    await afterRejectionsReported(); // a promise the entry rejected and dropped is reported by now
    if (lost !== undefined) throw lost;
    const result = encodeResult(value, `the value rank ${rank}'s entry returned`);
    transfer = result.transfer;
    record.recordIdle();
    record.setState(RankState.RETURNED);
    outcome = { ok: true, value: result.encoded, trace: trace?.events, chaosSchedule: chaos?.schedule };
  } catch (error) {
    // When a rejection was lost, it is the cause (its job.fail released this rank's own waits too). The
    // failure is recorded before the state says FAILED: the watchdog must never see a failed rank whose
    // peers still wait for it without the abort that releases them (a starved thread can pause in between).
    const serialized = lost ?? serializeError(error);
    fail(serialized);
    record.setState(RankState.FAILED);
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
