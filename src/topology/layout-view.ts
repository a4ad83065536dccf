/**
 * One flavour-independent view of a plan for the text and SVG renderers: a title, the panels (one per
 * group kind, level kinds split into one panel per level) and each rank's coordinates (its index in the
 * group of each main axis, as upstream's getters report it).
 */
import type { FastVideoPlan } from './fastvideo.js';
import type { MegatronPlan } from './megatron.js';
import type { VllmPlan } from './vllm.js';

/** A plan of any flavour. */
export type TopologyPlan = MegatronPlan | VllmPlan | FastVideoPlan;

/** One group kind (or one level of a level kind). */
export interface LayoutPanel {
  /** `tp`, `dpCp`, `hierarchicalCp[1]`, ... */
  kind: string;
  groups: number[][];
}

/** What the renderers draw. */
export interface LayoutView {
  flavor: TopologyPlan['flavor'];
  /** Ranks drawn: `0 .. rankCount - 1` (the world, or more when an offset pushes groups past it). */
  rankCount: number;
  /** `"megatron: world 16, tp 2, pp 2, ..."`. */
  title: string;
  panels: LayoutPanel[];
  /** Coordinate names, e.g. `['tp', 'cp', 'dp', 'pp']`. */
  axes: string[];
  /** The rank's coordinate on each axis, or `null` for a rank outside the plan's groups. */
  coordinates(rank: number): number[] | null;
}

function panelsOf(groups: object): LayoutPanel[] {
  const panels: LayoutPanel[] = [];
  for (const [kind, value] of Object.entries(groups) as [string, unknown[]][]) {
    if (kind === 'hierarchicalCp' || kind === 'hybridDpCp') {
      (value as number[][][]).forEach((level, i) => panels.push({ kind: `${kind}[${i}]`, groups: level }));
    } else {
      panels.push({ kind, groups: value as number[][] });
    }
  }
  return panels;
}

function megatronTitle(plan: MegatronPlan): string {
  const s = plan.sizes;
  const parts = [
    `world ${plan.worldSize}`, `tp ${s.tp}`, `pp ${s.pp}`, `cp ${s.cp}`, `dp ${s.dp}`, `ep ${s.ep}`, `etp ${s.etp}`,
    `expertDp ${s.expertDp}`,
  ];
  if (s.vpp !== null) parts.push(`vpp ${s.vpp}`);
  if (s.numDistributedOptimizerInstances > 1) parts.push(`distOptInstances ${s.numDistributedOptimizerInstances}`);
  if (s.gtpRemat > 1) parts.push(`gtpRemat ${s.gtpRemat}`);
  if (s.expertGtpRemat > 1) parts.push(`expertGtpRemat ${s.expertGtpRemat}`);
  if (s.hierarchicalContextParallelSizes) {
    parts.push(`hierarchicalCp [${s.hierarchicalContextParallelSizes.join(',')}]`);
  }
  if (s.hybridContextParallel) parts.push('hybridCp');
  if (s.rankOffset > 0 || s.localWorldSize !== plan.worldSize) {
    parts.push(`ranks ${s.rankOffset}..${s.rankOffset + s.localWorldSize - 1}`);
  }
  parts.push(`order ${s.order}`);
  return `megatron: ${parts.join(', ')}`;
}

function megatronView(plan: MegatronPlan): Pick<LayoutView, 'title' | 'axes' | 'coordinates'> {
  const s = plan.sizes;
  const expert = s.ep > 1 || s.etp !== s.tp;
  const axes = ['tp', 'cp', 'dp', 'pp', ...(expert ? ['ep', 'etp', 'edp'] : [])];
  const coordinates = (rank: number): number[] | null => {
    let i;
    try {
      i = plan.rankInfo(rank);
    } catch {
      return null;
    }
    const base = [i.tensorModelParallelRank, i.contextParallelRank, i.dataParallelRank, i.pipelineModelParallelRank];
    return expert ? [...base, i.expertModelParallelRank, i.expertTensorParallelRank, i.expertDataParallelRank] : base;
  };
  return { title: megatronTitle(plan), axes, coordinates };
}

function coordinatorView(
  plan: VllmPlan | FastVideoPlan, axes: string[], title: string,
): Pick<LayoutView, 'title' | 'axes' | 'coordinates'> {
  const coordinates = (rank: number): number[] | null => {
    let info: Record<string, { rankInGroup: number }>;
    try {
      info = plan.rankInfo(rank) as Record<string, { rankInGroup: number }>;
    } catch {
      return null;
    }
    return axes.map((a) => info[a]!.rankInGroup);
  };
  return { title, axes, coordinates };
}

/** Builds the renderers' view of any plan. */
export function toLayoutView(plan: TopologyPlan): LayoutView {
  const panels = panelsOf(plan.groups);
  let maxRank = plan.worldSize - 1;
  for (const p of panels) for (const g of p.groups) for (const r of g) maxRank = Math.max(maxRank, r);
  let rest: Pick<LayoutView, 'title' | 'axes' | 'coordinates'>;
  if (plan.flavor === 'megatron') {
    rest = megatronView(plan);
  } else if (plan.flavor === 'vllm') {
    const s = plan.sizes;
    const axes = ['tp', 'dcp', 'pcp', 'pp', 'dp', ...(plan.groups.ep ? ['ep'] : [])];
    const title =
      `vllm: world ${plan.worldSize}, externalDp ${s.externalDp}, dp ${s.dp}, pp ${s.pp}, pcp ${s.pcp}, tp ${s.tp}, ` +
        `dcp ${s.dcp}`;
    rest = coordinatorView(plan, axes, title);
  } else {
    const s = plan.sizes;
    rest = coordinatorView(
      plan, ['tp', 'sp', 'dp'], `fastvideo: world ${plan.worldSize}, tp ${s.tp}, sp ${s.sp}, dp ${s.dp}`,
    );
  }
  return { flavor: plan.flavor, rankCount: maxRank + 1, panels, ...rest };
}

/** `"4 groups of 2"`, `"8 groups of 1-4"`, `"no groups"`. */
export function describeGroups(groups: readonly number[][]): string {
  if (groups.length === 0) return 'no groups';
  const sizes = groups.map((g) => g.length);
  const lo = Math.min(...sizes);
  const hi = Math.max(...sizes);
  return `${groups.length} group${groups.length === 1 ? '' : 's'} of ${lo === hi ? lo : `${lo}-${hi}`}`;
}
