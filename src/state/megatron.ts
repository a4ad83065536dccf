/**
 * `multirank/megatron`: the module-level API of Megatron-LM's `megatron/core/parallel_state.py` in
 * camelCase, kept on the ParallelState of the rank that calls it instead of module globals. Every group
 * comes from `planMegatronGroups` (src/topology) and is created in upstream's order; each
 * GroupCoordinator holds its members sorted, as a torch ProcessGroup does, so group ranks are upstream's.
 *
 *   initDistributedEnvironment()
 *   initializeModelParallel({ tensorModelParallelSize: 2, pipelineModelParallelSize: 2 })
 *   getTensorModelParallelGroup().allReduce(t); isPipelineFirstStage(); getDataParallelRank(); ...
 *   destroyModelParallel()
 */
import { invalidType } from '../errors.js';
import type { GroupCoordinator } from '../group/coordinator.js';
import { planMegatronGroups, type MegatronOptions, type MegatronPlan } from '../topology/index.js';
import { hasGroups, installModelParallel, requireEnvironment, type GroupSpec } from './front-end.js';
import { GlobalMemoryBuffer } from './megatron-buffer.js';
import { addProcessGroups, megatronGlobals, resetMegatronGlobals } from './megatron-globals.js';
import { lookupGroup, megatronOrUndefined, type MegatronExtra } from './megatron-runtime.js';

export { initDistributedEnvironment, destroyDistributedEnvironment, getWorldGroup } from './environment.js';
export type { InitDistributedOptions } from './environment.js';
export {
  RankGenerator, generateMaskedOrthogonalRankGroups, createHierarchicalGroups, defaultEmbeddingRanks,
  defaultPositionEmbeddingRanks,
} from '../topology/index.js';
export type { MegatronOptions, MegatronPlan, EmbeddingRanksFn } from '../topology/index.js';
export {
  getModelParallelGroup, getTensorModelParallelGroup, getPipelineModelParallelGroup, getContextParallelGroup,
  getEmbeddingGroup, getPositionEmbeddingGroup, getTensorAndContextParallelGroup, getExpertModelParallelGroup,
  getExpertTensorParallelGroup, getExpertTensorAndModelParallelGroup, getExpertTensorModelPipelineParallelGroup,
  getIntraDistributedOptimizerInstanceGroup, getInterDistributedOptimizerInstanceGroup,
  getDataParallelGroup, getDataParallelGroupGloo, getExpertDataParallelGroup, getDataModuloExpertParallelGroup,
  getExpertDataParallelGroupGloo, getAmaxReductionGroup, getTensorAndDataParallelGroup,
  getHierarchicalContextParallelGroups, getHybridDataContextParallelGroups
} from './megatron-groups.js';
export type {
  GroupGetter, DataParallelOptions, ExpertDataParallelOptions, ExpertTpEpPpOptions,
} from './megatron-groups.js';
export {
  setTensorModelParallelWorldSize, setPipelineModelParallelWorldSize, setTensorModelParallelRank,
  setPipelineModelParallelRank, setDataParallelRank, setExpertModelParallelWorldSize, setExpertModelParallelRank,
  setExpertTensorParallelWorldSize, setExpertTensorParallelRank, getTensorModelParallelWorldSize,
  getPipelineModelParallelWorldSize, getTensorModelParallelRank, getPipelineModelParallelRank, isPipelineFirstStage,
  isPipelineLastStage, isRankInEmbeddingGroup, isRankInPositionEmbeddingGroup, getVirtualPipelineModelParallelRank,
  setVirtualPipelineModelParallelRank, getVirtualPipelineModelParallelWorldSize,
  setVirtualPipelineModelParallelWorldSize, getTensorModelParallelSrcRank, getModelParallelSrcRank,
  getDataParallelSrcRank, getPipelineModelParallelFirstRank, getPipelineModelParallelLastRank,
  getPipelineModelParallelNextRank, getPipelineModelParallelPrevRank, getDataParallelWorldSize, getDataParallelRank,
  getContextParallelWorldSize, getContextParallelRank, getContextParallelGlobalRanks,
  getTensorAndContextParallelWorldSize, getTensorAndContextParallelRank, getExpertModelParallelSrcRank,
  getExpertModelParallelWorldSize, getExpertModelParallelRank, getExpertTensorParallelWorldSize,
  getExpertTensorParallelRank, getExpertTensorAndModelParallelWorldSize, getExpertTensorAndModelParallelRank,
  getExpertDataParallelRank, getExpertDataParallelWorldSize, getAllRanks
} from './megatron-ranks.js';
export type { StageOptions } from './megatron-ranks.js';
export { GlobalMemoryBuffer, getGlobalMemoryBuffer, destroyGlobalMemoryBuffer } from './megatron-buffer.js';
export { ProcessGroupCollection, PROCESS_GROUP_COLLECTION_FIELDS } from './megatron-collection.js';
export type { ProcessGroupField, ProcessGroupFields } from './megatron-collection.js';
export { createAllGatherGroups, updatePgTimeout, getNcclOptions, overwriteNcclCommCfgs } from './megatron-comm.js';
export type { AllGatherGroupsOptions, NcclCommCfgs, NcclOptions } from './megatron-comm.js';

const LEVEL_KINDS = new Set(['hierarchicalCp', 'hybridDpCp']);

function sorted(ranks: readonly number[]): number[] {
  return [...ranks].sort((a, b) => a - b);
}

/**
 * Every group list of the plan in creation order; level kinds become `<kind>#<level>`, and each kind of
 * `plan.glooKinds` is followed by its gloo twins, `<kind>-gloo` (upstream makes each twin right after its
 * group; only groups with the same members must keep their relative order, and they do).
 */
function groupSpecs(plan: MegatronPlan): GroupSpec[] {
  const specs: GroupSpec[] = [];
  const gloo = new Set<string>(plan.glooKinds);
  for (const [kind, value] of Object.entries(plan.groups) as [string, number[][] | number[][][]][]) {
    if (LEVEL_KINDS.has(kind)) {
      (value as number[][][]).forEach((level, i) => specs.push({ kind: `${kind}#${i}`, groups: level.map(sorted) }));
    } else {
      specs.push({ kind, groups: (value as number[][]).map(sorted) });
      if (gloo.has(kind)) specs.push({ kind: `${kind}-gloo`, groups: (value as number[][]).map(sorted) });
    }
  }
  return specs;
}

/**
 * Creates this rank's model- and data-parallel groups as Megatron's `initialize_model_parallel(**options)`
 * (tp, pp, virtual pipeline, cp and hierarchical cp, ep, expert tp, distributed-optimizer instances,
 * order, embedding ranks, ...). Every rank of the job must call it with the same options.
 * @throws MultirankError ERR_MULTIRANK_NOT_INITIALIZED without a distributed environment.
 * @throws RangeError ERR_MULTIRANK_OUT_OF_RANGE for a configuration upstream rejects (the message names
 *   the sizes), or when model parallelism is already initialized.
 * @throws TypeError ERR_MULTIRANK_INVALID_ARG_TYPE / _VALUE for a bad option.
 */
export function initializeModelParallel(options: MegatronOptions = {}): void {
  const state = requireEnvironment('the distributed environment');
  const plan = planMegatronGroups(state.worldSize, options);
  const extra: MegatronExtra = {
    glooGroups: options?.createGlooProcessGroups ?? true,
    lists: plan.groupsOf(state.rank),
    globalMemoryBuffer: new GlobalMemoryBuffer(),
  };
  // Upstream passes timedelta(minutes=distributed_timeout_minutes) to every new_group.
  const minutes = options?.distributedTimeoutMinutes;
  installModelParallel(
    state, 'megatron', plan, groupSpecs(plan), extra, minutes === undefined ? state.timeoutMs : minutes * 60_000,
  );
  const globals = megatronGlobals('initializeModelParallel');
  // Upstream sets the virtual pipeline values only with a virtual pipeline (earlier set* values stay otherwise).
  if (plan.sizes.vpp !== null) {
    globals.virtualPipelineModelParallelRank = 0;
    globals.virtualPipelineModelParallelWorldSize = plan.sizes.vpp;
  }
  addProcessGroups(state.groups.values());
}

/** True once the data-parallel group exists (Megatron's `is_initialized`). */
export function isInitialized(): boolean {
  return lookupGroup('dp', 'data parallel group', undefined, false) !== undefined;
}

/** @deprecated upstream: use {@link isInitialized}. */
export function isUnitialized(): boolean {
  return !isInitialized();
}

/** True when this rank's tp, pp and dp groups exist. */
export function modelParallelIsInitialized(): boolean {
  return hasGroups('megatron', ['tp', 'pp', 'dp']);
}

/**
 * Megatron's `create_group`: a group of `ranks` (default: all), which every rank of the job must create
 * in the same order; undefined on ranks outside it.
 * @throws TypeError ERR_MULTIRANK_INVALID_ARG_TYPE when `ranks` is not an array of ranks.
 */
export function createGroup(
  ranks?: readonly number[] | null, options: { groupDesc?: string } = {},
): GroupCoordinator | undefined {
  const state = requireEnvironment('the distributed environment');
  const members = ranks ?? Array.from({ length: state.worldSize }, (_, r) => r);
  if (!Array.isArray(members)) throw invalidType('ranks', 'an array of ranks', ranks);
  const group = state.newGroup([sorted(members)], options.groupDesc ?? 'group');
  addProcessGroups([group]);
  return group;
}

/**
 * Destroys this rank's Megatron groups (their gloo twins included; the world group stays) and unsets
 * what upstream's `destroy_model_parallel` unsets: the tp / pp / expert overrides, the virtual pipeline
 * rank and size, the process-group list (the data-parallel rank override stays, as upstream).
 */
export function destroyModelParallel(): void {
  megatronOrUndefined()?.state.destroyModelParallel();
  resetMegatronGlobals();
}
