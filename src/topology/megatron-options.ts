/**
 * Options of `planMegatronGroups` and the checks that upstream `initialize_model_parallel` runs before it
 * creates any group, in upstream's order. Source: NVIDIA/Megatron-LM `megatron/core/parallel_state.py`
 * at main d98e8a64ddf3 (2026-08-22).
 */
import { RankGenerator, injectGtpRematAxis } from './rank-generator.js';
import { defaultEmbeddingRanks, defaultPositionEmbeddingRanks } from './hierarchical.js';
import {
  boolOr, checkIndex, checkOptionKeys, checkSize, conflict, optionalSize, optionalSizeList, optionalString, sizeOr,
  stringOr,
} from './validate.js';
import { invalidChoice, invalidType } from '../errors.js';

/** Picks the ranks of one pipeline group that hold a (position) embedding. */
export type EmbeddingRanksFn = (ppRanks: readonly number[]) => readonly number[];

/** Upstream `initialize_model_parallel` keyword arguments, in camelCase. All optional. */
export interface MegatronOptions {
  tensorModelParallelSize?: number;
  pipelineModelParallelSize?: number;
  /** Interleaved schedule: stages per rank; needs `pipelineModelParallelSize > 1`. Changes no group. */
  virtualPipelineModelParallelSize?: number | null;
  /** `null`, `"nccl"` or `"ucc"`; any other backend is refused. Changes no group. */
  pipelineModelParallelCommBackend?: string | null;
  useSharp?: boolean;
  contextParallelSize?: number;
  /** Levels of hierarchical context parallelism; their product must be `contextParallelSize`. */
  hierarchicalContextParallelSizes?: readonly number[] | null;
  hybridContextParallel?: boolean;
  expertModelParallelSize?: number;
  /** Generalized tensor parallelism with weight rematerialization (an axis of its own). */
  gtpRematSize?: number;
  expertGtpRematSize?: number;
  numDistributedOptimizerInstances?: number;
  /** Default: `tensorModelParallelSize`. */
  expertTensorParallelSize?: number | null;
  ncclCommunicatorConfigPath?: string | null;
  distributedTimeoutMinutes?: number;
  /** Axes from fastest to slowest; default `"tp-cp-ep-dp-pp"`. */
  order?: string;
  getEmbeddingRanks?: EmbeddingRanksFn | null;
  getPositionEmbeddingRanks?: EmbeddingRanksFn | null;
  createGlooProcessGroups?: boolean;
  highPriorityStreamGroups?: readonly string[] | null;
  /** `"dp"` or `"dp_replica"`; only with `useSharp`. Changes no group. */
  sharpEnabledGroup?: string | null;
  /** First rank of this model in a larger job (groups are shifted by it). */
  rankOffset?: number;
  /** Ranks of this model; default: the whole `worldSize`. */
  localWorldSize?: number | null;
}

/** Every key `planMegatronGroups` accepts. */
export const MEGATRON_OPTION_KEYS = [
  'tensorModelParallelSize', 'pipelineModelParallelSize', 'virtualPipelineModelParallelSize',
  'pipelineModelParallelCommBackend', 'useSharp', 'contextParallelSize', 'hierarchicalContextParallelSizes',
  'hybridContextParallel', 'expertModelParallelSize', 'gtpRematSize', 'expertGtpRematSize',
  'numDistributedOptimizerInstances', 'expertTensorParallelSize', 'ncclCommunicatorConfigPath',
  'distributedTimeoutMinutes', 'order', 'getEmbeddingRanks', 'getPositionEmbeddingRanks',
  'createGlooProcessGroups', 'highPriorityStreamGroups', 'sharpEnabledGroup', 'rankOffset', 'localWorldSize',
] as const;

/** The sizes a Megatron plan was built with. */
export interface MegatronSizes {
  /** Ranks of this model: `localWorldSize` when given, else `worldSize`. */
  localWorldSize: number;
  rankOffset: number;
  tp: number;
  pp: number;
  cp: number;
  /** Data-parallel size: `localWorldSize / (tp * pp * cp * gtpRemat)`. */
  dp: number;
  vpp: number | null;
  ep: number;
  /** Expert tensor-parallel size. */
  etp: number;
  /** Expert data-parallel size: `localWorldSize / (etp * ep * pp * expertGtpRemat)`. */
  expertDp: number;
  gtpRemat: number;
  expertGtpRemat: number;
  numDistributedOptimizerInstances: number;
  hierarchicalContextParallelSizes: number[] | null;
  hybridContextParallel: boolean;
  order: string;
}

/** Validated options plus the two rank generators. */
export interface MegatronSetup {
  sizes: MegatronSizes;
  dense: RankGenerator;
  expert: RankGenerator;
  backend: string | null;
  embeddingRanks: EmbeddingRanksFn;
  positionEmbeddingRanks: EmbeddingRanksFn;
}

const BACKENDS = ['nccl', 'ucc'] as const;
const SHARP_GROUPS = ['dp', 'dp_replica'] as const;

function optionalFn(name: string, value: unknown, fallback: EmbeddingRanksFn): EmbeddingRanksFn {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'function') throw invalidType(name, 'a function (ppRanks) => ranks', value);
  return value as EmbeddingRanksFn;
}

/** Options that do not shape groups but that upstream still checks. */
function checkCommOptions(o: Record<string, unknown>, n: number): string | null {
  const useSharp = boolOr('options.useSharp', o.useSharp, false);
  const sharpGroup = optionalString('options.sharpEnabledGroup', o.sharpEnabledGroup);
  if (useSharp && sharpGroup !== null && !(SHARP_GROUPS as readonly string[]).includes(sharpGroup)) {
    throw invalidChoice('options.sharpEnabledGroup', SHARP_GROUPS, sharpGroup);
  }
  if (useSharp && sharpGroup === 'dp_replica' && n <= 1) {
    throw conflict(
      `sharpEnabledGroup "dp_replica" needs numDistributedOptimizerInstances > 1, got ${n}: ` +
        'the replica group exists only with several distributed-optimizer instances',
    );
  }
  if (!useSharp && sharpGroup !== null) {
    throw conflict(`sharpEnabledGroup (${JSON.stringify(sharpGroup)}) is only valid when useSharp is true`);
  }
  boolOr('options.createGlooProcessGroups', o.createGlooProcessGroups, true);
  optionalString('options.ncclCommunicatorConfigPath', o.ncclCommunicatorConfigPath);
  const minutes = o.distributedTimeoutMinutes;
  if (minutes !== undefined && (typeof minutes !== 'number' || !(minutes > 0) || !Number.isFinite(minutes))) {
    throw invalidType('options.distributedTimeoutMinutes', 'a positive, finite number of minutes', minutes);
  }
  if (
    o.highPriorityStreamGroups !== undefined && o.highPriorityStreamGroups !== null &&
      !Array.isArray(o.highPriorityStreamGroups)
  ) {
    throw invalidType('options.highPriorityStreamGroups', 'an array of group names', o.highPriorityStreamGroups);
  }
  return optionalString('options.pipelineModelParallelCommBackend', o.pipelineModelParallelCommBackend);
}

/** Reads the sizes; no rule between them is checked yet. */
function readSizes(worldSize: number, o: Record<string, unknown>): Omit<MegatronSizes, 'dp' | 'expertDp'> {
  const tp = sizeOr('options.tensorModelParallelSize', o.tensorModelParallelSize, 1);
  return {
    localWorldSize: sizeOr('options.localWorldSize', o.localWorldSize, worldSize),
    rankOffset: o.rankOffset === undefined ? 0 : checkIndex('options.rankOffset', o.rankOffset),
    tp,
    pp: sizeOr('options.pipelineModelParallelSize', o.pipelineModelParallelSize, 1),
    cp: sizeOr('options.contextParallelSize', o.contextParallelSize, 1),
    vpp: optionalSize('options.virtualPipelineModelParallelSize', o.virtualPipelineModelParallelSize),
    ep: sizeOr('options.expertModelParallelSize', o.expertModelParallelSize, 1),
    etp: sizeOr('options.expertTensorParallelSize', o.expertTensorParallelSize, tp),
    gtpRemat: sizeOr('options.gtpRematSize', o.gtpRematSize, 1),
    expertGtpRemat: sizeOr('options.expertGtpRematSize', o.expertGtpRematSize, 1),
    numDistributedOptimizerInstances: sizeOr(
      'options.numDistributedOptimizerInstances', o.numDistributedOptimizerInstances, 1,
    ),
    hierarchicalContextParallelSizes: optionalSizeList(
      'options.hierarchicalContextParallelSizes', o.hierarchicalContextParallelSizes,
    ),
    hybridContextParallel: boolOr('options.hybridContextParallel', o.hybridContextParallel, false),
    order: stringOr('options.order', o.order, 'tp-cp-ep-dp-pp'),
  };
}

/**
 * Validates `options` and builds the dense and expert rank generators, raising where upstream raises
 * before its first group: world size not divisible by the model or expert block, a virtual pipeline
 * without a pipeline, an order that lacks a needed axis, different pipeline groups in the two views.
 */
export function setupMegatron(worldSize: number, options: MegatronOptions | undefined): MegatronSetup {
  checkSize('worldSize', worldSize);
  const o = checkOptionKeys('options', options, MEGATRON_OPTION_KEYS);
  const s = readSizes(worldSize, o);
  const n = s.numDistributedOptimizerInstances;
  const backend = checkCommOptions(o, n);
  const embeddingRanks = optionalFn('options.getEmbeddingRanks', o.getEmbeddingRanks, defaultEmbeddingRanks);
  const positionEmbeddingRanks = optionalFn(
    'options.getPositionEmbeddingRanks', o.getPositionEmbeddingRanks, defaultPositionEmbeddingRanks,
  );
  const W = s.localWorldSize;
  if ((s.gtpRemat > 1 || s.expertGtpRemat > 1) && n > 1) {
    throw conflict(
      `gtpRematSize (${s.gtpRemat}) / expertGtpRematSize (${s.expertGtpRemat}) > 1 cannot be combined with ` +
        `numDistributedOptimizerInstances (${n}) > 1 (not supported upstream)`,
    );
  }
  const modelSize = s.tp * s.pp * s.cp * s.gtpRemat;
  if (W % modelSize !== 0) {
    throw conflict(
      `world size (${W}) is not divisible by tensorModelParallelSize (${s.tp}) x pipelineModelParallelSize ` +
        `(${s.pp}) x contextParallelSize (${s.cp}) x gtpRematSize (${s.gtpRemat}) = ${modelSize}`,
    );
  }
  const dp = W / modelSize;
  if (s.vpp !== null && !(s.pp > 1)) {
    throw conflict(
      `virtualPipelineModelParallelSize (${s.vpp}) needs pipelineModelParallelSize > 1, got ${s.pp}: ` +
        'the interleaved schedule splits each pipeline stage into virtual stages',
    );
  }
  const dense = new RankGenerator({
    tp: s.tp, ep: 1, dp, pp: s.pp, cp: s.cp, order: injectGtpRematAxis(s.order, 'tp'), rankOffset: s.rankOffset,
    gtpRemat: s.gtpRemat,
  });
  const expertBlock = s.etp * s.ep * s.pp * s.expertGtpRemat;
  if (W % expertBlock !== 0) {
    throw conflict(
      `world size (${W}) is not divisible by expertTensorParallelSize (${s.etp}) x expertModelParallelSize ` +
        `(${s.ep}) x pipelineModelParallelSize (${s.pp}) x expertGtpRematSize (${s.expertGtpRemat}) = ${expertBlock}`,
    );
  }
  const expertDp = W / expertBlock;
  const expert = new RankGenerator({
    tp: s.etp, ep: s.ep, dp: expertDp, pp: s.pp, cp: 1, order: injectGtpRematAxis(s.order, 'ep'),
    rankOffset: s.rankOffset, gtpRemat: s.expertGtpRemat,
  });
  const sizes: MegatronSizes = { ...s, dp, expertDp };
  checkViewsAgree(sizes, dense, expert);
  return { sizes, dense, expert, backend, embeddingRanks, positionEmbeddingRanks };
}

/** The dense and expert views must share their pipeline groups (and, unless pp is last, dp sizes). */
function checkViewsAgree(s: MegatronSizes, dense: RankGenerator, expert: RankGenerator): void {
  if (!(s.order.endsWith('pp') || s.pp === 1 || s.expertDp === s.dp)) {
    throw conflict(
      `order ${JSON.stringify(s.order)} does not end with pp, so with pipelineModelParallelSize (${s.pp}) > 1 the ` +
        `data-parallel size of attention (${s.dp}) and of expert layers (${s.expertDp}) must be the same`,
    );
  }
  const densePp = dense.getRanks('pp');
  const expertPp = expert.getRanks('pp');
  if (JSON.stringify(densePp) !== JSON.stringify(expertPp)) {
    throw conflict(
      `pipeline groups differ between the dense layers ${JSON.stringify(densePp)} and the expert layers ` +
        `${JSON.stringify(expertPp)} (order ${JSON.stringify(s.order)}, tp ${s.tp}, cp ${s.cp}, etp ${s.etp}, ` +
        `ep ${s.ep}, pp ${s.pp}); they must be the same`,
    );
  }
  const n = s.numDistributedOptimizerInstances;
  if ((s.dp * s.cp) % n !== 0) {
    throw conflict(
      `data-parallel size (${s.dp}) x contextParallelSize (${s.cp}) = ${s.dp * s.cp} is not divisible by ` +
        `numDistributedOptimizerInstances (${n}): each instance needs an equal share of the dp-cp ranks`,
    );
  }
}

/** Throws unless `backend` is `null`, `"nccl"` or `"ucc"` (upstream asserts after its first pp group). */
export function checkPipelineBackend(backend: string | null): void {
  if (backend !== null && !(BACKENDS as readonly string[]).includes(backend)) {
    throw conflict(
      `pipelineModelParallelCommBackend ${JSON.stringify(backend)} is not supported for pipeline communication; ` +
        `use null, ${BACKENDS.map((b) => JSON.stringify(b)).join(' or ')}`,
    );
  }
}

