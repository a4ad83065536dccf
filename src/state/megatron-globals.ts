/**
 * Megatron's module globals that are not groups, one record per rank of a job: the values that
 * `set_*` overrides (`_MPU_*`), the virtual pipeline rank and size, and `_global_process_group_list`
 * (the groups `update_pg_timeout` changes). As upstream's globals, they exist before
 * `initialize_model_parallel` (and before the distributed environment): a `set*` call works at any time
 * inside a rank, and the getters read an override first. `destroyModelParallel()` resets what upstream's
 * `destroy_model_parallel` resets, which leaves the data-parallel rank override alone.
 */
import { ErrorCodes, MultirankError } from '../errors.js';
import type { CommContext } from '../comm/types.js';
import type { GroupCoordinator } from '../group/coordinator.js';
import { currentRank } from './current-rank.js';

/** Values set by `set*` and read before the groups (upstream's `_MPU_*` globals); null: not set. */
export interface MegatronOverrides {
  tensorModelParallelWorldSize: number | null;
  pipelineModelParallelWorldSize: number | null;
  tensorModelParallelRank: number | null;
  pipelineModelParallelRank: number | null;
  dataParallelRank: number | null;
  expertModelParallelWorldSize: number | null;
  expertModelParallelRank: number | null;
  expertTensorParallelWorldSize: number | null;
  expertTensorParallelRank: number | null;
}

/** One rank's Megatron globals. */
export interface MegatronGlobals {
  overrides: MegatronOverrides;
  virtualPipelineModelParallelRank: number | null;
  virtualPipelineModelParallelWorldSize: number | null;
  /**
   * `_global_process_group_list` less its first entry (None: the world group, read when it is used):
   * every group this rank made through Megatron (initializeModelParallel, createGroup,
   * createAllGatherGroups) since the last destroyModelParallel(); null before the first.
   */
  processGroups: GroupCoordinator[] | null;
}

function fresh(): MegatronGlobals {
  return {
    overrides: {
      tensorModelParallelWorldSize: null, pipelineModelParallelWorldSize: null, tensorModelParallelRank: null,
      pipelineModelParallelRank: null, dataParallelRank: null, expertModelParallelWorldSize: null,
      expertModelParallelRank: null, expertTensorParallelWorldSize: null, expertTensorParallelRank: null,
    },
    virtualPipelineModelParallelRank: null,
    virtualPipelineModelParallelWorldSize: null,
    processGroups: null,
  };
}

/** Records by rank context: a new job (a new context) starts with none set. */
const byContext = new WeakMap<CommContext, MegatronGlobals>();

/** This rank's globals, or undefined outside a rank of a job. */
export function megatronGlobalsOrUndefined(): MegatronGlobals | undefined {
  const context = currentRank()?.context;
  if (context === undefined) return undefined;
  let globals = byContext.get(context);
  if (globals === undefined) {
    globals = fresh();
    byContext.set(context, globals);
  }
  return globals;
}

/**
 * This rank's globals, for a setter named `what`.
 * @throws MultirankError ERR_MULTIRANK_NOT_INITIALIZED outside a rank of a multirank job.
 */
export function megatronGlobals(what: string): MegatronGlobals {
  const globals = megatronGlobalsOrUndefined();
  if (globals === undefined) {
    throw new MultirankError(
      ErrorCodes.NOT_INITIALIZED,
      `${what} is not available here: Megatron's parallel state is kept per rank; call it inside a rank of a ` +
        'multirank job (launch(), `multirank run`, or withRanks())',
    );
  }
  return globals;
}

/** What upstream's `destroy_model_parallel` resets (the data-parallel rank override stays, as upstream). */
export function resetMegatronGlobals(): void {
  const globals = megatronGlobalsOrUndefined();
  if (globals === undefined) return;
  const keep = globals.overrides.dataParallelRank;
  Object.assign(globals, fresh());
  globals.overrides.dataParallelRank = keep;
}

/** Appends groups to `_global_process_group_list`. */
export function addProcessGroups(groups: Iterable<GroupCoordinator | undefined>): void {
  const globals = megatronGlobalsOrUndefined();
  if (globals === undefined) return;
  globals.processGroups ??= [];
  for (const group of groups) if (group !== undefined) globals.processGroups.push(group);
}
