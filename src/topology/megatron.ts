/**
 * `planMegatronGroups`: every rank group that Megatron-LM's `initialize_model_parallel` creates, in the
 * order it creates them, members in upstream order. Followed: NVIDIA/Megatron-LM
 * `megatron/core/parallel_state.py` at main d98e8a64ddf34856e74b24714e3bedb2f5a39553 (2026-08-22).
 *
 * Dense groups come from a generator over `tp gtp_remat cp dp pp` (ep = 1), expert groups from a second
 * generator over `etp ep gtp_remat expertDp pp` (cp = 1) that re-reads the same ranks. Kind names:
 *
 *   dense   dpCp intraPartialDpCp hybridDpCp[] dp cp hierarchicalCp[] mp tp pp embedding
 *           positionEmbedding tpDpCp tpDp tpCp
 *   expert  ep expertTp expertTpEp expertTpEpPp expertDp intraPartialExpertDp interPartialExpertDp
 *   other   intraDistOptInstance
 *   gtp     gtpRemat dpGtpRemat dpCpGtpRemat expertGtpRemat expertTpEpGtpPp expertDpGtpRemat
 *           (only when gtpRematSize / expertGtpRematSize > 1)
 *
 * `[]` kinds are lists of levels (hierarchical CP: one level per size; hybrid DPxCP: sizes 2, 4, ...).
 */
import { createHierarchicalGroups, createHybridDpCpGroups } from './hierarchical.js';
import { megatronGlooKinds } from './megatron-extra-groups.js';
import { checkPipelineBackend, setupMegatron } from './megatron-options.js';
import type { MegatronOptions, MegatronSetup, MegatronSizes } from './megatron-options.js';
import { makeMegatronIndex } from './megatron-rank-info.js';
import type { MegatronRankGroups, MegatronRankInfo } from './megatron-rank-info.js';
import { checkRankList, conflict, product, showList } from './validate.js';

/** Group lists of a Megatron plan; kinds that upstream does not create for the configuration are absent. */
export interface MegatronGroups {
  gtpRemat?: number[][];
  dpCp: number[][];
  intraPartialDpCp?: number[][];
  hybridDpCp?: number[][][];
  dp: number[][];
  dpGtpRemat?: number[][];
  dpCpGtpRemat?: number[][];
  cp: number[][];
  hierarchicalCp?: number[][][];
  mp: number[][];
  tp: number[][];
  pp: number[][];
  embedding: number[][];
  positionEmbedding: number[][];
  tpDpCp: number[][];
  tpDp: number[][];
  tpCp: number[][];
  expertGtpRemat?: number[][];
  ep: number[][];
  expertTp: number[][];
  expertTpEp: number[][];
  expertTpEpPp: number[][];
  expertTpEpGtpPp?: number[][];
  expertDp: number[][];
  intraPartialExpertDp?: number[][];
  interPartialExpertDp?: number[][];
  expertDpGtpRemat?: number[][];
  intraDistOptInstance: number[][];
}

/** A kind whose value is a list of groups. */
export type MegatronFlatKind = Exclude<keyof MegatronGroups, 'hierarchicalCp' | 'hybridDpCp'>;
/** A kind whose value is a list of levels of groups. */
export type MegatronLevelKind = 'hierarchicalCp' | 'hybridDpCp';

/** Result of `planMegatronGroups`. */
export interface MegatronPlan {
  readonly flavor: 'megatron';
  /** The job's world size (the first argument). */
  readonly worldSize: number;
  readonly sizes: MegatronSizes;
  readonly groups: MegatronGroups;
  /**
   * The kinds whose groups get a gloo twin (same members, created right after each group of the kind),
   * in creation order; empty with `createGlooProcessGroups: false` or `gtpRematSize > 1`.
   */
  readonly glooKinds: readonly MegatronFlatKind[];
  /** For each kind, the group that holds `rank` (absent where no group does). */
  groupsOf(rank: number): MegatronRankGroups;
  /** What upstream's per-rank getters return on `rank`. */
  rankInfo(rank: number): MegatronRankInfo;
}

function denseGroups(setup: MegatronSetup): Partial<MegatronGroups> {
  const { sizes: s, dense } = setup;
  const n = s.numDistributedOptimizerInstances;
  const g: Partial<MegatronGroups> = {};
  if (s.gtpRemat > 1) g.gtpRemat = dense.getGtpRanks(s.gtpRemat);
  g.dpCp = dense.getRanks('dp-cp');
  if (n > 1) {
    const k = (s.dp * s.cp) / n;
    g.intraPartialDpCp = g.dpCp.flatMap(
      (ranks) => Array.from({ length: n }, (_, i) => ranks.slice(i * k, (i + 1) * k)),
    );
  }
  if (s.hybridContextParallel) g.hybridDpCp = hybridLevels(g.dpCp, s);
  g.dp = dense.getRanks('dp');
  if (s.gtpRemat > 1) {
    g.dpGtpRemat = dense.getRanks('gtp_remat-dp');
    g.dpCpGtpRemat = dense.getRanks('gtp_remat-dp-cp');
  }
  g.cp = dense.getRanks('cp');
  const hcp = s.hierarchicalContextParallelSizes;
  if (hcp !== null && hcp.length > 0) {
    if (product(hcp) !== s.cp) {
      throw conflict(
        `hierarchicalContextParallelSizes ${showList(hcp)} multiply to ${product(hcp)}, but ` +
          `contextParallelSize is ${s.cp}; their product must equal contextParallelSize`,
      );
    }
    const levels: number[][][] = hcp.map(() => []);
    for (const ranks of g.cp) {
      createHierarchicalGroups(ranks[0]!, ranks, hcp).forEach((level, i) => levels[i]!.push(...level));
    }
    g.hierarchicalCp = levels;
  }
  g.mp = dense.getRanks('tp-gtp_remat-pp');
  g.tp = dense.getRanks('tp');
  pipelineGroups(setup, g);
  g.tpDpCp = dense.getRanks('tp-gtp_remat-dp-cp');
  g.tpDp = dense.getRanks('tp-gtp_remat-dp');
  g.tpCp = dense.getRanks('tp-cp');
  return g;
}

function hybridLevels(dpCp: number[][], s: MegatronSizes): number[][][] {
  const levels: number[][][] = [];
  for (const ranks of dpCp) {
    if (ranks.length % 2 !== 0) {
      throw conflict(
        `hybridContextParallel needs an even number of ranks in each data-parallel x context-parallel group; ` +
          `dp (${s.dp}) x cp (${s.cp}) = ${ranks.length}`,
      );
    }
    createHybridDpCpGroups(ranks[0]!, ranks).forEach((level, i) => (levels[i] ??= []).push(...level));
  }
  return levels;
}

function pipelineGroups(setup: MegatronSetup, g: Partial<MegatronGroups>): void {
  g.pp = setup.dense.getRanks('pp');
  g.embedding = [];
  g.positionEmbedding = [];
  for (const ranks of g.pp) {
    checkPipelineBackend(setup.backend);
    g.embedding.push(checkRankList('getEmbeddingRanks(ppRanks)', setup.embeddingRanks(ranks.slice())));
    g.positionEmbedding.push(
      checkRankList('getPositionEmbeddingRanks(ppRanks)', setup.positionEmbeddingRanks(ranks.slice())),
    );
  }
}

function expertGroups(setup: MegatronSetup): Partial<MegatronGroups> {
  const { sizes: s, expert } = setup;
  const n = s.numDistributedOptimizerInstances;
  const g: Partial<MegatronGroups> = {};
  if (s.expertGtpRemat > 1) g.expertGtpRemat = expert.getGtpRanks(s.expertGtpRemat);
  g.ep = expert.getRanks('ep');
  g.expertTp = expert.getRanks('tp');
  g.expertTpEp = expert.getRanks('tp-ep');
  g.expertTpEpPp = expert.getRanks('tp-ep-pp');
  const tpEpGtpPp = expert.getRanks('tp-ep-gtp_remat-pp');
  if (s.expertGtpRemat > 1) g.expertTpEpGtpPp = tpEpGtpPp;
  if (s.expertDp % n !== 0) {
    throw conflict(
      `expert data-parallel size (${s.expertDp} = world ${s.localWorldSize} / (etp ${s.etp} x ep ${s.ep} x pp ${s.pp}` +
        ` x expertGtpRemat ${s.expertGtpRemat})) is not divisible by numDistributedOptimizerInstances (${n})`,
    );
  }
  g.expertDp = expert.getRanks('dp');
  if (n > 1) {
    g.intraPartialExpertDp = [];
    g.interPartialExpertDp = [];
    for (const ranks of g.expertDp) {
      const [intra, inter] = createHierarchicalGroups(ranks[0]!, ranks, [s.expertDp / n, n]);
      g.intraPartialExpertDp.push(...intra!);
      g.interPartialExpertDp.push(...inter!);
    }
  }
  if (s.expertGtpRemat > 1) g.expertDpGtpRemat = expert.getRanks('gtp_remat-dp');
  g.intraDistOptInstance = distOptGroups(setup, g.expertTpEpPp);
  return g;
}

/** Every `expertDp / n` consecutive expert tp-ep-pp groups, concatenated (not sorted), form one instance. */
function distOptGroups(setup: MegatronSetup, tpEpPp: number[][]): number[][] {
  const s = setup.sizes;
  if (s.gtpRemat > 1 || s.expertGtpRemat > 1) return [tpEpPp.flat().sort((a, b) => a - b)];
  const per = s.expertDp / s.numDistributedOptimizerInstances;
  const out: number[][] = [];
  let acc: number[] = [];
  tpEpPp.forEach((ranks, i) => {
    acc.push(...ranks);
    if ((i + 1) % per === 0) {
      out.push(acc);
      acc = [];
    }
  });
  return out;
}

const KIND_ORDER: readonly (keyof MegatronGroups)[] = [
  'gtpRemat', 'dpCp', 'intraPartialDpCp', 'hybridDpCp', 'dp', 'dpGtpRemat', 'dpCpGtpRemat', 'cp', 'hierarchicalCp',
  'mp', 'tp', 'pp', 'embedding', 'positionEmbedding', 'tpDpCp', 'tpDp', 'tpCp', 'expertGtpRemat', 'ep', 'expertTp',
  'expertTpEp', 'expertTpEpPp', 'expertTpEpGtpPp', 'expertDp', 'intraPartialExpertDp', 'interPartialExpertDp',
  'expertDpGtpRemat', 'intraDistOptInstance',
];

/** Kinds in upstream creation order (the key order of `MegatronPlan.groups`). */
export const MEGATRON_KINDS = KIND_ORDER;

/**
 * Plans the groups of Megatron-LM's `initialize_model_parallel(**options)` on a job of `worldSize`
 * ranks. Throws where upstream raises, with a message that names the sizes involved and the rule.
 *
 * @throws TypeError `ERR_MULTIRANK_INVALID_ARG_TYPE` / `ERR_MULTIRANK_INVALID_ARG_VALUE` for a
 *   non-integer size, an option of the wrong type or an unknown option key.
 * @throws RangeError `ERR_MULTIRANK_OUT_OF_RANGE` for a size < 1 and for every configuration upstream
 *   rejects (world size not divisible, order lacking an axis, uneven distributed-optimizer split, ...).
 */
export function planMegatronGroups(worldSize: number, options?: MegatronOptions): MegatronPlan {
  const setup = setupMegatron(worldSize, options);
  const made: Partial<MegatronGroups> = { ...denseGroups(setup), ...expertGroups(setup) };
  const groups = {} as Record<string, unknown>;
  for (const kind of KIND_ORDER) if (made[kind] !== undefined) groups[kind] = made[kind];
  const frozen = groups as unknown as MegatronGroups;
  const index = makeMegatronIndex(frozen, setup.sizes);
  return {
    flavor: 'megatron',
    worldSize,
    sizes: setup.sizes,
    groups: frozen,
    glooKinds: megatronGlooKinds(setup.sizes, options?.createGlooProcessGroups ?? true),
    groupsOf: (rank) => index.groupsOf(rank),
    rankInfo: (rank) => index.rankInfo(rank),
  };
}
