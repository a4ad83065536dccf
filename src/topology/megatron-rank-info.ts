/**
 * Per-rank view of a Megatron plan: `groupsOf(rank)` (the group of each kind that holds the rank, as the
 * `if rank in ranks: _GROUP = group` lines of upstream keep it: the last such group wins) and
 * `rankInfo(rank)` (what upstream's getters return on that rank). Source: NVIDIA/Megatron-LM
 * `megatron/core/parallel_state.py` at main d98e8a64ddf3 (2026-08-22).
 *
 * A rank's index in a group is its index in the *sorted* member list, as `torch.distributed.new_group`
 * sorts the ranks it is given (Megatron's groups are ascending anyway, except the distributed-optimizer
 * instance groups: their members are an unsorted concatenation, and the rank is still the sorted index).
 */
import type { MegatronFlatKind, MegatronGroups, MegatronLevelKind } from './megatron.js';
import type { MegatronSizes } from './megatron-options.js';
import { checkIndex, conflict } from './validate.js';

/** For each kind, the group holding the rank; level kinds give one entry per level (`null`: none). */
export type MegatronRankGroups = { [K in MegatronFlatKind]?: number[] } & {
  [K in MegatronLevelKind]?: (number[] | null)[];
};

/** A rank's answer to `is_pipeline_first_stage` / `..._last_stage` / `is_rank_in_embedding_group` with `vp_stage`. */
export interface MegatronVirtualStage {
  vpStage: number;
  isPipelineFirstStage: boolean;
  isPipelineLastStage: boolean;
  isRankInEmbeddingGroup: boolean;
}

/** What Megatron's getters return on one rank (getter names in camelCase, upstream default arguments). */
export interface MegatronRankInfo {
  rank: number;
  tensorModelParallelRank: number;
  tensorModelParallelWorldSize: number;
  pipelineModelParallelRank: number;
  pipelineModelParallelWorldSize: number;
  /** `get_data_parallel_rank()` (full group: spans gtp_remat when gtpRematSize > 1). */
  dataParallelRank: number;
  dataParallelWorldSize: number;
  /** `with_context_parallel=True`. */
  dataParallelRankWithContextParallel: number;
  dataParallelWorldSizeWithContextParallel: number;
  /** `with_context_parallel=True, partial_data_parallel=True` (the dp-cp group when one instance). */
  partialDataParallelRank: number;
  partialDataParallelWorldSize: number;
  contextParallelRank: number;
  contextParallelWorldSize: number;
  tensorAndContextParallelRank: number;
  tensorAndContextParallelWorldSize: number;
  gtpWeightRematRank: number;
  gtpWeightRematWorldSize: number;
  expertModelParallelRank: number;
  expertModelParallelWorldSize: number;
  expertTensorParallelRank: number;
  expertTensorParallelWorldSize: number;
  expertTensorAndModelParallelRank: number;
  expertTensorAndModelParallelWorldSize: number;
  expertDataParallelRank: number;
  expertDataParallelWorldSize: number;
  partialExpertDataParallelRank: number;
  partialExpertDataParallelWorldSize: number;
  expertGtpWeightRematRank: number;
  expertGtpWeightRematWorldSize: number;
  /** `get_intra_distributed_optimizer_instance_group().rank()` (the index in the sorted members). */
  intraDistributedOptimizerInstanceRank: number;
  intraDistributedOptimizerInstanceWorldSize: number;
  /** The members of this rank's distributed-optimizer instance, in upstream order (not sorted). */
  intraDistributedOptimizerInstanceGlobalRanks: number[];
  virtualPipelineModelParallelRank: number | null;
  virtualPipelineModelParallelWorldSize: number | null;
  isPipelineFirstStage: boolean;
  isPipelineLastStage: boolean;
  /** One entry per virtual stage (`ignore_virtual=False`); empty without a virtual pipeline. */
  virtualStages: MegatronVirtualStage[];
  pipelineModelParallelFirstRank: number;
  pipelineModelParallelLastRank: number;
  /** Wraps around: the last stage's next rank is the first stage. */
  pipelineModelParallelNextRank: number;
  pipelineModelParallelPrevRank: number;
  tensorModelParallelSrcRank: number;
  modelParallelSrcRank: number;
  dataParallelSrcRank: number;
  dataParallelSrcRankWithContextParallel: number;
  expertModelParallelSrcRank: number;
  isRankInEmbeddingGroup: boolean;
  isRankInPositionEmbeddingGroup: boolean;
  /** `get_all_ranks()`: `"tp_gtp_dp_cp_pp_ep"`. */
  allRanks: string;
}

/** Index of `rank` in the sorted members of `group`. */
function sortedIndex(group: readonly number[], rank: number): number {
  let below = 0;
  for (const r of group) if (r < rank) below++;
  return below;
}

type Lookup = Map<string, Map<number, number[]>>;

function buildLookup(groups: MegatronGroups): Lookup {
  const lookup: Lookup = new Map();
  for (const [kind, value] of Object.entries(groups) as [string, number[][] | number[][][]][]) {
    if (kind === 'hierarchicalCp' || kind === 'hybridDpCp') {
      (value as number[][][]).forEach((level, i) => lookup.set(`${kind}#${i}`, byRank(level)));
    } else {
      lookup.set(kind, byRank(value as number[][]));
    }
  }
  return lookup;
}

function byRank(groups: readonly number[][]): Map<number, number[]> {
  const m = new Map<number, number[]>();
  for (const g of groups) for (const r of g) m.set(r, g);
  return m;
}

/** Builds `groupsOf` / `rankInfo` for a plan; the rank index is made on first use. */
export function makeMegatronIndex(groups: MegatronGroups, sizes: MegatronSizes) {
  let lookup: Lookup | null = null;
  const get = (kind: string, rank: number) => (lookup ??= buildLookup(groups)).get(kind)?.get(rank);
  const groupsOf = (rank: number): MegatronRankGroups => {
    checkIndex('rank', rank);
    const out: Record<string, unknown> = {};
    for (const [kind, value] of Object.entries(groups) as [string, unknown[]][]) {
      if (kind === 'hierarchicalCp' || kind === 'hybridDpCp') {
        out[kind] = value.map((_, i) => get(`${kind}#${i}`, rank) ?? null);
      } else {
        const g = get(kind, rank);
        if (g !== undefined) out[kind] = g;
      }
    }
    return out as MegatronRankGroups;
  };
  const rankInfo = (rank: number): MegatronRankInfo => {
    checkIndex('rank', rank);
    const need = (kind: string): number[] => {
      const g = get(kind, rank);
      if (g === undefined) {
        throw conflict(
          `rank ${rank} is in no ${kind} group: this model's groups cover ranks ${sizes.rankOffset}..` +
            `${sizes.rankOffset + sizes.localWorldSize - 1} (rankOffset ${sizes.rankOffset}, localWorldSize ` +
              `${sizes.localWorldSize})`,
        );
      }
      return g;
    };
    return describeRank(rank, need, (kind) => get(kind, rank), sizes);
  };
  return { groupsOf, rankInfo };
}

function describeRank(
  rank: number,
  need: (kind: string) => number[],
  find: (kind: string) => number[] | undefined,
  s: MegatronSizes,
): MegatronRankInfo {
  const at = (g: number[]) => sortedIndex(g, rank);
  const n = s.numDistributedOptimizerInstances;
  const tp = need('tp');
  const pp = need('pp');
  const dpPlain = need('dp');
  const dpCpPlain = need('dpCp');
  const dp = s.gtpRemat > 1 ? need('dpGtpRemat') : dpPlain;
  const dpCp = s.gtpRemat > 1 ? need('dpCpGtpRemat') : dpCpPlain;
  const partialDp = s.gtpRemat > 1 ? dpCp : n > 1 ? need('intraPartialDpCp') : dpCpPlain;
  const cp = need('cp');
  const tpCp = need('tpCp');
  const gtp = s.gtpRemat > 1 ? need('gtpRemat') : [rank];
  const ep = need('ep');
  const etp = need('expertTp');
  const etpEp = need('expertTpEp');
  const edpPlain = need('expertDp');
  const edp = s.expertGtpRemat > 1 ? need('expertDpGtpRemat') : edpPlain;
  const partialEdp = s.expertGtpRemat > 1 ? edp : n > 1 ? need('intraPartialExpertDp') : edpPlain;
  const egtp = s.expertGtpRemat > 1 ? need('expertGtpRemat') : [rank];
  const distOpt = need('intraDistOptInstance');
  const ppRank = at(pp);
  const first = ppRank === 0;
  const last = ppRank === pp.length - 1;
  const emb = find('embedding');
  const inEmbedding = emb !== undefined && emb.includes(rank);
  const virtualStages: MegatronVirtualStage[] = [];
  for (let v = 0; v < (s.vpp ?? 0); v++) {
    const vFirst = v === 0 && first;
    const vLast = v === s.vpp! - 1 && last;
    const vEmb = !inEmbedding ? false : rank === emb![0] ? vFirst : rank === emb![emb!.length - 1] ? vLast : true;
    virtualStages.push({
      vpStage: v, isPipelineFirstStage: vFirst, isPipelineLastStage: vLast, isRankInEmbeddingGroup: vEmb,
    });
  }
  const pos = find('positionEmbedding');
  return {
    rank,
    tensorModelParallelRank: at(tp), tensorModelParallelWorldSize: tp.length,
    pipelineModelParallelRank: ppRank, pipelineModelParallelWorldSize: pp.length,
    dataParallelRank: at(dp), dataParallelWorldSize: dp.length,
    dataParallelRankWithContextParallel: at(dpCp), dataParallelWorldSizeWithContextParallel: dpCp.length,
    partialDataParallelRank: at(partialDp), partialDataParallelWorldSize: partialDp.length,
    contextParallelRank: at(cp), contextParallelWorldSize: cp.length,
    tensorAndContextParallelRank: at(tpCp), tensorAndContextParallelWorldSize: tpCp.length,
    gtpWeightRematRank: at(gtp), gtpWeightRematWorldSize: gtp.length,
    expertModelParallelRank: at(ep), expertModelParallelWorldSize: ep.length,
    expertTensorParallelRank: at(etp), expertTensorParallelWorldSize: etp.length,
    expertTensorAndModelParallelRank: at(etpEp), expertTensorAndModelParallelWorldSize: etpEp.length,
    expertDataParallelRank: at(edp), expertDataParallelWorldSize: edp.length,
    partialExpertDataParallelRank: at(partialEdp), partialExpertDataParallelWorldSize: partialEdp.length,
    expertGtpWeightRematRank: at(egtp), expertGtpWeightRematWorldSize: egtp.length,
    intraDistributedOptimizerInstanceRank: at(distOpt), intraDistributedOptimizerInstanceWorldSize: distOpt.length,
    intraDistributedOptimizerInstanceGlobalRanks: [...distOpt],
    virtualPipelineModelParallelRank: s.vpp === null ? null : 0,
    virtualPipelineModelParallelWorldSize: s.vpp,
    isPipelineFirstStage: first, isPipelineLastStage: last, virtualStages,
    pipelineModelParallelFirstRank: pp[0]!, pipelineModelParallelLastRank: pp[pp.length - 1]!,
    pipelineModelParallelNextRank: pp[(ppRank + 1) % pp.length]!,
    pipelineModelParallelPrevRank: pp[(ppRank - 1 + pp.length) % pp.length]!,
    tensorModelParallelSrcRank: tp[0]!, modelParallelSrcRank: need('mp')[0]!,
    dataParallelSrcRank: dpPlain[0]!, dataParallelSrcRankWithContextParallel: dpCpPlain[0]!,
    expertModelParallelSrcRank: ep[0]!,
    isRankInEmbeddingGroup: inEmbedding,
    isRankInPositionEmbeddingGroup: pos !== undefined && pos.includes(rank),
    allRanks: [at(tp), at(gtp), at(dp), at(cp), ppRank, at(ep)].join('_'),
  };
}
