/**
 * planMegatronGroups against upstream: the per-rank tests of Megatron-LM's
 * `tests/unit_tests/test_parallel_state.py` (world size 8, both upstream orders), the docstring
 * examples of `parallel_state.py`, and golden vectors recorded by running upstream itself.
 */
import test from 'ava';
import { ErrorCodes } from '../../src/errors.js';
import { createHierarchicalGroups, hybridDpCpGroupSizes, planMegatronGroups } from '../../src/topology/index.js';
import type { MegatronOptions } from '../../src/topology/index.js';
import { UPSTREAM_MEGATRON } from './fixtures/upstream-groups.js';

const WORLD = 8;
const ORDERS = ['tp-cp-ep-dp-pp', 'tp-cp-pp-ep-dp'];
const ranks = (n: number) => Array.from({ length: n }, (_, r) => r);
const mod = (a: number, n: number) => ((a % n) + n) % n;

test('initialize errors of test_initialize_and_destroy_model_parallel, then tp 2 x pp 4 builds every group', (t) => {
  for (const order of ORDERS) {
    t.throws(() => planMegatronGroups(WORLD, { tensorModelParallelSize: 2 * WORLD, order }), { instanceOf: RangeError });
    t.throws(() => planMegatronGroups(WORLD, { pipelineModelParallelSize: 2 * WORLD, order }), { instanceOf: RangeError });
    t.throws(() => planMegatronGroups(WORLD, { pipelineModelParallelSize: WORLD, tensorModelParallelSize: WORLD, order }), { instanceOf: RangeError });
    t.throws(() => planMegatronGroups(WORLD, { virtualPipelineModelParallelSize: 2, order }), { instanceOf: RangeError });
    const plan = planMegatronGroups(WORLD, { tensorModelParallelSize: 2, pipelineModelParallelSize: 4, order });
    for (const kind of ['mp', 'tp', 'pp', 'dp', 'ep', 'expertTp', 'expertDp', 'expertTpEpPp'] as const) {
      t.true(plan.groups[kind].length > 0, kind);
      for (const r of ranks(WORLD)) t.true(plan.groupsOf(r)[kind]!.includes(r), `${kind} ${r}`);
    }
  }
});

test('test_pipeline_parallel_initializations: tp 2, pp 4', (t) => {
  for (const order of ORDERS) {
    const plan = planMegatronGroups(WORLD, { tensorModelParallelSize: 2, pipelineModelParallelSize: 4, order });
    for (const rank of ranks(WORLD)) {
      const i = plan.rankInfo(rank);
      t.is(i.pipelineModelParallelFirstRank, rank % 2);
      t.is(i.dataParallelSrcRank, rank);
      t.is(i.pipelineModelParallelNextRank, mod(rank + 2, WORLD));
      t.is(i.pipelineModelParallelPrevRank, mod(rank - 2, WORLD));
    }
  }
});

test('per-rank getters of test_parallel_state.py (world-sized tp, pp, cp, ep, etp)', (t) => {
  for (const order of ORDERS) {
    const pp = planMegatronGroups(WORLD, { pipelineModelParallelSize: WORLD, order });
    const tp = planMegatronGroups(WORLD, { tensorModelParallelSize: WORLD, order });
    const etp = planMegatronGroups(WORLD, { expertTensorParallelSize: WORLD, order });
    for (const rank of ranks(WORLD)) {
      const p = pp.rankInfo(rank);
      t.is(p.dataParallelSrcRank, rank);
      t.is(p.dataParallelWorldSize, 1);
      t.is(p.dataParallelRank, 0);
      t.is(p.pipelineModelParallelWorldSize, WORLD);
      t.is(p.pipelineModelParallelRank, rank);
      t.is(p.isPipelineFirstStage, rank === 0);
      t.is(p.isPipelineLastStage, rank === WORLD - 1);
      t.is(tp.rankInfo(rank).tensorModelParallelWorldSize, WORLD);
      t.is(tp.rankInfo(rank).tensorModelParallelRank, rank);
      t.is(tp.rankInfo(rank).tensorModelParallelSrcRank, Math.floor(rank / WORLD) * WORLD);
      t.is(etp.rankInfo(rank).expertTensorParallelWorldSize, WORLD);
      t.is(etp.rankInfo(rank).expertTensorParallelRank, rank);
    }
  }
  const cp = planMegatronGroups(WORLD, { contextParallelSize: WORLD });
  const ep = planMegatronGroups(WORLD, { expertModelParallelSize: WORLD });
  for (const rank of ranks(WORLD)) {
    t.is(cp.rankInfo(rank).contextParallelRank, rank);
    t.is(ep.rankInfo(rank).expertModelParallelRank, rank);
  }
});

const CONSISTENT: [number, number, number][] = [[1, 8, 1], [2, 4, 1], [4, 2, 1], [8, 1, 1], [4, 1, 2], [1, 1, 8], [1, 1, 2], [2, 1, 4]];

test('test_different_initialize_order_consistency: tp-ep-dp-pp and tp-pp-ep-dp agree', (t) => {
  for (const [tp, pp, ep] of CONSISTENT) {
    const o = { tensorModelParallelSize: tp, pipelineModelParallelSize: pp, expertModelParallelSize: ep };
    const a = planMegatronGroups(WORLD, { ...o, order: 'tp-ep-dp-pp' });
    const b = planMegatronGroups(WORLD, { ...o, order: 'tp-pp-ep-dp' });
    for (const rank of ranks(WORLD)) {
      const [ia, ib] = [a.rankInfo(rank), b.rankInfo(rank)];
      for (const k of ['tensorModelParallelRank', 'dataParallelRank', 'pipelineModelParallelRank', 'expertModelParallelRank'] as const) {
        t.is(ia[k], ib[k], `${k} rank ${rank} tp ${tp} pp ${pp} ep ${ep}`);
      }
      const [ga, gb] = [a.groupsOf(rank), b.groupsOf(rank)];
      for (const k of ['tp', 'dp', 'pp', 'expertDp', 'cp', 'mp', 'expertTpEp', 'tpDp'] as const) t.deepEqual(ga[k], gb[k], `${k} rank ${rank}`);
    }
  }
});

test('test_different_initialize_order_unconsistency (ep 1 rows; with ep 2 current upstream refuses tp-pp-ep-dp)', (t) => {
  for (const [tp, pp] of [[1, 2], [1, 4], [2, 2]]) {
    const o = { tensorModelParallelSize: tp, pipelineModelParallelSize: pp };
    const a = planMegatronGroups(WORLD, { ...o, order: 'tp-ep-dp-pp' });
    const b = planMegatronGroups(WORLD, { ...o, order: 'tp-pp-ep-dp' });
    for (const rank of ranks(WORLD)) {
      const [ga, gb] = [a.groupsOf(rank), b.groupsOf(rank)];
      t.deepEqual(ga.tp, gb.tp);
      t.notDeepEqual(ga.dp, gb.dp);
      t.notDeepEqual(ga.pp, gb.pp);
      t.deepEqual(ga.cp, gb.cp);
      t.notDeepEqual(ga.tpDp, gb.tpDp);
      t.notDeepEqual(ga.mp, gb.mp);
    }
    t.throws(() => planMegatronGroups(WORLD, { ...o, expertModelParallelSize: 2, order: 'tp-pp-ep-dp' }), {
      message: /does not end with pp.*data-parallel size of attention \(\d+\) and of expert layers \(\d+\)/,
    });
  }
});

test('test_hybrid_dp_cp_groups: one group per power of two below the dp-cp size', (t) => {
  for (const [tp, cp] of [[1, 2], [1, 1]]) {
    const plan = planMegatronGroups(8, { tensorModelParallelSize: tp, contextParallelSize: cp, hybridContextParallel: true });
    const sizes = hybridDpCpGroupSizes(plan.rankInfo(0).dataParallelWorldSizeWithContextParallel);
    t.deepEqual(sizes, [2, 4]);
    plan.groups.hybridDpCp!.forEach((level, i) => level.forEach((g) => t.is(g.length, sizes[i]!)));
  }
  // The research notes: len 8 -> 2, 4; len 12 -> 2, 4; len 16 -> 2, 4, 8; len 2 -> none.
  t.deepEqual([8, 12, 16, 2].map(hybridDpCpGroupSizes), [[2, 4], [2, 4], [2, 4, 8], []]);
});

test('docstring of initialize_model_parallel: 16 GPUs, tp 2, pp 4; context parallel: 8 GPUs, tp 4, cp 2', (t) => {
  const plan = planMegatronGroups(16, { tensorModelParallelSize: 2, pipelineModelParallelSize: 4 });
  t.deepEqual(plan.groups.dp, [[0, 2], [1, 3], [4, 6], [5, 7], [8, 10], [9, 11], [12, 14], [13, 15]]);
  t.deepEqual(plan.groups.tp, [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9], [10, 11], [12, 13], [14, 15]]);
  t.deepEqual(plan.groups.pp, [[0, 4, 8, 12], [1, 5, 9, 13], [2, 6, 10, 14], [3, 7, 11, 15]]);
  // The research notes: W16 tp2 pp4 -> one distributed-optimizer instance, unsorted concatenation.
  t.deepEqual(plan.groups.intraDistOptInstance, [[0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15]]);
  const cp = planMegatronGroups(8, { tensorModelParallelSize: 4, contextParallelSize: 2 });
  t.deepEqual(cp.groups.cp, [[0, 4], [1, 5], [2, 6], [3, 7]]);
});

test('docstring of create_hierarchical_groups: 16 GPUs, sizes [2, 2, 4]', (t) => {
  const levels = createHierarchicalGroups(0, ranks(16), [2, 2, 4]);
  t.deepEqual(levels[0], [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9], [10, 11], [12, 13], [14, 15]]);
  t.deepEqual(levels[1], [[0, 2], [1, 3], [4, 6], [5, 7], [8, 10], [9, 11], [12, 14], [13, 15]]);
  t.deepEqual(levels[2], [[0, 4, 8, 12], [1, 5, 9, 13], [2, 6, 10, 14], [3, 7, 11, 15]]);
  t.throws(() => createHierarchicalGroups(0, ranks(12), [2, 2, 4]), { instanceOf: RangeError, message: /12 ranks.*\[2, 2, 4\].*16/ });
});

test('golden vectors recorded from upstream: groups, kinds, order, per-rank getters and errors', (t) => {
  for (const c of UPSTREAM_MEGATRON) {
    const at = `world ${c.worldSize} ${JSON.stringify(c.options)}`;
    if (c.error !== undefined) {
      t.throws(() => planMegatronGroups(c.worldSize, c.options as MegatronOptions), { instanceOf: RangeError, code: ErrorCodes.OUT_OF_RANGE }, `${at}: ${c.error}`);
      continue;
    }
    const plan = planMegatronGroups(c.worldSize, c.options as MegatronOptions);
    const ours = JSON.parse(JSON.stringify(plan.groups)) as Record<string, unknown>;
    t.deepEqual(new Set(Object.keys(ours)), new Set(Object.keys(c.groups!)), `kinds, ${at}`);
    for (const [kind, groups] of Object.entries(c.groups!)) t.deepEqual(ours[kind], groups, `${kind}, ${at}`);
    for (const [rank, info] of Object.entries(c.rankInfo!)) {
      const mine = plan.rankInfo(Number(rank)) as unknown as Record<string, unknown>;
      for (const [k, v] of Object.entries(info)) t.deepEqual(mine[k], v, `${k} on rank ${rank}, ${at}`);
    }
  }
});

test('virtual pipeline: stages per vp_stage, embedding membership per stage', (t) => {
  const plan = planMegatronGroups(8, { pipelineModelParallelSize: 4, virtualPipelineModelParallelSize: 2, tensorModelParallelSize: 2 });
  const first = plan.rankInfo(0);
  t.is(first.virtualPipelineModelParallelWorldSize, 2);
  t.is(first.virtualPipelineModelParallelRank, 0);
  t.deepEqual(first.virtualStages.map((s) => [s.isPipelineFirstStage, s.isPipelineLastStage, s.isRankInEmbeddingGroup]), [[true, false, true], [false, false, false]]);
  const last = plan.rankInfo(6);
  t.deepEqual(last.virtualStages.map((s) => [s.isPipelineFirstStage, s.isPipelineLastStage, s.isRankInEmbeddingGroup]), [[false, false, false], [false, true, true]]);
  const middle = plan.rankInfo(2);
  t.false(middle.isRankInEmbeddingGroup);
  t.false(middle.isRankInPositionEmbeddingGroup);
  t.deepEqual(planMegatronGroups(8).rankInfo(3).virtualStages, []);
});

test('rankOffset / localWorldSize place the model on ranks offset .. offset + local - 1', (t) => {
  const plan = planMegatronGroups(16, { tensorModelParallelSize: 2, rankOffset: 8, localWorldSize: 8 });
  t.deepEqual(plan.groups.tp, [[8, 9], [10, 11], [12, 13], [14, 15]]);
  t.deepEqual(plan.groupsOf(3), {});
  t.throws(() => plan.rankInfo(3), { instanceOf: RangeError, message: /rank 3 is in no tp group.*8\.\.15/ });
  t.is(plan.rankInfo(9).tensorModelParallelRank, 1);
  // Without localWorldSize the whole world is shifted past its end, as upstream does (no check).
  t.deepEqual(planMegatronGroups(4, { rankOffset: 2, tensorModelParallelSize: 2 }).groups.tp, [[2, 3], [4, 5]]);
});

test('custom embedding stages', (t) => {
  const plan = planMegatronGroups(8, {
    pipelineModelParallelSize: 4,
    getEmbeddingRanks: (pp) => [pp[0]!, pp[1]!, pp[pp.length - 1]!],
    getPositionEmbeddingRanks: (pp) => [pp[pp.length - 1]!],
  });
  t.deepEqual(plan.groups.embedding[0], [0, 2, 6]);
  t.deepEqual(plan.groups.positionEmbedding[1], [7]);
  t.deepEqual(plan.rankInfo(2).virtualStages, []);
  t.true(plan.rankInfo(2).isRankInEmbeddingGroup);
  t.throws(() => planMegatronGroups(8, { pipelineModelParallelSize: 2, getEmbeddingRanks: () => [-1] }), { message: /getEmbeddingRanks/ });
});
