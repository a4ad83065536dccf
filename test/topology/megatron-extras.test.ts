/**
 * The Megatron groups beside the model-parallel ones, against golden vectors recorded from upstream:
 * the gloo twins (`plan.glooKinds`) and where they fall in the creation order, the intra
 * distributed-optimizer instance in `rankInfo`, and `create_all_gather_groups`.
 */
import test from 'ava';
import { ErrorCodes } from '../../src/errors.js';
import { planMegatronAllGatherGroups, planMegatronGroups, type MegatronOptions, type MegatronPlan } from '../../src/topology/index.js';
import { UPSTREAM_MEGATRON_EXTRAS } from './fixtures/upstream-megatron-extras.js';

const at = (c: { worldSize: number; options: unknown }) => `world ${c.worldSize} ${JSON.stringify(c.options)}`;

/** Our creation sequence: the plan's kinds in order, levels as `<kind>#<i>`, each gloo twin right after its kind. */
function creation(plan: MegatronPlan): [string, number[]][] {
  const out: [string, number[]][] = [];
  for (const [kind, value] of Object.entries(plan.groups) as [string, number[][] | number[][][]][]) {
    if (kind === 'hierarchicalCp' || kind === 'hybridDpCp') {
      (value as number[][][]).forEach((level, i) => level.forEach((g) => out.push([`${kind}#${i}`, g])));
      continue;
    }
    for (const g of value as number[][]) out.push([kind, g]);
    if ((plan.glooKinds as readonly string[]).includes(kind)) for (const g of value as number[][]) out.push([`${kind}-gloo`, g]);
  }
  return out;
}

/** For each member set, the kinds of its groups in creation order (what a group's occurrence number depends on). */
function bySet(sequence: [string, number[]][]): Record<string, string[]> {
  const m = new Map<string, string[]>();
  for (const [kind, ranks] of sequence) {
    const key = [...ranks].sort((a, b) => a - b).join(',');
    m.set(key, [...(m.get(key) ?? []), kind]);
  }
  return Object.fromEntries([...m].sort(([a], [b]) => a.localeCompare(b)));
}

test('gloo twins: the kinds and members upstream gives them, and the same order among groups of equal members', (t) => {
  for (const c of UPSTREAM_MEGATRON_EXTRAS) {
    const plan = planMegatronGroups(c.worldSize, c.options as MegatronOptions);
    const theirs = c.creation;
    const ours = creation(plan);
    const glooOf = (seq: [string, number[]][], kind: string) => seq.filter(([k]) => k === `${kind}-gloo`).map(([, g]) => g);
    const glooKinds = [...new Set(theirs.filter(([k]) => k.endsWith('-gloo')).map(([k]) => k.slice(0, -5)))];
    t.deepEqual([...plan.glooKinds], glooKinds, `gloo kinds, ${at(c)}`);
    for (const kind of glooKinds) t.deepEqual(glooOf(ours, kind), glooOf(theirs, kind), `${kind}-gloo, ${at(c)}`);
    // Each rank creates only its own groups: only groups with the same members must come in upstream's order.
    t.deepEqual(bySet(ours), bySet(theirs), `order per member set, ${at(c)}`);
  }
});

test('createGlooProcessGroups: false, gtpRematSize > 1: no gloo twins; expertGtpRematSize > 1: dense ones only', (t) => {
  t.deepEqual(planMegatronGroups(8, { createGlooProcessGroups: false }).glooKinds, []);
  t.deepEqual(planMegatronGroups(8, { tensorModelParallelSize: 2, gtpRematSize: 2 }).glooKinds, []);
  t.deepEqual(planMegatronGroups(8, { expertModelParallelSize: 2, expertGtpRematSize: 2 }).glooKinds, ['dpCp', 'dp']);
  t.deepEqual(planMegatronGroups(8, { numDistributedOptimizerInstances: 2 }).glooKinds,
    ['dpCp', 'intraPartialDpCp', 'dp', 'expertDp', 'intraPartialExpertDp', 'interPartialExpertDp']);
});

test('rankInfo: the intra distributed-optimizer instance of each rank, as upstream gives it', (t) => {
  for (const c of UPSTREAM_MEGATRON_EXTRAS) {
    const plan = planMegatronGroups(c.worldSize, c.options as MegatronOptions);
    for (const [rank, r] of Object.entries(c.ranks)) {
      if (r.intraDistOpt === null) {
        t.throws(() => plan.rankInfo(Number(rank)), { instanceOf: RangeError }, `rank ${rank}, ${at(c)}`);
        continue;
      }
      const i = plan.rankInfo(Number(rank));
      const ours = [
        i.intraDistributedOptimizerInstanceGlobalRanks, i.intraDistributedOptimizerInstanceRank,
        i.intraDistributedOptimizerInstanceWorldSize,
      ];
      t.deepEqual(ours, [r.intraDistOpt.ranks, r.intraDistOpt.rank, r.intraDistOpt.size], `rank ${rank}, ${at(c)}`);
    }
  }
});

test('planMegatronAllGatherGroups from each rank\'s getter values gives upstream\'s create_all_gather_groups', (t) => {
  let checked = 0;
  for (const c of UPSTREAM_MEGATRON_EXTRAS) {
    const plan = planMegatronGroups(c.worldSize, c.options as MegatronOptions);
    for (const [rank, r] of Object.entries(c.ranks)) {
      if (r.intraDistOpt === null) continue; // outside the model: upstream's is_initialized() is false there
      const i = plan.rankInfo(Number(rank));
      const sizes = {
        tp: i.tensorModelParallelWorldSize, cp: i.contextParallelWorldSize, dp: i.dataParallelWorldSize,
        pp: i.pipelineModelParallelWorldSize, ep: i.expertModelParallelWorldSize, etp: i.expertTensorParallelWorldSize,
        expertDp: i.expertDataParallelWorldSize, gtpRemat: i.gtpWeightRematWorldSize, expertGtpRemat: i.expertGtpWeightRematWorldSize,
      };
      for (const [flavour, forExpertParallelism] of [['dense', false], ['expert', true]] as const) {
        const expected = r.allGather[flavour];
        const where = `rank ${rank} ${flavour}, ${at(c)}`;
        if (typeof expected === 'string') {
          t.regex(expected, /outside world/, where);
          t.throws(() => planMegatronAllGatherGroups(c.worldSize, sizes, { forExpertParallelism }),
            { instanceOf: RangeError, code: ErrorCodes.OUT_OF_RANGE, message: /outside the world/ }, where);
          continue;
        }
        const groups = planMegatronAllGatherGroups(c.worldSize, sizes, { forExpertParallelism });
        const mine = (list: number[][] | null) => list?.find((g) => g.includes(Number(rank))) ?? null;
        t.deepEqual([mine(groups.dpCp), mine(groups.expertDp)], expected, where);
        checked++;
      }
    }
  }
  t.true(checked > 100);
});

test('planMegatronAllGatherGroups: the default order whatever the model used; arguments checked by name', (t) => {
  // tp-pp-dp puts dp-cp groups at [0, 4], ...; upstream rebuilds with tp-cp-ep-dp-pp: [0, 2], [1, 3], ...
  const plan = planMegatronGroups(8, { tensorModelParallelSize: 2, pipelineModelParallelSize: 2, order: 'tp-pp-dp' });
  t.deepEqual(plan.groups.dpCp, [[0, 4], [1, 5], [2, 6], [3, 7]]);
  const sizes = { tp: 2, cp: 1, dp: 2, pp: 2, ep: 1 };
  t.deepEqual(planMegatronAllGatherGroups(8, sizes), { dpCp: [[0, 2], [1, 3], [4, 6], [5, 7]], expertDp: null });
  t.deepEqual(planMegatronAllGatherGroups(8, { ...sizes, ep: 2, etp: 1, expertDp: 2 }, { forExpertParallelism: true }).expertDp,
    [[0, 2], [1, 3], [4, 6], [5, 7]]);
  t.throws(() => planMegatronAllGatherGroups(8, { ...sizes, tp: 0 }), { instanceOf: RangeError, message: /sizes\.tp/ });
  t.throws(() => planMegatronAllGatherGroups(8, { ...sizes, ep: 2 }, { forExpertParallelism: true }), { instanceOf: TypeError, message: /sizes\.etp/ });
  t.throws(() => planMegatronAllGatherGroups(8, null as never), { instanceOf: TypeError, message: /`sizes`/ });
  t.throws(() => planMegatronAllGatherGroups(8, sizes, { forExpertParallelism: 'yes' as never }), { instanceOf: TypeError, message: /forExpertParallelism/ });
  t.throws(() => planMegatronAllGatherGroups(4, sizes), { instanceOf: RangeError, message: /\[4, 6\] holds rank 4, outside the world of 4 ranks/ });
});
