/**
 * `planVllmGroups`: the groups of vLLM's `initialize_model_parallel`, followed at vllm-project/vllm main
 * 0231dd5467c61dca76f66269b6298a43772b3519 (2026-07-24; `vllm/distributed/parallel_state.py` last
 * changed in 37bf988c, its DCP layout in b6ff8a2f #46570), with the size rules of
 * `ParallelConfig._validate_parallel_config` (`vllm/config/parallel.py`) at the same commit, and the DCP
 * expectations of `tests/distributed/test_context_parallel_group_layout.py` (709e0bbe).
 *
 * Ranks are `arange(W).reshape(externalDp, dp, pp, pcp, tp)`. The groups of one kind are found by moving
 * that axis last, flattening, and cutting into blocks:
 *
 *   tp   axes (e, d, p, c | t)                    blocks of tp
 *   dcp  dcp > 1: (e, d, p, t, c) flattened      blocks of dcp (spans pcp first, then tp)
 *        dcp = 1: singletons in rank order
 *   pcp  (e, d, p, t | c)                         blocks of pcp
 *   pp   (e, d, t, c | p)      transpose(2, 4)    blocks of pp
 *   dp   (e, t, p, c | d)      transpose(1, 4)    blocks of dp
 *   ep   (e, p | d, c, t)      transpose(1, 2)    blocks of dp * pcp * tp (MoE models only)
 *   world                                         one group of all ranks
 */
import { makeCoordinatorIndex } from './coordinator-info.js';
import type { GroupCoordinatorInfo } from './coordinator-info.js';
import { blocks, boolOr, checkOptionKeys, checkSize, conflict, optionalString, product, sizeOr } from './validate.js';

/** Upstream arguments in camelCase; `dataParallelSize` and `isMoe` come from upstream's config. */
export interface VllmOptions {
  tensorModelParallelSize?: number;
  pipelineModelParallelSize?: number;
  prefillContextModelParallelSize?: number;
  /** `null` means 1, as upstream's `or 1`. */
  decodeContextModelParallelSize?: number | null;
  /** `parallel_config.data_parallel_size` (default 1). */
  dataParallelSize?: number;
  /** `model_config.is_moe`: the ep group exists only for MoE models (default true, as with no model config). */
  isMoe?: boolean;
  /** Accepted and ignored: it does not change the groups. */
  backend?: string | null;
}

/** Every key `planVllmGroups` accepts. */
export const VLLM_OPTION_KEYS = [
  'tensorModelParallelSize', 'pipelineModelParallelSize', 'prefillContextModelParallelSize',
  'decodeContextModelParallelSize', 'dataParallelSize', 'isMoe', 'backend',
] as const;

/** vLLM group kinds in creation order. */
export const VLLM_KINDS = ['tp', 'dcp', 'pcp', 'pp', 'dp', 'ep', 'world'] as const;
/** One vLLM group kind. */
export type VllmKind = (typeof VLLM_KINDS)[number];

/** The groups of a vLLM plan (`ep` is absent for a dense model). */
export interface VllmGroups {
  tp: number[][];
  dcp: number[][];
  pcp: number[][];
  pp: number[][];
  dp: number[][];
  ep?: number[][];
  world: number[][];
}

/** Sizes of the `(externalDp, dp, pp, pcp, tp)` rank grid, plus dcp. */
export interface VllmSizes {
  externalDp: number;
  dp: number;
  pp: number;
  pcp: number;
  tp: number;
  dcp: number;
}

/** Result of `planVllmGroups`. */
export interface VllmPlan {
  readonly flavor: 'vllm';
  readonly worldSize: number;
  readonly sizes: VllmSizes;
  readonly groups: VllmGroups;
  groupsOf(rank: number): Partial<Record<VllmKind, number[]>>;
  rankInfo(rank: number): Partial<Record<VllmKind, GroupCoordinatorInfo>>;
}

/** Ranks of `arange(prod(shape)).reshape(shape).permute(perm)`, flattened in row-major order. */
function permutedRanks(shape: readonly number[], perm: readonly number[]): number[] {
  const stride = shape.map((_, k) => product(shape.slice(k + 1)));
  const pshape = perm.map((k) => shape[k]!);
  const pstride = perm.map((k) => stride[k]!);
  const total = product(shape);
  const idx = pshape.map(() => 0);
  const out: number[] = [];
  for (let i = 0; i < total; i++) {
    let r = 0;
    for (let k = 0; k < idx.length; k++) r += idx[k]! * pstride[k]!;
    out.push(r);
    for (let k = idx.length - 1; k >= 0; k--) {
      if (++idx[k]! < pshape[k]!) break;
      idx[k] = 0;
    }
  }
  return out;
}

function checkVllmSizes(W: number, s: Omit<VllmSizes, 'externalDp'>): void {
  const { tp, pcp, dcp, dp, pp } = s;
  if (pcp > 1 && dp > 1) {
    throw conflict(
      `prefillContextModelParallelSize (${pcp}) > 1 cannot be combined with dataParallelSize (${dp}) > 1: ` +
        'PCP does not support data parallelism yet',
    );
  }
  if (pcp === 1 && tp % dcp !== 0) {
    throw conflict(
      `tensorModelParallelSize (${tp}) must be divisible by decodeContextModelParallelSize (${dcp}): ` +
        'without prefill context parallelism, DCP splits each TP group',
    );
  }
  if (pcp > 1 && dcp !== 1 && dcp !== pcp && dcp !== tp * pcp) {
    throw conflict(
      `decodeContextModelParallelSize (${dcp}) must be 1, prefillContextModelParallelSize (${pcp}) or ` +
        `tensorModelParallelSize x prefillContextModelParallelSize (${tp} x ${pcp} = ${tp * pcp}) when PCP is ` +
        'enabled: DCP is disabled, spans the PCP axis, or spans the full TP x PCP axis',
    );
  }
  const block = dp * pp * pcp * tp;
  if (W % block !== 0) {
    throw conflict(
      `worldSize (${W}) is not divisible by dataParallelSize (${dp}) x pipelineModelParallelSize (${pp}) x ` +
        `prefillContextModelParallelSize (${pcp}) x tensorModelParallelSize (${tp}) = ${block}: vLLM lays ranks ` +
        'out as arange(worldSize).reshape(-1, dp, pp, pcp, tp)',
    );
  }
}

/**
 * Plans the groups of vLLM's `initialize_model_parallel(tp, pp, pcp, dcp)` on `worldSize` ranks (the
 * torch world, external data parallelism included).
 *
 * @throws TypeError `ERR_MULTIRANK_INVALID_ARG_TYPE` / `ERR_MULTIRANK_INVALID_ARG_VALUE` for a
 *   non-integer size, a wrong option type or an unknown option key.
 * @throws RangeError `ERR_MULTIRANK_OUT_OF_RANGE` for a size < 1, a world size that the rank grid does
 *   not divide, tp not divisible by dcp (no PCP), a dcp that neither spans PCP nor TP x PCP (with PCP),
 *   and PCP combined with data parallelism.
 */
export function planVllmGroups(worldSize: number, options?: VllmOptions): VllmPlan {
  const W = checkSize('worldSize', worldSize);
  const o = checkOptionKeys('options', options, VLLM_OPTION_KEYS);
  optionalString('options.backend', o.backend);
  const tp = sizeOr('options.tensorModelParallelSize', o.tensorModelParallelSize, 1);
  const pp = sizeOr('options.pipelineModelParallelSize', o.pipelineModelParallelSize, 1);
  const pcp = sizeOr('options.prefillContextModelParallelSize', o.prefillContextModelParallelSize, 1);
  const dcp = sizeOr('options.decodeContextModelParallelSize', o.decodeContextModelParallelSize, 1);
  const dp = sizeOr('options.dataParallelSize', o.dataParallelSize, 1);
  const isMoe = boolOr('options.isMoe', o.isMoe, true);
  checkVllmSizes(W, { tp, pcp, dcp, dp, pp });
  const e = W / (dp * pp * pcp * tp);
  const shape = [e, dp, pp, pcp, tp];
  const grid = (perm: number[], size: number) => blocks(permutedRanks(shape, perm), size);
  const groups: VllmGroups = {
    tp: grid([0, 1, 2, 3, 4], tp),
    dcp: grid(dcp > 1 ? [0, 1, 2, 4, 3] : [0, 1, 2, 3, 4], dcp),
    pcp: grid([0, 1, 2, 4, 3], pcp),
    pp: grid([0, 1, 4, 3, 2], pp),
    dp: grid([0, 4, 2, 3, 1], dp),
    ...(isMoe ? { ep: grid([0, 2, 1, 3, 4], dp * pcp * tp) } : {}),
    world: [Array.from({ length: W }, (_, r) => r)],
  };
  const index = makeCoordinatorIndex<VllmKind>('vllm', groups as Record<VllmKind, number[][]>);
  return {
    flavor: 'vllm',
    worldSize: W,
    sizes: { externalDp: e, dp, pp, pcp, tp, dcp },
    groups,
    groupsOf: (rank) => index.groupsOf(rank),
    rankInfo: (rank) => index.rankInfo(rank),
  };
}
