/**
 * `planFastVideoGroups` and the suffix helpers: the groups of FastVideo's
 * `fastvideo/distributed/parallel_state.py`, followed at hao-ai-lab/FastVideo main
 * 2f3d4074064e4d86f99dc784ebbaa296e6f5925f (2026-08-21; the file last changed in 629697629ad1).
 *
 *   tp     floor(W / tp) groups of consecutive ranks      group name "tp"
 *   sp     floor(W / sp) groups of consecutive ranks      group name "sp"
 *   dp     sp groups, range(i, W, sp) (stride sp)         group name "dp"
 *   world  one group of all ranks
 *
 * `dataParallelSize` is accepted and, as upstream, changes nothing. SP and TP are not orthogonal: TP
 * groups nest inside SP groups. Upstream asserts `W >= tp` explicitly; every rank must also find itself
 * in a group of each kind (`GroupCoordinator` raises "group not found" otherwise), so W must be a
 * multiple of tp and of sp.
 */
import { makeCoordinatorIndex } from './coordinator-info.js';
import type { GroupCoordinatorInfo } from './coordinator-info.js';
import { blocks, checkOptionKeys, checkSize, conflict, optionalString, sizeOr, stringOr } from './validate.js';

/** Upstream arguments in camelCase. */
export interface FastVideoOptions {
  tensorModelParallelSize?: number;
  sequenceModelParallelSize?: number;
  /** Accepted and unused, as upstream. */
  dataParallelSize?: number;
  /** Accepted and ignored: it does not change the groups. */
  backend?: string | null;
}

/** FastVideo group kinds in creation order (`world` is made by `init_distributed_environment`). */
export const FASTVIDEO_KINDS = ['tp', 'sp', 'dp', 'world'] as const;
/** One FastVideo group kind. */
export type FastVideoKind = (typeof FASTVIDEO_KINDS)[number];

/** Result of `planFastVideoGroups`. */
export interface FastVideoPlan {
  readonly flavor: 'fastvideo';
  readonly worldSize: number;
  readonly sizes: { tp: number; sp: number; dp: number };
  readonly groups: Record<FastVideoKind, number[][]>;
  groupsOf(rank: number): Partial<Record<FastVideoKind, number[]>>;
  rankInfo(rank: number): Record<FastVideoKind, GroupCoordinatorInfo>;
}

/** A named set of groups as returned by the suffix helpers. */
export interface NamedGroups {
  /** `"tp"` / `"tp_<suffix>"` (or `sp`): the `group_name` upstream gives the coordinator. */
  groupName: string;
  groups: number[][];
}

/** Ranks `0..worldSize-1`. */
function worldRanks(worldSize: number): number[] {
  return Array.from({ length: worldSize }, (_, r) => r);
}

function covered(W: number, size: number, name: string, kind: string): void {
  if (W % size !== 0) {
    throw conflict(
      `worldSize (${W}) is not divisible by ${name} (${size}): upstream builds floor(${W} / ${size}) = ` +
        `${Math.floor(W / size)} ${kind} groups of consecutive ranks, and ranks ` +
        `${Math.floor(W / size) * size}..${W - 1} would be in no ${kind} group`,
    );
  }
}

/**
 * Plans the groups of FastVideo's `initialize_model_parallel(tp, sp, dp)` on `worldSize` ranks.
 * @throws RangeError `ERR_MULTIRANK_OUT_OF_RANGE` when tp > worldSize, when worldSize is not a multiple
 *   of tp or of sp, or for a size < 1.
 */
export function planFastVideoGroups(worldSize: number, options?: FastVideoOptions): FastVideoPlan {
  const W = checkSize('worldSize', worldSize);
  const o = checkOptionKeys(
    'options', options, ['tensorModelParallelSize', 'sequenceModelParallelSize', 'dataParallelSize', 'backend'],
  );
  optionalString('options.backend', o.backend);
  const tp = sizeOr('options.tensorModelParallelSize', o.tensorModelParallelSize, 1);
  const sp = sizeOr('options.sequenceModelParallelSize', o.sequenceModelParallelSize, 1);
  sizeOr('options.dataParallelSize', o.dataParallelSize, 1);
  if (W < tp) {
    throw conflict(`worldSize (${W}) must be greater than or equal to tensorModelParallelSize (${tp})`);
  }
  covered(W, tp, 'tensorModelParallelSize', 'tp');
  covered(W, sp, 'sequenceModelParallelSize', 'sp');
  const groups: Record<FastVideoKind, number[][]> = {
    tp: blocks(worldRanks(W), tp),
    sp: blocks(worldRanks(W), sp),
    dp: Array.from({ length: sp }, (_, i) => Array.from({ length: W / sp }, (_, j) => i + j * sp)),
    world: [worldRanks(W)],
  };
  const index = makeCoordinatorIndex<FastVideoKind>('fastvideo', groups);
  return {
    flavor: 'fastvideo',
    worldSize: W,
    sizes: { tp, sp, dp: W / sp },
    groups,
    groupsOf: (rank) => index.groupsOf(rank),
    rankInfo: (rank) => index.rankInfo(rank),
  };
}

function suffixHelper(
  kind: 'tp' | 'sp', sizeName: string, worldSize: number, options: Record<string, unknown> | undefined,
): NamedGroups {
  const W = checkSize('worldSize', worldSize);
  const o = checkOptionKeys('options', options, [sizeName, 'backend', 'groupNameSuffix']);
  optionalString('options.backend', o.backend);
  const size = sizeOr(`options.${sizeName}`, o[sizeName], 1);
  const suffix = stringOr('options.groupNameSuffix', o.groupNameSuffix, '');
  if (W % size !== 0) {
    throw conflict(`worldSize (${W}) must be divisible by ${sizeName} (${size})`);
  }
  return { groupName: suffix ? `${kind}_${suffix}` : kind, groups: blocks(worldRanks(W), size) };
}

/**
 * Upstream `initialize_tensor_parallel_group`: consecutive TP groups for one more model, named `"tp"`
 * or `"tp_<groupNameSuffix>"`.
 * @throws RangeError `ERR_MULTIRANK_OUT_OF_RANGE` when worldSize is not a multiple of the size.
 */
export function initializeTensorParallelGroup(
  worldSize: number,
  options?: { tensorModelParallelSize?: number; backend?: string | null; groupNameSuffix?: string },
): NamedGroups {
  return suffixHelper('tp', 'tensorModelParallelSize', worldSize, options);
}

/**
 * Upstream `initialize_sequence_parallel_group`: consecutive SP groups for one more model, named `"sp"`
 * or `"sp_<groupNameSuffix>"`.
 * @throws RangeError `ERR_MULTIRANK_OUT_OF_RANGE` when worldSize is not a multiple of the size.
 */
export function initializeSequenceParallelGroup(
  worldSize: number,
  options?: { sequenceModelParallelSize?: number; backend?: string | null; groupNameSuffix?: string },
): NamedGroups {
  return suffixHelper('sp', 'sequenceModelParallelSize', worldSize, options);
}
