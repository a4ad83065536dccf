/**
 * The distributed environment of the rank running in this thread: `initDistributedEnvironment` creates
 * its ParallelState (and the world group), `destroyDistributedEnvironment` ends it. Each worker thread
 * runs one rank at a time and has its own module instance, so the holder below is that rank's.
 */
import { checkInteger, ErrorCodes, invalidChoice, MultirankError, outOfRange } from '../errors.js';
import { currentRank, rankOfAnotherCopy } from './current-rank.js';
import type { GroupCoordinator } from '../group/coordinator.js';
import { BACKENDS, NOT_IN_THIS_BUILD, type Backend } from '../comm/backends.js';
import { mpiUnavailableFor } from '../comm/mpi-context.js';
import { ParallelState } from './parallel-state.js';
import { checkTimeout } from '../group/args.js';
import { setCurrentDevice } from '../tensor/device.js';
import { tcpInitUrl, type ProcessWorld } from '../comm/process-world.js';

export interface InitDistributedOptions {
  /** Must equal the job's world size when given (-1 or omitted: the job's). */
  worldSize?: number;
  /** Must equal this thread's rank when given (-1 or omitted: this thread's). */
  rank?: number;
  localRank?: number;
  backend?: Backend;
  /**
   * Default deadline of this rank's groups in ms (torch's `timeout`; default: the job's, MULTIRANK_TIMEOUT_MS).
   * To change it, destroy the environment and initialize it again, as torch tests do.
   */
  timeoutMs?: number;
  /**
   * torch's `init_method`: `env://` or `tcp://host:port`. The ranks of a job have met before their entry
   * runs (threads of one process through shared memory; the processes of a job of several through the
   * store that `multirank run --procs` / `--nnodes` / `--init-method` set up), so this is checked, not
   * acted on: a `tcp://` address must be the job's store, when the job has one.
   */
  initMethod?: string;
  /** vLLM's name for `initMethod` (`distributed_init_method`). */
  distributedInitMethod?: string;
}

const holder: { state: ParallelState | undefined } = { state: undefined };

/** Creates this rank's distributed environment (idempotent when called again with the same sizes). */
export function initDistributedEnvironment(options: InitDistributedOptions = {}): ParallelState {
  const env = currentRank();
  if (env === undefined) {
    const other = rankOfAnotherCopy();
    const why = other === undefined
      ? 'initDistributedEnvironment must run inside a rank of a multirank job ' +
        '(launch(), `multirank run`, or withRanks())'
      : `initDistributedEnvironment was called from a second copy of multirank (${import.meta.url}): ` +
        `this thread runs a rank of the copy at ${other}. Rank code must import the library the way ` +
        "the job was launched (the package name 'multirank'), so that both share one copy";
    throw new MultirankError(ErrorCodes.NOT_INITIALIZED, why);
  }
  const backend = options.backend ?? 'threads';
  if (!(BACKENDS as readonly string[]).includes(backend)) throw invalidChoice('options.backend', BACKENDS, backend);
  // mpi: its binding must be here, and the job's processes (if several) must be mpirun's.
  const missing = backend === 'mpi' ? mpiUnavailableFor(env.context.processWorld) : NOT_IN_THIS_BUILD[backend];
  if (missing !== undefined) {
    throw new MultirankError(ErrorCodes.BACKEND_UNAVAILABLE, `The "${backend}" backend is unavailable: ${missing}`);
  }
  const worldSize = options.worldSize === undefined || options.worldSize === -1
    ? env.worldSize
    : checkInteger('options.worldSize', options.worldSize, 1);
  const rank = options.rank === undefined || options.rank === -1
    ? env.context.rank
    : checkInteger('options.rank', options.rank, 0);
  if (worldSize !== env.worldSize) {
    throw outOfRange(`\`options.worldSize\` (${worldSize}) differs from the job's world size (${env.worldSize})`);
  }
  if (rank !== env.context.rank) {
    throw outOfRange(`\`options.rank\` (${rank}) differs from this thread's rank (${env.context.rank})`);
  }
  const localRank = options.localRank === undefined || options.localRank === -1
    ? env.localRank
    : checkInteger('options.localRank', options.localRank, 0);
  const timeoutMs = options.timeoutMs === undefined ? undefined : checkTimeout('options.timeoutMs', options.timeoutMs);
  checkInitMethod('options.initMethod', options.initMethod, env.context.processWorld);
  checkInitMethod('options.distributedInitMethod', options.distributedInitMethod, env.context.processWorld);
  if (holder.state !== undefined && holder.state.context === env.context) {
    if (holder.state.worldSize !== worldSize) {
      throw outOfRange(`The world group exists with ${holder.state.worldSize} ranks; got worldSize ${worldSize}`);
    }
    if (timeoutMs !== undefined && timeoutMs !== holder.state.timeoutMs) {
      throw outOfRange(
        `The environment exists with timeoutMs ${holder.state.timeoutMs}; got ${timeoutMs}: ` +
          'call destroyDistributedEnvironment() first',
      );
    }
    return holder.state;
  }
  holder.state = new ParallelState(env.context, worldSize, localRank, env.localWorldSize, backend, timeoutMs);
  // As vLLM's and Megatron's workers do (torch.cuda.set_device(local_rank)): a bare "cuda" / "npu" is this rank's.
  if (backend === 'nccl' || backend === 'hccl') setCurrentDevice(`${backend === 'nccl' ? 'cuda' : 'npu'}:${localRank}`);
  return holder.state;
}

/** This rank's ParallelState; throws when the environment was not initialised. */
export function getParallelState(): ParallelState {
  const state = holder.state;
  if (state === undefined || state.context !== currentRank()?.context) {
    throw new MultirankError(
      ErrorCodes.NOT_INITIALIZED,
      'The distributed environment is not initialized: call initDistributedEnvironment() first',
    );
  }
  return state;
}

/** True when this rank's distributed environment exists. */
export function distributedEnvironmentIsInitialized(): boolean {
  return holder.state !== undefined && holder.state.context === currentRank()?.context;
}

export function getWorldGroup(): GroupCoordinator {
  return getParallelState().world;
}

/** Destroys model-parallel groups and the world group of this rank. */
export function destroyDistributedEnvironment(): void {
  holder.state?.destroy();
  holder.state = undefined;
}

/** `env://` or `tcp://host:port` (torch's forms); a tcp:// address must be the job's store when it has one. */
function checkInitMethod(name: string, value: unknown, world: ProcessWorld): void {
  if (value === undefined || value === 'env://') return;
  const url = tcpInitUrl(value);
  if (url === undefined) throw invalidChoice(name, ['env://', 'tcp://host:port'], value);
  const store = world.storeAddress;
  if (store === undefined || Number(url.port) === store.port) return;
  throw outOfRange(
    `\`${name}\` (${value}) names another store than this job's (${store.host}:${store.port}): the processes of ` +
      'a job meet before their ranks start (multirank run --procs / --nnodes / --init-method)',
  );
}
