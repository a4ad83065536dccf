/** `launch`: start a job of `worldSize` ranks, each a worker thread running the rank module. */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { checkInteger, checkTimeoutMs, invalidType, notSerializable } from '../errors.js';
import { JobControl } from '../comm/job-control.js';
import { timeoutFromEnv } from '../shm/wait.js';
import { Job } from './job.js';
import { chaosFromEnv, type ChaosOptions } from '../debug/chaos.js';
import { TRACE_ENV } from '../debug/trace.js';
import type { RankOutcome } from './rank-runtime.js';
import type { RankTask } from './protocol.js';
import { processRuntime } from './runtime.js';
import { arenaLockSettled } from '../shm/arena-recovery.js';
import { createRpcQueue } from './rpc-queue.js';

/** `0` turns the collective fingerprint checks off, to measure their cost (bench/fingerprint-cost). */
export const CHECK_CALLS_ENV = 'MULTIRANK_CHECK_CALLS';

export interface LaunchOptions {
  worldSize: number;
  /** The rank module: a file URL, a URL object, or a path (relative to the working directory). */
  module: URL | string;
  /** The export each rank calls (default: the default export). */
  exportName?: string;
  /** Passed to every rank's entry as `args`. Must be structured-cloneable. */
  args?: unknown;
  /** Extra environment variables for every rank. */
  env?: Record<string, string>;
  /** Ranks per "node" for LOCAL_RANK (default: worldSize, one node). */
  localWorldSize?: number;
  /** Deadline of every blocking wait in ms (default MULTIRANK_TIMEOUT_MS, else 300 000). */
  timeoutMs?: number;
  /** Maximum size of the process-wide arena (only when this launch creates it). */
  arenaMaxBytes?: number;
  /** Prefix every line a rank prints with `[rank N] ` (default false). */
  outputPrefix?: boolean;
  /** Chaos mode: seeded delays before collectives, optional injected failure (default from MULTIRANK_CHAOS_SEED). */
  chaos?: ChaosOptions;
  /** Write a Chrome/Perfetto trace of every rank's collectives to this file (default from MULTIRANK_TRACE). */
  tracePath?: string;
  /** Collective fingerprint checks (default on; MULTIRANK_CHECK_CALLS=0 turns them off to measure their cost). */
  checkCalls?: boolean;
}

function moduleUrl(module: unknown): string {
  if (module instanceof URL) return module.href;
  if (typeof module !== 'string' || module === '') throw invalidType('options.module', 'a URL or a file path', module);
  if (module.startsWith('file:')) return module;
  return pathToFileURL(isAbsolute(module) ? module : resolve(module)).href;
}

function checkEnv(env: unknown): Record<string, string> {
  if (env === undefined) return {};
  if (typeof env !== 'object' || env === null) throw invalidType('options.env', 'an object of strings', env);
  for (const [key, value] of Object.entries(env)) if (typeof value !== 'string') throw invalidType(`options.env.${key}`, 'a string', value);
  return env as Record<string, string>;
}

/** `args` travel to every rank by structured clone: refuse what cannot before any rank starts. */
function checkCloneable(args: unknown): void {
  try {
    structuredClone(args);
  } catch (error) {
    throw notSerializable('options.args', args, error);
  }
}

/**
 * Starts the job and returns it once every rank's task was posted.
 * @throws TypeError/RangeError (ERR_MULTIRANK_INVALID_ARG_TYPE / _OUT_OF_RANGE) on bad options, MultirankError
 *   (ERR_MULTIRANK_NOT_SERIALIZABLE) for `args` that cannot be cloned.
 */
export async function launch(options: LaunchOptions): Promise<Job> {
  if (typeof options !== 'object' || options === null) throw invalidType('options', 'an object', options);
  const worldSize = checkInteger('options.worldSize', options.worldSize, 1, 4096);
  const url = moduleUrl(options.module);
  const localWorldSize = checkInteger('options.localWorldSize', options.localWorldSize ?? worldSize, 1, worldSize);
  const timeoutMs = checkTimeoutMs('options.timeoutMs', options.timeoutMs ?? timeoutFromEnv());
  const env = checkEnv(options.env);
  checkCloneable(options.args);
  const chaos = options.chaos ?? chaosFromEnv();
  const tracePath = options.tracePath ?? (process.env[TRACE_ENV] || undefined);
  const checkCalls = options.checkCalls ?? process.env[CHECK_CALLS_ENV] !== '0';
  const runtime = processRuntime(options.arenaMaxBytes === undefined ? {} : { maxBytes: options.arenaMaxBytes });
  await arenaLockSettled(runtime.arena); // see arena-recovery.ts: a terminated rank's exit must be seen first
  const control = JobControl.create(runtime.arena, worldSize);
  const lease = runtime.pools.acquire(worldSize);
  const rpc = createRpcQueue(runtime.arena, worldSize, { timeoutMs, spinIterations: 0, abort: control.abortWord });
  const abort = new AbortController();
  const ports: MessagePort[] = [];
  const tasks: Promise<RankOutcome>[] = [];
  for (let rank = 0; rank < worldSize; rank++) {
    const { port1, port2 } = new MessageChannel();
    port1.unref();
    ports.push(port1);
    const task: RankTask = {
      moduleUrl: url, exportName: options.exportName, rank, worldSize, localRank: rank % localWorldSize, localWorldSize,
      args: options.args, env, controlOffset: control.byteOffset, timeoutMs, outputPrefix: options.outputPrefix === true,
      chaos, trace: tracePath !== undefined, checkCalls, rpcQueue: rpc.place, port: port2,
    };
    tasks.push(lease.pool.run(task, { transferList: [port2], signal: abort.signal }) as Promise<RankOutcome>);
  }
  return new Job(worldSize, control, lease, ports, tasks, abort, rpc, tracePath);
}
