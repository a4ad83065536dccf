/**
 * The Megatron groups beside the model-parallel ones, as upstream makes them (NVIDIA/Megatron-LM
 * `megatron/core/parallel_state.py` at main d98e8a64ddf34856e74b24714e3bedb2f5a39553, 2026-08-22):
 *
 * - the gloo twins that `initialize_model_parallel` creates with `create_gloo_process_groups=True`: a
 *   second group with the same members right after each dp-cp, intra-partial dp-cp, dp and expert-dp
 *   group, and after each level of the expert-dp hierarchy (intra and inter partial) when there are
 *   several distributed-optimizer instances. None with `gtpRematSize > 1`; none on the expert side with
 *   `expertGtpRematSize > 1`.
 * - `create_all_gather_groups`: separate communicators with the members of the dp-cp (and expert-dp)
 *   groups, for overlapping parameter all-gathers with gradient reduce-scatters. Upstream rebuilds them
 *   from the sizes its getters return on the calling rank, with the default order `tp-cp-ep-dp-pp` and
 *   no rank offset, whatever `order` and `rankOffset` initialization used (kept here on purpose).
 */
import type { MegatronFlatKind } from './megatron.js';
import type { MegatronSizes } from './megatron-options.js';
import { injectGtpRematAxis, RankGenerator } from './rank-generator.js';
import { boolOr, checkSize, conflict } from './validate.js';
import { invalidType } from '../errors.js';

/** The kinds that get a gloo twin, in creation order (each twin right after its kind). */
export function megatronGlooKinds(sizes: MegatronSizes, createGlooProcessGroups = true): MegatronFlatKind[] {
  if (!createGlooProcessGroups || sizes.gtpRemat > 1) return [];
  const partial = sizes.numDistributedOptimizerInstances > 1;
  const kinds: MegatronFlatKind[] = ['dpCp', ...(partial ? ['intraPartialDpCp' as const] : []), 'dp'];
  if (sizes.expertGtpRemat > 1) return kinds;
  kinds.push('expertDp');
  if (partial) kinds.push('intraPartialExpertDp', 'interPartialExpertDp');
  return kinds;
}

/** What upstream's getters return on the calling rank, which `create_all_gather_groups` builds from. */
export interface MegatronAllGatherSizes {
  /** `get_tensor_model_parallel_world_size()` (an override when one is set). */
  tp: number;
  cp: number;
  /** `get_data_parallel_world_size()`: the full data-parallel size (x gtpRemat). */
  dp: number;
  pp: number;
  ep: number;
  /** `get_expert_tensor_parallel_world_size()`; read only for the expert groups. */
  etp?: number;
  /** `get_expert_data_parallel_world_size()` (x expertGtpRemat); read only for the expert groups. */
  expertDp?: number;
  /** `get_gtp_weight_remat_world_size() or 1`. */
  gtpRemat?: number;
  expertGtpRemat?: number;
}

/** The groups of `create_all_gather_groups`; `expertDp` is null unless asked for and ep > 1. */
export interface MegatronAllGatherGroups {
  dpCp: number[][];
  expertDp: number[][] | null;
}

const DEFAULT_ORDER = 'tp-cp-ep-dp-pp';

function withinWorld(groups: number[][], worldSize: number, what: string, sizes: string): number[][] {
  for (const ranks of groups) {
    const outside = ranks.find((r) => r >= worldSize);
    if (outside !== undefined) {
      throw conflict(
        `createAllGatherGroups: the ${what} group [${ranks.join(', ')}] holds rank ${outside}, outside the world ` +
          `of ${worldSize} ranks: upstream rebuilds these groups from ${sizes}, whose product exceeds the world`,
      );
    }
  }
  return groups;
}

/**
 * Plans Megatron's `create_all_gather_groups(for_expert_parallelism)` on a job of `worldSize` ranks from
 * the getter values of the calling rank. Throws where upstream's `new_group` would get a rank past the
 * world (with gtpRemat > 1 the full dp size already counts gtpRemat, so upstream's groups overflow).
 * @throws TypeError `ERR_MULTIRANK_INVALID_ARG_TYPE` for a non-integer size.
 * @throws RangeError `ERR_MULTIRANK_OUT_OF_RANGE` for a size < 1 or a group past the world.
 */
export function planMegatronAllGatherGroups(
  worldSize: number, sizes: MegatronAllGatherSizes, options: { forExpertParallelism?: boolean } = {},
): MegatronAllGatherGroups {
  checkSize('worldSize', worldSize);
  if (sizes === null || typeof sizes !== 'object') throw invalidType('sizes', 'an object of sizes', sizes);
  const forExpert = boolOr('options.forExpertParallelism', options?.forExpertParallelism, false);
  const size = (key: keyof MegatronAllGatherSizes, fallback?: number) =>
    fallback !== undefined && sizes[key] === undefined ? fallback : checkSize(`sizes.${key}`, sizes[key]);
  const [tp, cp, dp, pp, ep, gtp] = [size('tp'), size('cp'), size('dp'), size('pp'), size('ep'), size('gtpRemat', 1)];
  const dense = new RankGenerator({
    tp, ep: 1, dp, pp, cp, gtpRemat: gtp, order: injectGtpRematAxis(DEFAULT_ORDER, 'tp'),
  });
  const denseSizes = `tp ${tp} x cp ${cp} x dp ${dp} x pp ${pp} x gtpRemat ${gtp}`;
  const dpCp = withinWorld(dense.getRanks('dp-cp'), worldSize, 'dp-cp all-gather', denseSizes);
  if (!forExpert || ep <= 1) return { dpCp, expertDp: null };
  const [etp, edp, egtp] = [size('etp'), size('expertDp'), size('expertGtpRemat', 1)];
  const expert = new RankGenerator({
    tp: etp, ep, dp: edp, pp, cp: 1, gtpRemat: egtp, order: injectGtpRematAxis(DEFAULT_ORDER, 'ep'),
  });
  const expertSizes = `etp ${etp} x ep ${ep} x expertDp ${edp} x pp ${pp} x expertGtpRemat ${egtp}`;
  return { dpCp, expertDp: withinWorld(expert.getRanks('dp'), worldSize, 'expert-dp all-gather', expertSizes) };
}
