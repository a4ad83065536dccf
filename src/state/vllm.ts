/**
 * `multirank/vllm`: the module-level API of vLLM's `vllm/distributed/parallel_state.py` (and the tensor
 * parallel helpers of `communication_op.py`) in camelCase, working on the ParallelState of the rank that
 * calls it. Groups come from `planVllmGroups` (src/topology), created in upstream's order
 * tp, dcp, pcp, pp, dp, ep; the world group is the environment's.
 *
 *   initDistributedEnvironment()                     // the world group
 *   initializeModelParallel({ tensorModelParallelSize: 2, pipelineModelParallelSize: 2 })
 *   getTpGroup().allReduce(t); getPpGroup().isFirstRank; ...
 *   destroyModelParallel(); destroyDistributedEnvironment()
 */
import { checkInteger, invalidType, outOfRange } from '../errors.js';
import type { GroupCoordinator } from '../group/coordinator.js';
import { planVllmGroups, VLLM_KINDS, type VllmOptions } from '../topology/index.js';
import { distributedEnvironmentIsInitialized, getWorldGroup } from './environment.js';
import {
  checkBackend, currentOf, hasGroups, installPlan, newGroupOrThrow, requireEnvironment, requireGroup,
} from './front-end.js';
import { sameNodeFlags } from './same-node.js';
import {
  cleanupPatchedDistEnv, destroyPatchedModelParallel, patchTensorParallel, type TensorParallelPatch,
} from './tp-patch.js';

export { initDistributedEnvironment, destroyDistributedEnvironment, getWorldGroup } from './environment.js';
export type { InitDistributedOptions } from './environment.js';
export type { TensorParallelPatch } from './tp-patch.js';
export type { VllmOptions, VllmPlan } from '../topology/index.js';
export { TensorMetadata } from './vllm-metadata.js';
export {
  tensorModelParallelAllReduce, tensorModelParallelAllGather, tensorModelParallelReduceScatter,
  tensorModelParallelGather,
  broadcastTensorDict,
} from './vllm-communication.js';

/** `ensureModelParallelInitialized` options: tp and pp sizes are required, as upstream. */
export type VllmEnsureOptions = VllmOptions & { tensorModelParallelSize: number; pipelineModelParallelSize: number };

/**
 * Creates this rank's model-parallel groups (tp, dcp, pcp, pp, dp and, for MoE models, ep) as vLLM's
 * `initialize_model_parallel(tp, pp, pcp, dcp)`. Ranks are laid out as
 * `arange(worldSize).reshape(-1, dataParallelSize, pp, pcp, tp)`. Every rank of the job must call it.
 * @throws MultirankError ERR_MULTIRANK_NOT_INITIALIZED without a distributed environment.
 * @throws RangeError ERR_MULTIRANK_OUT_OF_RANGE for sizes vLLM rejects, or when already initialized.
 * @throws TypeError ERR_MULTIRANK_INVALID_ARG_TYPE / _VALUE for a bad option.
 */
export function initializeModelParallel(options: VllmOptions = {}): void {
  const state = requireEnvironment('the distributed environment');
  checkBackend(state, options?.backend);
  installPlan(state, 'vllm', VLLM_KINDS, planVllmGroups(state.worldSize, options));
}

/**
 * Initializes model parallelism when it is not, else checks that the tp, pp and pcp sizes match.
 * @throws RangeError ERR_MULTIRANK_OUT_OF_RANGE when the existing groups have other sizes.
 */
export function ensureModelParallelInitialized(options: VllmEnsureOptions): void {
  if (!modelParallelIsInitialized()) {
    initializeModelParallel(options);
    return;
  }
  const expect = (what: string, got: number, wanted: number) => {
    if (got !== wanted) {
      throw outOfRange(
        `${what} parallel group already initialized, but of unexpected size: got ${got}, wanted ${wanted}`,
      );
    }
  };
  expect('tensor', getTensorModelParallelWorldSize(), options.tensorModelParallelSize ?? 1);
  expect('pipeline', getPpGroup().worldSize, options.pipelineModelParallelSize ?? 1);
  expect('prefill context', getPcpGroup().worldSize, options.prefillContextModelParallelSize ?? 1);
}

/**
 * vLLM's `init_model_parallel_group`: this rank's group among `groupRanks` (lists of global ranks), for
 * example a tp group of another size to patch in. Every rank of the job must call it with the same lists.
 * @throws RangeError ERR_MULTIRANK_OUT_OF_RANGE when no list holds this rank.
 * @throws MultirankError ERR_MULTIRANK_NOT_INITIALIZED without a distributed environment.
 */
export function initModelParallelGroup(
  groupRanks: readonly (readonly number[])[],
  options: { groupName?: string; backend?: string | null } = {},
): GroupCoordinator {
  const state = requireEnvironment('the distributed environment');
  checkBackend(state, options?.backend);
  if (!Array.isArray(groupRanks)) throw invalidType('groupRanks', 'an array of arrays of ranks', groupRanks);
  return newGroupOrThrow(state, groupRanks, options.groupName ?? 'anonymous',
    () => `\`groupRanks\` (${JSON.stringify(groupRanks)}) holds no group with rank ${state.rank}`);
}

/**
 * vLLM's `init_world_group(ranks, local_rank, backend)`: a group named "world" (unique name `world:<n>`)
 * of `ranks`, which must hold this rank; the caller owns it (initDistributedEnvironment makes the
 * environment's own world group). Every rank in `ranks` must call it.
 * @throws RangeError ERR_MULTIRANK_OUT_OF_RANGE when `ranks` does not hold this rank.
 * @throws TypeError for bad ranks or a bad localRank; MultirankError ERR_MULTIRANK_BACKEND_UNAVAILABLE
 *   for another backend than the environment's.
 * @throws MultirankError ERR_MULTIRANK_NOT_INITIALIZED without a distributed environment.
 */
export function initWorldGroup(ranks: readonly number[], localRank: number, backend?: string | null): GroupCoordinator {
  const state = requireEnvironment('the distributed environment');
  checkBackend(state, backend);
  if (!Array.isArray(ranks)) throw invalidType('ranks', 'an array of ranks', ranks);
  const local = checkInteger('localRank', localRank, 0);
  const absent = () => `\`ranks\` (${JSON.stringify(ranks)}) does not hold rank ${state.rank}`;
  return newGroupOrThrow(state, [ranks], 'world', absent, local);
}

/** True when this rank's tp and pp groups exist (vLLM's check). */
export function modelParallelIsInitialized(): boolean {
  return hasGroups('vllm', ['tp', 'pp']);
}

/** This rank's tensor-parallel group (the patched one while a patch is live). @throws ERR_MULTIRANK_NOT_INITIALIZED */
export function getTpGroup(): GroupCoordinator {
  return requireGroup('vllm', 'tp', 'tensor model parallel group');
}
/** Kept for backward compatibility upstream: {@link getTpGroup}. */
export const getTensorModelParallelGroup = getTpGroup;

/** This rank's decode-context-parallel group. @throws ERR_MULTIRANK_NOT_INITIALIZED */
export function getDcpGroup(): GroupCoordinator {
  return requireGroup('vllm', 'dcp', 'decode context model parallel group');
}
/** Kept for backward compatibility upstream: {@link getDcpGroup}. */
export const getContextModelParallelGroup = getDcpGroup;

/** This rank's pipeline-parallel group. @throws ERR_MULTIRANK_NOT_INITIALIZED */
export function getPpGroup(): GroupCoordinator {
  return requireGroup('vllm', 'pp', 'pipeline model parallel group');
}
/** Kept for backward compatibility upstream: {@link getPpGroup}. */
export const getPipelineModelParallelGroup = getPpGroup;

/** This rank's data-parallel group. @throws ERR_MULTIRANK_NOT_INITIALIZED */
export function getDpGroup(): GroupCoordinator {
  return requireGroup('vllm', 'dp', 'data parallel group');
}

/** This rank's expert-parallel group (MoE models only). @throws ERR_MULTIRANK_NOT_INITIALIZED */
export function getEpGroup(): GroupCoordinator {
  return requireGroup('vllm', 'ep', 'expert parallel group',
    'the EP group is only created for MoE models (initializeModelParallel was called with isMoe: false); call this ' +
      'only for MoE models');
}

/** This rank's prefill-context-parallel group. @throws ERR_MULTIRANK_NOT_INITIALIZED */
export function getPcpGroup(): GroupCoordinator {
  return requireGroup('vllm', 'pcp', 'prefill context parallel group');
}

/** The model-parallel groups that exist on this rank, in upstream's order: tp, pp, dcp, dp, ep, pcp. */
export function getAllModelGroups(): GroupCoordinator[] {
  const groups = currentOf('vllm')?.state.groups;
  if (groups === undefined) return [];
  return ['tp', 'pp', 'dcp', 'dp', 'ep', 'pcp'].flatMap((kind) => groups.get(kind) ?? []);
}

/** World size of the tp group. @throws ERR_MULTIRANK_NOT_INITIALIZED */
export function getTensorModelParallelWorldSize(): number { return getTpGroup().worldSize; }
/** This rank's index in its tp group. @throws ERR_MULTIRANK_NOT_INITIALIZED */
export function getTensorModelParallelRank(): number { return getTpGroup().rankInGroup; }
/** World size of the pp group. @throws ERR_MULTIRANK_NOT_INITIALIZED */
export function getPipelineModelParallelWorldSize(): number { return getPpGroup().worldSize; }
/** This rank's index in its pp group. @throws ERR_MULTIRANK_NOT_INITIALIZED */
export function getPipelineModelParallelRank(): number { return getPpGroup().rankInGroup; }
/** World size of the dcp group. @throws ERR_MULTIRANK_NOT_INITIALIZED */
export function getDecodeContextModelParallelWorldSize(): number { return getDcpGroup().worldSize; }
/** This rank's index in its dcp group. @throws ERR_MULTIRANK_NOT_INITIALIZED */
export function getDecodeContextModelParallelRank(): number { return getDcpGroup().rankInGroup; }

/** Number of nodes of the job: 1, as every rank is a thread of this process. @throws ERR_MULTIRANK_NOT_INITIALIZED */
export function getNodeCount(): number {
  requireEnvironment('the distributed environment');
  return 1;
}

/** Whether this is global rank 0 (true without a distributed environment, as upstream). */
export function isGlobalFirstRank(): boolean {
  return !distributedEnvironmentIsInitialized() || getWorldGroup().isFirstRank;
}

/** Whether this rank's local rank is 0 (true without a distributed environment, as upstream). */
export function isLocalFirstRank(): boolean {
  return !distributedEnvironmentIsInitialized() || getWorldGroup().localRank === 0;
}

/**
 * Swaps this rank's tp group for `tpGroup` (speculative-decoding draft workers). With `fn`, runs it and
 * restores the tp group when it returns, throws or its promise settles; without, returns the patch
 * (`restore()`, `[Symbol.dispose]()`).
 * @throws TypeError ERR_MULTIRANK_INVALID_ARG_TYPE when `tpGroup` is not a GroupCoordinator.
 * @throws RangeError ERR_MULTIRANK_OUT_OF_RANGE when a patch is already live.
 * @throws MultirankError ERR_MULTIRANK_NOT_INITIALIZED before initializeModelParallel().
 */
export function patchTensorParallelGroup(tpGroup: GroupCoordinator): TensorParallelPatch;
export function patchTensorParallelGroup<T>(tpGroup: GroupCoordinator, fn: () => T): T;
export function patchTensorParallelGroup<T>(tpGroup: GroupCoordinator, fn?: () => T): T | TensorParallelPatch {
  return patchTensorParallel('vllm', tpGroup, fn);
}

/** Destroys this rank's model-parallel groups (the world group stays). A no-op when there are none. */
export function destroyModelParallel(): void {
  destroyPatchedModelParallel('vllm');
}

/** Destroys the model-parallel groups and the distributed environment of this rank. */
export function cleanupDistEnvAndMemory(): void {
  cleanupPatchedDistEnv('vllm');
}

/**
 * Collective over `group`: for each member, whether it is on the same node as member `sourceRank`.
 * @throws TypeError / RangeError for a bad group or sourceRank.
 */
export function inTheSameNodeAs(group: GroupCoordinator, sourceRank = 0): boolean[] {
  return sameNodeFlags(group, sourceRank);
}
