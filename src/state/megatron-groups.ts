/**
 * Megatron group getters (`get_*_group`). Each returns this rank's GroupCoordinator of one kind of the
 * plan; a group that upstream does not create for the configuration raises NOT_INITIALIZED with
 * upstream's message (`"embedding group is not initialized"`, ...) unless `checkInitialized: false`,
 * which returns undefined. The gloo getters return the gloo twins: separate groups with the same
 * members, which initializeModelParallel creates as upstream does (`<kind>-gloo`).
 */
import { outOfRange } from '../errors.js';
import type { GroupCoordinator } from '../group/coordinator.js';
import { hybridDpCpGroupSizes, type MegatronSizes } from '../topology/index.js';
import { checkFlag, lookupGroup, megatron, megatronOrUndefined, type KindOf } from './megatron-runtime.js';
import { notInitialized } from './front-end.js';

/** A getter with upstream's `check_initialized` argument. */
export interface GroupGetter {
  (options?: { checkInitialized?: true }): GroupCoordinator;
  (options: { checkInitialized?: boolean }): GroupCoordinator | undefined;
}

function groupGetter(kind: KindOf, what: string, absentHint?: string): GroupGetter {
  return ((options?: { checkInitialized?: boolean }) =>
    lookupGroup(kind, what, absentHint, checkFlag(options, 'checkInitialized', true))) as GroupGetter;
}

const egtp = (s: MegatronSizes, plain: string, remat: string) => (s.expertGtpRemat > 1 ? remat : plain);

/** Tensor + pipeline model-parallel group. */
export const getModelParallelGroup = groupGetter('mp', 'model parallel group');
/** Tensor model-parallel group. */
export const getTensorModelParallelGroup = groupGetter('tp', 'tensor model parallel group');
/** Pipeline model-parallel group. */
export const getPipelineModelParallelGroup = groupGetter('pp', 'pipeline_model parallel group');
/** Context-parallel group. */
export const getContextParallelGroup = groupGetter('cp', 'context parallel group');
/** Word-embedding group (by default the first and last stage of each pipeline). */
export const getEmbeddingGroup = groupGetter('embedding', 'embedding group',
  'this rank holds no word embedding (only the stages that getEmbeddingRanks picks from each pipeline group, by ' +
    'default its first and last, are in an embedding group)');
/** Position-embedding group (by default the first stage of each pipeline). */
export const getPositionEmbeddingGroup = groupGetter('positionEmbedding', 'position embedding group',
  'this rank holds no position embedding (only the stages that getPositionEmbeddingRanks picks, by default the first ' +
    'of each pipeline group, are in a position embedding group)');
/** Tensor- and context-parallel group. */
export const getTensorAndContextParallelGroup = groupGetter('tpCp', 'tensor and context parallel group');
/** Expert model-parallel group. */
export const getExpertModelParallelGroup = groupGetter('ep', 'expert model parallel group');
/** Expert tensor-parallel group. */
export const getExpertTensorParallelGroup = groupGetter('expertTp', 'Expert tensor parallel group');
/** Expert tensor- and model-parallel group. */
export const getExpertTensorAndModelParallelGroup = groupGetter('expertTpEp', 'Expert tensor and model parallel group');
/** Options of {@link getExpertTensorModelPipelineParallelGroup}. */
export interface ExpertTpEpPpOptions {
  checkInitialized?: boolean;
  /**
   * The group merged across expert GTP peers (default false); with expertGtpRematSize 1 it has the
   * members of the plain group, which it is here (upstream makes a second group with those members).
   */
  withEgtpRemat?: boolean;
}

/** Expert tensor-, model- and pipeline-parallel group. */
export function getExpertTensorModelPipelineParallelGroup(
  options?: ExpertTpEpPpOptions & { checkInitialized?: true },
): GroupCoordinator;
export function getExpertTensorModelPipelineParallelGroup(options: ExpertTpEpPpOptions): GroupCoordinator | undefined;
export function getExpertTensorModelPipelineParallelGroup(
  options?: ExpertTpEpPpOptions,
): GroupCoordinator | undefined {
  const check = checkFlag(options, 'checkInitialized', true);
  if (!checkFlag(options, 'withEgtpRemat', false)) {
    return lookupGroup('expertTpEpPp', 'Expert tensor-model-pipeline parallel group', undefined, check);
  }
  return lookupGroup((z) => egtp(z, 'expertTpEpPp', 'expertTpEpGtpPp'),
    'Expert tensor-model-pipeline parallel group with EGTP', undefined, check);
}
/** All ranks of one distributed-optimizer instance. */
export const getIntraDistributedOptimizerInstanceGroup = groupGetter(
  'intraDistOptInstance', 'Intra distributed optimizer instance group',
);
/** The group across distributed-optimizer instances (only with numDistributedOptimizerInstances > 1). */
export const getInterDistributedOptimizerInstanceGroup = groupGetter('interPartialExpertDp',
  'The inter distributed optimizer instance group (shared by attention and MLP/expert)',
  'it exists only with numDistributedOptimizerInstances > 1');

/** Options of the data-parallel getters. */
export interface DataParallelOptions {
  /** The data x context parallel group (default false). */
  withContextParallel?: boolean;
  /**
   * The full data-distribution group, which spans the gtpRemat axis (default true); false: the replicate
   * group. The same group when gtpRematSize is 1.
   */
  withGtpRemat?: boolean;
  /** The group of one distributed-optimizer instance; needs withContextParallel (default false). */
  partialDataParallel?: boolean;
}

/** Kind and upstream name of the data-parallel group that `options` selects. */
function dataParallelKind(options: DataParallelOptions | undefined, gloo = false): { kind: KindOf; what: string } {
  const withCp = checkFlag(options, 'withContextParallel', false);
  const remat = !gloo && checkFlag(options, 'withGtpRemat', true);
  const partial = checkFlag(options, 'partialDataParallel', false);
  if (!withCp && partial) {
    throw outOfRange(
      'Partial DP for Optimizer needs to include CP: pass withContextParallel: true with partialDataParallel: true',
    );
  }
  const g = gloo ? '-gloo' : '';
  const full = (s: MegatronSizes, plain: string, merged: string) => (remat && s.gtpRemat > 1 ? merged : plain);
  if (partial) {
    return {
      kind: (s) => full(
        s, s.numDistributedOptimizerInstances > 1 ? `intraPartialDpCp${g}` : `dpCp${g}`, 'dpCpGtpRemat',
      ),
      what: 'Intra partial data parallel group',
    };
  }
  if (withCp) {
    const what = `data parallel group${g} with context parallel combined`;
    return { kind: (s) => full(s, `dpCp${g}`, 'dpCpGtpRemat'), what };
  }
  return { kind: (s) => full(s, `dp${g}`, 'dpGtpRemat'), what: `data parallel group${g}` };
}

/** Data-parallel group (with context parallel, or one optimizer instance's part, as options say). */
export function getDataParallelGroup(options?: DataParallelOptions): GroupCoordinator {
  const { kind, what } = dataParallelKind(options);
  return lookupGroup(kind, what, undefined)!;
}

/** Why a rank has no gloo group, once Megatron is initialized. */
function glooHint(expert: boolean): string {
  const current = megatronOrUndefined();
  if (current === undefined) return '';
  const s = current.mp.plan.sizes;
  if (!current.mp.extra.glooGroups) return 'initializeModelParallel was called with createGlooProcessGroups: false';
  if (s.gtpRemat > 1) return `gloo groups are not created with gtpRematSize > 1 (here ${s.gtpRemat}), as upstream`;
  if (expert && s.expertGtpRemat > 1) {
    return `expert gloo groups are not created with expertGtpRematSize > 1 (here ${s.expertGtpRemat}), as upstream`;
  }
  return `rank ${current.state.rank} is in no such group`;
}

/**
 * The gloo twin of {@link getDataParallelGroup} (without `withGtpRemat`: upstream makes no gloo group
 * across gtpRemat): a separate group with the same members, for CPU-side traffic.
 */
export function getDataParallelGroupGloo(options?: Omit<DataParallelOptions, 'withGtpRemat'>): GroupCoordinator {
  const { kind, what } = dataParallelKind(options, true);
  return lookupGroup(kind, what, glooHint(false))!;
}

/** Options of the expert data-parallel getters. */
export interface ExpertDataParallelOptions {
  checkInitialized?: boolean;
  /** The full group across expert gtpRemat peers (default true); false: the replicate group. */
  withGtpRemat?: boolean;
  /** The part of one distributed-optimizer instance (default false). */
  partialExpertDataParallel?: boolean;
}

function expertDataKind(options: ExpertDataParallelOptions | undefined, gloo = false): { kind: KindOf; what: string } {
  const remat = !gloo && checkFlag(options, 'withGtpRemat', true);
  const g = gloo ? '-gloo' : '';
  const full = (s: MegatronSizes, plain: string) => (remat && s.expertGtpRemat > 1 ? 'expertDpGtpRemat' : plain);
  if (checkFlag(options, 'partialExpertDataParallel', false)) {
    return {
      kind: (s) => full(s, s.numDistributedOptimizerInstances > 1 ? `intraPartialExpertDp${g}` : `expertDp${g}`),
      what: `Intra partial expert data parallel group${g}`,
    };
  }
  return { kind: (s) => full(s, `expertDp${g}`), what: `Expert data parallel group${g}` };
}

/** Expert data-parallel group (one optimizer instance's part with partialExpertDataParallel). */
export function getExpertDataParallelGroup(
  options?: ExpertDataParallelOptions & { checkInitialized?: true },
): GroupCoordinator;
export function getExpertDataParallelGroup(options: ExpertDataParallelOptions): GroupCoordinator | undefined;
export function getExpertDataParallelGroup(options?: ExpertDataParallelOptions): GroupCoordinator | undefined {
  const { kind, what } = expertDataKind(options);
  return lookupGroup(kind, what, undefined, checkFlag(options, 'checkInitialized', true));
}

/** @deprecated Upstream's old name of {@link getExpertDataParallelGroup}. */
export function getDataModuloExpertParallelGroup(options?: { partialExpertDataParallel?: boolean }): GroupCoordinator {
  return getExpertDataParallelGroup({
    partialExpertDataParallel: checkFlag(options, 'partialExpertDataParallel', false),
  });
}

/** The gloo twin of {@link getExpertDataParallelGroup}: a separate group with the same members. */
export function getExpertDataParallelGroupGloo(options?: { partialExpertDataParallel?: boolean }): GroupCoordinator {
  const { kind, what } = expertDataKind(options, true);
  return lookupGroup(kind, what, glooHint(true))!;
}

/** FP8 amax reduction group: tp x dp (x cp), or tp (x cp) with tpOnlyAmaxRed. */
export function getAmaxReductionGroup(
  options?: { withContextParallel?: boolean; tpOnlyAmaxRed?: boolean },
): GroupCoordinator {
  const withCp = checkFlag(options, 'withContextParallel', false);
  const tpOnly = checkFlag(options, 'tpOnlyAmaxRed', false);
  const kind: KindOf = tpOnly ? (withCp ? 'tpCp' : 'tp') : withCp ? 'tpDpCp' : 'tpDp';
  return lookupGroup(kind, 'FP8 amax reduction group', undefined)!;
}

/** Tensor- and data-parallel group (with context parallel when asked). */
export function getTensorAndDataParallelGroup(
  options?: { checkInitialized?: true; withContextParallel?: boolean },
): GroupCoordinator;
export function getTensorAndDataParallelGroup(
  options: { checkInitialized?: boolean; withContextParallel?: boolean },
): GroupCoordinator | undefined;
export function getTensorAndDataParallelGroup(
  options?: { checkInitialized?: boolean; withContextParallel?: boolean },
): GroupCoordinator | undefined {
  const kind = checkFlag(options, 'withContextParallel', false) ? 'tpDpCp' : 'tpDp';
  return lookupGroup(kind, 'tensor and data parallel group', undefined, checkFlag(options, 'checkInitialized', true));
}

/** One group per level of hierarchical context parallelism (inner level first). */
export function getHierarchicalContextParallelGroups(
  options?: { checkInitialized?: boolean },
): GroupCoordinator[] | undefined {
  const check = checkFlag(options, 'checkInitialized', true);
  const what = 'hierarchical context parallel groups';
  if (!check && megatronOrUndefined() === undefined) return undefined;
  const levels = megatron(what).mp.plan.sizes.hierarchicalContextParallelSizes?.length ?? 0;
  if (levels === 0) {
    if (!check) return undefined;
    throw notInitialized(what, 'pass hierarchicalContextParallelSizes to initializeModelParallel');
  }
  const groups = Array.from({ length: levels }, (_, i) => lookupGroup(`hierarchicalCp#${i}`, what, undefined, check));
  return groups.includes(undefined) ? undefined : (groups as GroupCoordinator[]);
}

/**
 * The hybrid data x context parallel group of `groupSize` ranks: the whole dp-cp group at its full size,
 * else the level of that nominal size (needs `hybridContextParallel`).
 */
export function getHybridDataContextParallelGroups(
  options: { checkInitialized?: boolean; groupSize: number },
): GroupCoordinator | undefined {
  const check = checkFlag(options, 'checkInitialized', true);
  const what = 'hybrid data context parallel groups';
  const s = megatron(what).mp.plan.sizes;
  const full = lookupGroup('dpCp', what, undefined, check);
  if (full !== undefined && full.worldSize === options.groupSize) return full;
  const level = s.hybridContextParallel ? hybridDpCpGroupSizes(s.dp * s.cp).indexOf(options.groupSize) : -1;
  if (level >= 0) return lookupGroup(`hybridDpCp#${level}`, what, undefined, check);
  if (!check) return undefined;
  throw notInitialized(what, s.hybridContextParallel
    ? `there is no hybrid group of ${String(options.groupSize)} ranks (sizes: ` +
      `${hybridDpCpGroupSizes(s.dp * s.cp).join(', ')} and ${s.dp * s.cp})`
    : 'pass hybridContextParallel: true to initializeModelParallel');
}
