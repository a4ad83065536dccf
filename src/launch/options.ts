/**
 * launch()'s options and their checks. Every option is checked here, before launch takes a thread or a
 * byte of the arena: a launch that throws on a bad option must leave nothing behind.
 */
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { checkInteger, checkTimeoutMs, describe, invalidType, outOfRange } from '../errors.js';
import { DEFAULT_MAX_BYTES, HEADER_BYTES, PAGE_BYTES } from '../shm/arena.js';
import { timeoutFromEnv, waitYieldFromEnv } from '../shm/wait.js';
import { chaosFromEnv, type ChaosOptions } from '../debug/chaos.js';
import { TRACE_ENV } from '../debug/trace.js';
import { boolOr, checkOptionKeys } from '../topology/validate.js';
import { checkCloneable } from './result-codec.js';
import { fromBlocks, singleProcessWorld, type ProcessWorld } from '../comm/process-world.js';
import type { Store } from '../store/types.js';

/** `0` turns the collective fingerprint checks off, to measure their cost (bench/fingerprint-cost). */
export const CHECK_CALLS_ENV = 'MULTIRANK_CHECK_CALLS';

export interface LaunchOptions<Args = unknown> {
  worldSize: number;
  /** The rank module: a file URL, a URL object, or a path (relative to the working directory). */
  module: URL | string;
  /** The export each rank calls (default: the default export). */
  exportName?: string;
  /** Passed to every rank's entry as `args`. Must be structured-cloneable. */
  args?: Args;
  /**
   * Extra environment variables for every rank. A rank sees exactly the driver's environment at launch,
   * these, and RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE: nothing set by an earlier job.
   */
  env?: Record<string, string>;
  /** Ranks per "node" for LOCAL_RANK (default: worldSize, one node). */
  localWorldSize?: number;
  /** Deadline of every blocking wait in ms (default MULTIRANK_TIMEOUT_MS, else 300 000). */
  timeoutMs?: number;
  /** Maximum size of the process-wide arena (only when this launch creates it). */
  arenaMaxBytes?: number;
  /** Prefix every line a rank prints with `[rank N] ` (default false). */
  outputPrefix?: boolean;
  /** Chaos mode: seeded delays before collectives, maybe a failure (default: MULTIRANK_CHAOS_SEED). */
  chaos?: ChaosOptions;
  /** Write a Chrome/Perfetto trace of every rank's collectives to this file (default from MULTIRANK_TRACE). */
  tracePath?: string;
  /** Collective fingerprint checks (default on; MULTIRANK_CHECK_CALLS=0 turns them off, to measure their cost). */
  checkCalls?: boolean;
  /**
   * Keep module state from job to job (default false). By default every job runs on threads that never
   * ran user code, so the rank module and everything it imports start fresh, as in spawned processes.
   * With true, a job of the same size reuses the threads of an earlier `keepModuleState` job: module
   * globals (and the modules' import cache) carry over and launch is faster. The environment, the output
   * prefix and the rank's context are per job either way.
   */
  keepModuleState?: boolean;
  /**
   * The job's processes (comm/process-world.ts), when its ranks live in several: this process runs the
   * ranks of its own block, and `worldSize` must be the whole job's. Default: one process of `worldSize`
   * ranks. `multirank run --procs` / `--nnodes` make it from their rendezvous.
   */
  processWorld?: ProcessWorld;
  /**
   * The job's store (a TCPStore every process of the job reaches), required with a `processWorld` of
   * several processes: objects of groups that span processes and failures travel through it.
   */
  store?: Store;
}

export const LAUNCH_OPTION_KEYS: readonly (keyof LaunchOptions)[] = [
  'worldSize', 'module', 'exportName', 'args', 'env', 'localWorldSize', 'timeoutMs', 'arenaMaxBytes',
  'outputPrefix', 'chaos', 'tracePath', 'checkCalls', 'keepModuleState', 'processWorld', 'store',
];

/** The options once checked, with every default applied. */
export interface CheckedLaunch {
  readonly worldSize: number;
  readonly moduleUrl: string;
  readonly exportName: string | undefined;
  readonly args: unknown;
  /** The ranks' whole environment: the driver's at launch, then `options.env`. */
  readonly env: Record<string, string>;
  readonly localWorldSize: number;
  readonly timeoutMs: number;
  readonly arenaMaxBytes: number | undefined;
  readonly outputPrefix: boolean;
  readonly chaos: ChaosOptions | undefined;
  readonly tracePath: string | undefined;
  readonly checkCalls: boolean;
  readonly keepModuleState: boolean;
  readonly processWorld: ProcessWorld;
  readonly store: Store | undefined;
}

/**
 * Checks every option of `launch` and applies the defaults.
 * @throws TypeError/RangeError (ERR_MULTIRANK_INVALID_ARG_TYPE / _INVALID_ARG_VALUE / _OUT_OF_RANGE).
 */
export function checkLaunchOptions(options: unknown): CheckedLaunch {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw invalidType('options', 'an object', options);
  }
  const o = checkOptionKeys('options', options, LAUNCH_OPTION_KEYS);
  const worldSize = checkInteger('options.worldSize', o.worldSize, 1, 4096);
  const envTrace = process.env[TRACE_ENV];
  waitYieldFromEnv(); // rank threads read it when they start: a bad value fails the launch instead
  checkCloneable(o.args, (path) => `options.args${path}`);
  const processWorld = o.processWorld === undefined ? singleProcessWorld(worldSize)
    : checkProcessWorld(o.processWorld, worldSize);
  return {
    worldSize,
    moduleUrl: moduleUrl(o.module),
    exportName: optionalName('options.exportName', o.exportName, 'a non-empty string (an export of the module)'),
    args: o.args,
    env: { ...stringsOf(process.env), ...checkEnv(o.env) },
    localWorldSize: checkInteger('options.localWorldSize', o.localWorldSize ?? worldSize, 1, worldSize),
    timeoutMs: o.timeoutMs === undefined ? timeoutFromEnv() : checkTimeoutMs('options.timeoutMs', o.timeoutMs),
    arenaMaxBytes: o.arenaMaxBytes === undefined ? undefined : checkArenaMax(o.arenaMaxBytes),
    outputPrefix: boolOr('options.outputPrefix', o.outputPrefix, false),
    chaos: o.chaos === undefined ? chaosFromEnv() : checkChaos(o.chaos, worldSize),
    tracePath: optionalName('options.tracePath', o.tracePath, 'a non-empty file path') ?? (envTrace || undefined),
    checkCalls: boolOr('options.checkCalls', o.checkCalls, process.env[CHECK_CALLS_ENV] !== '0'),
    keepModuleState: boolOr('options.keepModuleState', o.keepModuleState, false),
    processWorld,
    store: checkStore(o.store, processWorld),
  };
}

function moduleUrl(module: unknown): string {
  if (module instanceof URL) return module.href;
  if (typeof module !== 'string' || module === '') {
    throw invalidType('options.module', 'a URL or a file path', module);
  }
  if (module.startsWith('file:')) return module;
  return pathToFileURL(isAbsolute(module) ? module : resolve(module)).href;
}

function optionalName(name: string, value: unknown, expected: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') throw invalidType(name, expected, value);
  return value;
}

function checkEnv(env: unknown): Record<string, string> {
  if (env === undefined) return {};
  if (typeof env !== 'object' || env === null) throw invalidType('options.env', 'an object of strings', env);
  for (const [key, value] of Object.entries(env)) {
    if (typeof value !== 'string') throw invalidType(`options.env.${key}`, 'a string', value);
  }
  return env as Record<string, string>;
}

/** process.env without the variables whose value is undefined (its type allows them). */
function stringsOf(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined) out[key] = value;
  return out;
}

function checkArenaMax(value: unknown): number {
  return checkInteger('options.arenaMaxBytes', value, HEADER_BYTES + PAGE_BYTES, DEFAULT_MAX_BYTES);
}

/** The chaos options: what Chaos reads, in the ranges where its schedule means something. */
function checkChaos(value: unknown, worldSize: number): ChaosOptions {
  const keys = ['seed', 'delayProbability', 'maxDelayMs', 'failRank', 'failAtCall'];
  const c = checkOptionKeys('options.chaos', value, keys) as Partial<Record<string, unknown>>;
  checkInteger('options.chaos.seed', c.seed, 0, 0xffffffff);
  numberIn('options.chaos.delayProbability', c.delayProbability, 1);
  numberIn('options.chaos.maxDelayMs', c.maxDelayMs, 60_000);
  if (c.failRank !== undefined) checkInteger('options.chaos.failRank', c.failRank, 0, worldSize - 1);
  if (c.failAtCall !== undefined) checkInteger('options.chaos.failAtCall', c.failAtCall, 1);
  return value as ChaosOptions;
}

/** An optional number in 0..max. */
function numberIn(name: string, value: unknown, max: number): void {
  if (value === undefined) return;
  if (typeof value !== 'number') throw invalidType(name, `a number in 0..${max}`, value);
  if (!(value >= 0 && value <= max)) {
    throw outOfRange(`Expected \`${name}\` to be a number in 0..${max}, got ${describe(value)}`);
  }
}

/** A given process world, rebuilt through `fromBlocks` (so its invariants hold) and matched to `worldSize`. */
function checkProcessWorld(value: unknown, worldSize: number): ProcessWorld {
  const w = checkOptionKeys('options.processWorld', value, [
    'kind', 'worldSize', 'processCount', 'processIndex', 'processStarts', 'processNodes', 'nodeCount', 'nodeRank',
    'storeAddress',
  ]) as Partial<ProcessWorld>;
  const starts = w.processStarts;
  if (!Array.isArray(starts) || starts.length < 2 || starts[0] !== 0) {
    throw invalidType('options.processWorld.processStarts', 'an array [0, ..., worldSize] of first ranks', starts);
  }
  const counts = starts.slice(1).map((end, p) => (end as number) - (starts[p] as number));
  const world = fromBlocks(w.kind ?? 'given', counts, w.processNodes ?? [], w.processIndex ?? -1, w.storeAddress);
  if (world.worldSize !== worldSize) {
    throw outOfRange(
      `\`options.processWorld\` holds ${world.worldSize} ranks, but \`options.worldSize\` is ${worldSize}: ` +
        'worldSize is the whole job\'s, all processes together',
    );
  }
  return world;
}

/** The job's store: required when the job spans processes (a Store: its methods are what is used). */
function checkStore(value: unknown, world: ProcessWorld): Store | undefined {
  if (value === undefined) {
    if (world.processCount === 1) return undefined;
    const expected = `the job's store (a TCPStore), since the job spans ${world.processCount} processes`;
    throw invalidType('options.store', expected, value);
  }
  const store = value as Partial<Store>;
  const isStore = typeof value === 'object' && value !== null && typeof store.get === 'function' &&
    typeof store.compareSet === 'function';
  if (!isStore) {
    throw invalidType('options.store', 'a Store (TCPStore, HashStore or PrefixStore)', value);
  }
  return value as Store;
}
