/**
 * `multirank/fastvideo`: the module-level API of FastVideo's `fastvideo/distributed/parallel_state.py`
 * in camelCase, working on the ParallelState of the rank that calls it. Groups come from
 * `planFastVideoGroups` (src/topology), created in upstream's order tp, sp, dp; the world group is the
 * environment's. Besides upstream's short getters (`getTpRank`, `getSpParallelRank`, `getDpWorldSize`,
 * ...) the long names (`getTensorModelParallelRank`, `getSequenceModelParallelRank`, ...) are offered.
 */
import { checkInteger, invalidType, outOfRange } from '../errors.js';
import type { GroupCoordinator } from '../group/coordinator.js';
import type { Device } from '../tensor/tensor.js';
import {
  initializeSequenceParallelGroup as planSequenceGroups, initializeTensorParallelGroup as planTensorGroups,
  FASTVIDEO_KINDS,
  planFastVideoGroups, type FastVideoOptions, type NamedGroups,
} from '../topology/index.js';
import { getWorldGroup, initDistributedEnvironment } from './environment.js';
import {
  checkBackend, hasGroups, installPlan, newGroupOrThrow, requireEnvironment, requireGroup,
} from './front-end.js';
import { sameNodeFlags, sameNodeRanks } from './same-node.js';
import {
  cleanupPatchedDistEnv, destroyPatchedModelParallel, patchGroup, type SequenceParallelPatch, type TensorParallelPatch,
} from './tp-patch.js';

export { initDistributedEnvironment, destroyDistributedEnvironment, getWorldGroup } from './environment.js';
export { DistributedAutograd, type Applied } from '../group/autograd.js';
export type { InitDistributedOptions } from './environment.js';
export type { TensorParallelPatch, SequenceParallelPatch } from './tp-patch.js';
export type { FastVideoOptions, FastVideoPlan } from '../topology/index.js';

/**
 * Creates this rank's tp, sp and dp groups as FastVideo's `initialize_model_parallel(tp, sp, dp)`: tp and
 * sp groups of consecutive ranks, dp groups `range(i, worldSize, sp)`. Every rank must call it.
 * @throws MultirankError ERR_MULTIRANK_NOT_INITIALIZED without a distributed environment.
 * @throws RangeError ERR_MULTIRANK_OUT_OF_RANGE for sizes FastVideo rejects, or when already initialized.
 */
export function initializeModelParallel(options: FastVideoOptions = {}): void {
  const state = requireEnvironment('the world group');
  checkBackend(state, options?.backend);
  installPlan(state, 'fastvideo', FASTVIDEO_KINDS, planFastVideoGroups(state.worldSize, options));
}

/** `ensureModelParallelInitialized` options: tp and sp sizes are required, as upstream. */
export type FastVideoEnsureOptions = FastVideoOptions & {
  tensorModelParallelSize: number;
  sequenceModelParallelSize: number;
};

/**
 * Initializes model parallelism when it is not, else checks the sizes of the groups that exist: the tp
 * size always, the sp size only when `sequenceModelParallelSize > 1` (FastVideo's
 * `ensure_model_parallel_initialized`, as it was defined until hao-ai-lab/FastVideo 46e7a15e; its module
 * docs still name it).
 * @throws RangeError ERR_MULTIRANK_OUT_OF_RANGE when the existing groups have other sizes.
 * @throws MultirankError ERR_MULTIRANK_NOT_INITIALIZED without a distributed environment.
 */
export function ensureModelParallelInitialized(options: FastVideoEnsureOptions): void {
  if (options === null || typeof options !== 'object') throw invalidType('options', 'an options object', options);
  checkBackend(requireEnvironment('the distributed environment'), options.backend);
  if (!modelParallelIsInitialized()) {
    initializeModelParallel(options);
    return;
  }
  const tp = checkInteger('options.tensorModelParallelSize', options.tensorModelParallelSize, 1);
  const sp = checkInteger('options.sequenceModelParallelSize', options.sequenceModelParallelSize, 1);
  const expect = (what: string, got: number, wanted: number) => {
    if (got === wanted) return;
    throw outOfRange(
      `${what} parallel group already initialized, but of unexpected size: got ${got}, wanted ${wanted}`,
    );
  };
  expect('tensor', getTpWorldSize(), tp);
  if (sp > 1) expect('sequence', getSpWorldSize(), sp);
}

/**
 * Creates the environment (when needed) and the model-parallel groups, or checks the sizes of the
 * groups that exist (FastVideo's `maybe_init_distributed_environment_and_model_parallel`).
 * @throws RangeError ERR_MULTIRANK_OUT_OF_RANGE when existing groups have other sizes.
 */
export function maybeInitDistributedEnvironmentAndModelParallel(options: { tpSize: number; spSize: number }): void {
  const { tpSize, spSize } = options;
  if (modelParallelIsInitialized()) {
    const have = [getTpWorldSize(), getSpWorldSize()];
    if (have[0] !== tpSize || have[1] !== spSize) {
      throw outOfRange(
        `You are trying to initialize model parallel groups with tp ${tpSize} and sp ${spSize}, but they are already ` +
          `initialized with tp ${have[0]} and sp ${have[1]}`,
      );
    }
    return;
  }
  initDistributedEnvironment();
  initializeModelParallel({ tensorModelParallelSize: tpSize, sequenceModelParallelSize: spSize });
}

/** True when this rank's tp, sp and dp groups exist. */
export function modelParallelIsInitialized(): boolean {
  return hasGroups('fastvideo', ['tp', 'sp', 'dp']);
}

/** This rank's tensor-parallel group (the patched one while a patch is live). @throws ERR_MULTIRANK_NOT_INITIALIZED */
export function getTpGroup(): GroupCoordinator {
  return requireGroup('fastvideo', 'tp', 'tensor model parallel group');
}
/** This rank's sequence-parallel group (the patched one while an sp patch is live). @throws NOT_INITIALIZED */
export function getSpGroup(): GroupCoordinator {
  return requireGroup('fastvideo', 'sp', 'sequence model parallel group');
}
/** This rank's data-parallel group. @throws ERR_MULTIRANK_NOT_INITIALIZED */
export function getDpGroup(): GroupCoordinator {
  return requireGroup('fastvideo', 'dp', 'data parallel group');
}

/** World size of the tp group. @throws ERR_MULTIRANK_NOT_INITIALIZED */
export function getTpWorldSize(): number { return getTpGroup().worldSize; }
/** This rank's index in its tp group. @throws ERR_MULTIRANK_NOT_INITIALIZED */
export function getTpRank(): number { return getTpGroup().rankInGroup; }
/** World size of the sp group. @throws ERR_MULTIRANK_NOT_INITIALIZED */
export function getSpWorldSize(): number { return getSpGroup().worldSize; }
/** This rank's index in its sp group. @throws ERR_MULTIRANK_NOT_INITIALIZED */
export function getSpParallelRank(): number { return getSpGroup().rankInGroup; }
/** World size of the dp group. @throws ERR_MULTIRANK_NOT_INITIALIZED */
export function getDpWorldSize(): number { return getDpGroup().worldSize; }
/** This rank's index in its dp group. @throws ERR_MULTIRANK_NOT_INITIALIZED */
export function getDpRank(): number { return getDpGroup().rankInGroup; }
/** World size of the world group. @throws ERR_MULTIRANK_NOT_INITIALIZED */
export function getWorldSize(): number { return getWorldGroup().worldSize; }
/** This rank's global rank. @throws ERR_MULTIRANK_NOT_INITIALIZED */
export function getWorldRank(): number { return getWorldGroup().rank; }

/** Long name of {@link getTpWorldSize}. */
export const getTensorModelParallelWorldSize = getTpWorldSize;
/** Long name of {@link getTpRank}. */
export const getTensorModelParallelRank = getTpRank;
/** Long name of {@link getSpWorldSize}. */
export const getSequenceModelParallelWorldSize = getSpWorldSize;
/** Long name of {@link getSpParallelRank}. */
export const getSequenceModelParallelRank = getSpParallelRank;
/** Long name of {@link getDpWorldSize}. */
export const getDataParallelWorldSize = getDpWorldSize;
/** Long name of {@link getDpRank}. */
export const getDataParallelRank = getDpRank;

/**
 * The device of this rank's tensors, as FastVideo's: `cuda:<localRank>` on nccl, `npu:<localRank>` on hccl,
 * `"cpu"` on threads. @throws ERR_MULTIRANK_NOT_INITIALIZED
 */
export function getLocalTorchDevice(): Device {
  const state = requireEnvironment('the distributed environment');
  if (state.backend === 'nccl') return `cuda:${state.localRank}`;
  if (state.backend === 'hccl') return `npu:${state.localRank}`;
  return 'cpu';
}

function namedGroup(named: NamedGroups): GroupCoordinator {
  const state = requireEnvironment('the distributed environment');
  return newGroupOrThrow(
    state, named.groups, named.groupName, () => `rank ${state.rank} is in no ${named.groupName} group`,
  );
}

/**
 * A tp group for one more model, named `"tp"` or `"tp_<groupNameSuffix>"`, to use with
 * patchTensorParallelGroup. The caller owns it (destroy it when done). Every rank must call it.
 * @throws RangeError ERR_MULTIRANK_OUT_OF_RANGE when the world size is not a multiple of the size.
 */
export function initializeTensorParallelGroup(
  options: { tensorModelParallelSize?: number; backend?: string | null; groupNameSuffix?: string } = {},
): GroupCoordinator {
  const state = requireEnvironment('the distributed environment');
  checkBackend(state, options?.backend);
  return namedGroup(planTensorGroups(state.worldSize, options));
}

/**
 * An sp group for one more model, named `"sp"` or `"sp_<groupNameSuffix>"`. The caller owns it.
 * @throws RangeError ERR_MULTIRANK_OUT_OF_RANGE when the world size is not a multiple of the size.
 */
export function initializeSequenceParallelGroup(
  options: { sequenceModelParallelSize?: number; backend?: string | null; groupNameSuffix?: string } = {},
): GroupCoordinator {
  const state = requireEnvironment('the distributed environment');
  checkBackend(state, options?.backend);
  return namedGroup(planSequenceGroups(state.worldSize, options));
}

/**
 * Swaps this rank's tp group for `tpGroup`; with `fn`, only while it runs (see vLLM's version).
 * @throws RangeError ERR_MULTIRANK_OUT_OF_RANGE when a patch is already live.
 * @throws MultirankError ERR_MULTIRANK_NOT_INITIALIZED before initializeModelParallel().
 */
export function patchTensorParallelGroup(tpGroup: GroupCoordinator): TensorParallelPatch;
export function patchTensorParallelGroup<T>(tpGroup: GroupCoordinator, fn: () => T): T;
export function patchTensorParallelGroup<T>(tpGroup: GroupCoordinator, fn?: () => T): T | TensorParallelPatch {
  return patchGroup('fastvideo', 'tp', tpGroup, fn);
}

/**
 * Swaps this rank's sp group for `spGroup` (for example one from initializeSequenceParallelGroup, for a
 * model with another sequence-parallel degree); with `fn`, only while it runs: restored when it returns,
 * throws or its promise settles. Without `fn`, returns the patch (`restore()`, `[Symbol.dispose]()`).
 * FastVideo's docs name this context manager beside `patch_tensor_parallel_group`.
 * @throws TypeError ERR_MULTIRANK_INVALID_ARG_TYPE when `spGroup` is not a GroupCoordinator.
 * @throws RangeError ERR_MULTIRANK_OUT_OF_RANGE when an sp patch is already live.
 * @throws MultirankError ERR_MULTIRANK_NOT_INITIALIZED before initializeModelParallel().
 */
export function patchSequenceParallelGroup(spGroup: GroupCoordinator): SequenceParallelPatch;
export function patchSequenceParallelGroup<T>(spGroup: GroupCoordinator, fn: () => T): T;
export function patchSequenceParallelGroup<T>(spGroup: GroupCoordinator, fn?: () => T): T | SequenceParallelPatch {
  return patchGroup('fastvideo', 'sp', spGroup, fn);
}

/** Destroys this rank's tp, sp and dp groups (the world group stays). A no-op when there are none. */
export function destroyModelParallel(): void {
  destroyPatchedModelParallel('fastvideo');
}

/** Destroys the model-parallel groups and the distributed environment of this rank. */
export function cleanupDistEnvAndMemory(): void {
  cleanupPatchedDistEnv('fastvideo');
}

/** Collective over `group`: for each member, whether it is on the same node as member `sourceRank`. */
export function isTheSameNodeAs(group: GroupCoordinator, sourceRank = 0): boolean[] {
  return sameNodeFlags(group, sourceRank);
}

/** Collective over `group`: the global ranks on the same node as member `sourceRank`. */
export function getSameNodeRanks(group: GroupCoordinator, sourceRank = 0): number[] {
  return sameNodeRanks(group, sourceRank);
}
