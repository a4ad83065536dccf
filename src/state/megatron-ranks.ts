/**
 * Megatron rank and size getters (`get_*_rank`, `get_*_world_size`, src/first/last/next/prev ranks,
 * pipeline stage tests) and the setters that override them (`set_*`). A rank is its index in the
 * group's sorted members (a torch ProcessGroup's rank); an override set by a setter wins over the group,
 * as upstream's `_MPU_*` values do. Setters work before initializeModelParallel() (and before the
 * distributed environment), and the getters answer with the override without any group, as upstream's
 * tests rely on; destroyModelParallel() unsets them (the data-parallel rank excepted, as upstream).
 */
import { invalidType } from '../errors.js';
import { missingHint, notInitialized, requireEnvironment } from './front-end.js';
import {
  getContextParallelGroup, getDataParallelGroup, getExpertDataParallelGroup, getExpertModelParallelGroup,
  getExpertTensorAndModelParallelGroup, getPipelineModelParallelGroup, getTensorAndContextParallelGroup,
  getTensorModelParallelGroup, type DataParallelOptions,
} from './megatron-groups.js';
import { megatronGlobals, megatronGlobalsOrUndefined, type MegatronOverrides } from './megatron-globals.js';
import { checkSetting, lookupGroup, megatron, megatronOrUndefined, memberAt } from './megatron-runtime.js';

function override(key: keyof MegatronOverrides): number | null {
  return megatronGlobalsOrUndefined()?.overrides[key] ?? null;
}

function setter(key: keyof MegatronOverrides, min: 0 | 1): (value: number | null) => void {
  const name = `set${key[0]!.toUpperCase()}${key.slice(1)}`;
  return (value) => {
    megatronGlobals(name).overrides[key] = checkSetting(key, value, min);
  };
}

/** This rank's member list of `kind` in upstream order, or NOT_INITIALIZED with upstream's message. */
function list(kind: 'tp' | 'mp' | 'dp' | 'dpCp' | 'pp' | 'cp' | 'ep', what: string): number[] {
  const members = megatron(what).mp.extra.lists[kind];
  if (members === undefined) throw notInitialized(what, 'this rank is in no such group');
  return members;
}

/** Overrides the tp world size (null unsets). */
export const setTensorModelParallelWorldSize = setter('tensorModelParallelWorldSize', 1);
/** Overrides the pp world size (null unsets). */
export const setPipelineModelParallelWorldSize = setter('pipelineModelParallelWorldSize', 1);
/** Overrides this rank's tp rank (null unsets). */
export const setTensorModelParallelRank = setter('tensorModelParallelRank', 0);
/** Overrides this rank's pp rank (null unsets). */
export const setPipelineModelParallelRank = setter('pipelineModelParallelRank', 0);
/** Overrides this rank's dp rank (null unsets). */
export const setDataParallelRank = setter('dataParallelRank', 0);
/** Overrides the expert-model-parallel world size (null unsets). */
export const setExpertModelParallelWorldSize = setter('expertModelParallelWorldSize', 1);
/** Overrides this rank's expert-model-parallel rank (null unsets). */
export const setExpertModelParallelRank = setter('expertModelParallelRank', 0);
/** Overrides the expert tensor-parallel world size (null unsets). */
export const setExpertTensorParallelWorldSize = setter('expertTensorParallelWorldSize', 1);
/** Overrides this rank's expert tensor-parallel rank (null unsets). */
export const setExpertTensorParallelRank = setter('expertTensorParallelRank', 0);

/** World size of the tp group (or its override). @throws ERR_MULTIRANK_NOT_INITIALIZED */
export function getTensorModelParallelWorldSize(): number {
  return override('tensorModelParallelWorldSize') ?? getTensorModelParallelGroup().worldSize;
}
/** World size of the pp group (or its override). @throws ERR_MULTIRANK_NOT_INITIALIZED */
export function getPipelineModelParallelWorldSize(): number {
  return override('pipelineModelParallelWorldSize') ?? getPipelineModelParallelGroup().worldSize;
}
/** This rank's tp rank (or its override). @throws ERR_MULTIRANK_NOT_INITIALIZED */
export function getTensorModelParallelRank(): number {
  return override('tensorModelParallelRank') ?? getTensorModelParallelGroup().rankInGroup;
}
/** This rank's pp rank (or its override). @throws ERR_MULTIRANK_NOT_INITIALIZED */
export function getPipelineModelParallelRank(): number {
  return override('pipelineModelParallelRank') ?? getPipelineModelParallelGroup().rankInGroup;
}

/** Options of the pipeline stage tests. */
export interface StageOptions {
  /** Ignore the virtual pipeline (default true). */
  ignoreVirtual?: boolean;
  /** The virtual stage asked about; required when ignoreVirtual is false and a virtual pipeline is on. */
  vpStage?: number | null;
}

function virtualStage(options: StageOptions | undefined): { check: boolean; vpStage: number; vpSize: number } {
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw invalidType('options', 'an object', options);
  }
  const ignoreVirtual = options?.ignoreVirtual ?? true;
  if (typeof ignoreVirtual !== 'boolean') throw invalidType('options.ignoreVirtual', 'a boolean', ignoreVirtual);
  const vpSize = getVirtualPipelineModelParallelWorldSize();
  if (ignoreVirtual || vpSize === null) return { check: false, vpStage: 0, vpSize: 0 };
  const vpStage = options?.vpStage;
  if (typeof vpStage !== 'number' || !Number.isInteger(vpStage)) {
    throw invalidType('options.vpStage', 'an integer: vpStage must be passed if virtual pipeline is enabled', vpStage);
  }
  return { check: true, vpStage, vpSize };
}

/** Whether this rank runs the first pipeline stage (and virtual stage `vpStage` is the first). */
export function isPipelineFirstStage(options?: StageOptions): boolean {
  const v = virtualStage(options);
  if (v.check && v.vpStage !== 0) return false;
  return getPipelineModelParallelRank() === 0;
}

/** Whether this rank runs the last pipeline stage (and virtual stage `vpStage` is the last). */
export function isPipelineLastStage(options?: StageOptions): boolean {
  const v = virtualStage(options);
  if (v.check && v.vpStage !== v.vpSize - 1) return false;
  return getPipelineModelParallelRank() === getPipelineModelParallelWorldSize() - 1;
}

/** Whether this rank holds a word embedding (for virtual stage `vpStage` when ignoreVirtual is false). */
export function isRankInEmbeddingGroup(options?: StageOptions): boolean {
  const rank = requireEnvironment('the distributed environment').rank;
  const ranks = megatronOrUndefined()?.mp.extra.lists.embedding;
  if (ranks === undefined || !ranks.includes(rank)) return false;
  if (options?.ignoreVirtual ?? true) return true;
  if (rank === ranks[0]) return isPipelineFirstStage({ ...options, ignoreVirtual: false });
  if (rank === ranks[ranks.length - 1]) return isPipelineLastStage({ ...options, ignoreVirtual: false });
  return true;
}

/** Whether this rank holds a position embedding. */
export function isRankInPositionEmbeddingGroup(): boolean {
  const rank = requireEnvironment('the distributed environment').rank;
  return megatronOrUndefined()?.mp.extra.lists.positionEmbedding?.includes(rank) ?? false;
}

/** The virtual pipeline rank (0 after initialization with a virtual pipeline, or as set), or null. */
export function getVirtualPipelineModelParallelRank(): number | null {
  return megatronGlobalsOrUndefined()?.virtualPipelineModelParallelRank ?? null;
}
/** @deprecated upstream: pass `vpStage` to the stage tests instead. Sets the virtual pipeline rank. */
export function setVirtualPipelineModelParallelRank(rank: number | null): void {
  const globals = megatronGlobals('setVirtualPipelineModelParallelRank');
  globals.virtualPipelineModelParallelRank = checkSetting('rank', rank, 0);
}
/** The virtual pipeline world size (virtualPipelineModelParallelSize, or as set), or null. */
export function getVirtualPipelineModelParallelWorldSize(): number | null {
  return megatronGlobalsOrUndefined()?.virtualPipelineModelParallelWorldSize ?? null;
}
/** Sets the virtual pipeline world size (null: no virtual pipeline). */
export function setVirtualPipelineModelParallelWorldSize(worldSize: number | null): void {
  megatronGlobals('setVirtualPipelineModelParallelWorldSize').virtualPipelineModelParallelWorldSize =
    checkSetting('worldSize', worldSize, 1);
}

/** Global rank of the first member of this rank's tp group. @throws ERR_MULTIRANK_NOT_INITIALIZED */
export function getTensorModelParallelSrcRank(): number { return list('tp', 'Tensor model parallel group')[0]!; }
/** Global rank of the first member of this rank's model-parallel group. @throws ERR_MULTIRANK_NOT_INITIALIZED */
export function getModelParallelSrcRank(): number { return list('mp', 'Model parallel group')[0]!; }
/** Global rank of the first member of this rank's dp (or dp x cp) group. @throws ERR_MULTIRANK_NOT_INITIALIZED */
export function getDataParallelSrcRank(options?: { withContextParallel?: boolean }): number {
  return options?.withContextParallel === true
    ? list('dpCp', 'Data parallel group with context parallel combined')[0]!
    : list('dp', 'Data parallel group')[0]!;
}
/** Global rank of the first stage of this rank's pipeline. @throws ERR_MULTIRANK_NOT_INITIALIZED */
export function getPipelineModelParallelFirstRank(): number { return list('pp', 'Pipeline parallel group')[0]!; }
/** Global rank of the last stage of this rank's pipeline. @throws ERR_MULTIRANK_NOT_INITIALIZED */
export function getPipelineModelParallelLastRank(): number {
  return memberAt(
    list('pp', 'Pipeline parallel group'), getPipelineModelParallelWorldSize() - 1, 'getPipelineModelParallelLastRank',
  );
}
/** Global rank of the stage after this rank's (the first after the last). @throws ERR_MULTIRANK_NOT_INITIALIZED */
export function getPipelineModelParallelNextRank(): number {
  const ranks = list('pp', 'Pipeline parallel group');
  const size = getPipelineModelParallelWorldSize();
  return memberAt(ranks, (getPipelineModelParallelRank() + 1) % size, 'getPipelineModelParallelNextRank');
}
/** Global rank of the stage before this rank's (the last before the first). @throws ERR_MULTIRANK_NOT_INITIALIZED */
export function getPipelineModelParallelPrevRank(): number {
  const ranks = list('pp', 'Pipeline parallel group');
  const size = getPipelineModelParallelWorldSize();
  return memberAt(
    ranks, (((getPipelineModelParallelRank() - 1) % size) + size) % size, 'getPipelineModelParallelPrevRank',
  );
}

/** World size of the data-parallel group that `options` selects. @throws ERR_MULTIRANK_NOT_INITIALIZED */
export function getDataParallelWorldSize(options?: DataParallelOptions): number {
  return getDataParallelGroup(options).worldSize;
}
/** This rank's rank in the data-parallel group that `options` selects (or the override). */
export function getDataParallelRank(options?: DataParallelOptions): number {
  return override('dataParallelRank') ?? getDataParallelGroup(options).rankInGroup;
}
/** World size of the context-parallel group. @throws ERR_MULTIRANK_NOT_INITIALIZED */
export function getContextParallelWorldSize(): number { return getContextParallelGroup().worldSize; }
/** This rank's context-parallel rank. @throws ERR_MULTIRANK_NOT_INITIALIZED */
export function getContextParallelRank(): number { return getContextParallelGroup().rankInGroup; }
/** Global ranks of this rank's context-parallel group. */
export function getContextParallelGlobalRanks(options?: { checkInitialized?: boolean }): number[] | undefined {
  if (options?.checkInitialized === false) return megatronOrUndefined()?.mp.extra.lists.cp;
  return list('cp', 'context parallel group');
}
/** World size of the tensor x context parallel group. @throws ERR_MULTIRANK_NOT_INITIALIZED */
export function getTensorAndContextParallelWorldSize(): number { return getTensorAndContextParallelGroup().worldSize; }
/** This rank's rank in the tensor x context parallel group. @throws ERR_MULTIRANK_NOT_INITIALIZED */
export function getTensorAndContextParallelRank(): number { return getTensorAndContextParallelGroup().rankInGroup; }

/** Global rank of the first member of this rank's expert-model-parallel group. */
export function getExpertModelParallelSrcRank(): number { return list('ep', 'Expert model parallel group')[0]!; }
/** World size of the expert-model-parallel group (or its override). */
export function getExpertModelParallelWorldSize(): number {
  return override('expertModelParallelWorldSize') ?? getExpertModelParallelGroup().worldSize;
}
/** This rank's expert-model-parallel rank (or its override). */
export function getExpertModelParallelRank(): number {
  return override('expertModelParallelRank') ?? getExpertModelParallelGroup().rankInGroup;
}

function expertTp() {
  return lookupGroup('expertTp', 'Expert tensor parallel group', undefined, false);
}
function expertTpValue(value: number | null): number {
  if (value !== null) return value;
  const hint = megatronOrUndefined() === undefined ? missingHint('megatron') : 'this rank is in no such group';
  throw notInitialized('Expert tensor parallel group', hint);
}
/** World size of the expert tensor-parallel group (its override; without the group, the tp override). */
export function getExpertTensorParallelWorldSize(): number {
  const o = megatronGlobalsOrUndefined()?.overrides;
  const value = o?.expertTensorParallelWorldSize ?? expertTp()?.worldSize ?? o?.tensorModelParallelWorldSize;
  return expertTpValue(value ?? null);
}
/** This rank's expert tensor-parallel rank (its override; without the group, the tp override). */
export function getExpertTensorParallelRank(): number {
  const o = megatronGlobalsOrUndefined()?.overrides;
  const value = o?.expertTensorParallelRank ?? expertTp()?.rankInGroup ?? o?.tensorModelParallelRank;
  return expertTpValue(value ?? null);
}
/** World size of the expert tensor x model parallel group. */
export function getExpertTensorAndModelParallelWorldSize(): number {
  return getExpertTensorAndModelParallelGroup().worldSize;
}
/** This rank's rank in the expert tensor x model parallel group. */
export function getExpertTensorAndModelParallelRank(): number {
  return getExpertTensorAndModelParallelGroup().rankInGroup;
}
/** The options of the expert data-parallel rank and size getters. */
type ExpertDataOptions = { withGtpRemat?: boolean; partialExpertDataParallel?: boolean };
/** This rank's expert data-parallel rank (in one optimizer instance's part with partialExpertDataParallel). */
export function getExpertDataParallelRank(options?: ExpertDataOptions): number {
  return getExpertDataParallelGroup({ ...options, checkInitialized: true }).rankInGroup;
}
/** World size of the expert data-parallel group (or of one optimizer instance's part). */
export function getExpertDataParallelWorldSize(options?: ExpertDataOptions): number {
  return getExpertDataParallelGroup({ ...options, checkInitialized: true }).worldSize;
}

/** `"tp_gtp_dp_cp_pp_ep"`: this rank's rank in each of those groups (0 where there is no gtp group). */
export function getAllRanks(): string {
  const gtp = lookupGroup('gtpRemat', 'gtp remat group', undefined, false)?.rankInGroup ?? 0;
  return [
    getTensorModelParallelRank(), gtp, getDataParallelRank(), getContextParallelRank(), getPipelineModelParallelRank(),
    getExpertModelParallelRank(),
  ].join('_');
}
