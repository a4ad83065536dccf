import test, { type ExecutionContext } from 'ava';
import { ErrorCodes } from '../../src/errors.js';
import { withRanks } from '../../src/testing/index.js';
import { hybridDpCpGroupSizes, planMegatronGroups, type MegatronOptions, type MegatronPlan } from '../../src/topology/index.js';
import { assertError, assertNotInitialized, distinctGroups, expectedView } from './helpers.js';

const fixture = new URL('../fixtures/state-megatron.js', import.meta.url);

type Result = Record<string, any>;
type Report = { noEnvironment: Result; notInitialized: Result; results: Result[] };

const CONFIGS: Record<number, MegatronOptions[]> = {
  4: [
    { tensorModelParallelSize: 2, pipelineModelParallelSize: 2 },
    { contextParallelSize: 2, expertModelParallelSize: 2, hybridContextParallel: true },
    { pipelineModelParallelSize: 2, virtualPipelineModelParallelSize: 3 },
  ],
  8: [
    { tensorModelParallelSize: 2, pipelineModelParallelSize: 2, virtualPipelineModelParallelSize: 2 },
    { tensorModelParallelSize: 2, contextParallelSize: 4, hierarchicalContextParallelSizes: [2, 2] },
    { tensorModelParallelSize: 2, expertModelParallelSize: 2, expertTensorParallelSize: 1, numDistributedOptimizerInstances: 2 },
    { pipelineModelParallelSize: 4 },
    { tensorModelParallelSize: 4, contextParallelSize: 2 },
    { tensorModelParallelSize: 2, pipelineModelParallelSize: 2, order: 'tp-pp-dp' },
    { tensorModelParallelSize: 3 },
  ],
};

/** rankInfo keys that no getter of multirank/megatron answers (the instance's members in upstream order included). */
const GTP_KEYS = [
  'gtpWeightRematRank', 'gtpWeightRematWorldSize', 'expertGtpWeightRematRank', 'expertGtpWeightRematWorldSize',
  'intraDistributedOptimizerInstanceGlobalRanks',
];
/** Kinds a getter answers with another kind's group when the plan does not create them. */
const FALLBACK: Record<string, string> = { intraPartialDpCp: 'dpCp', intraPartialExpertDp: 'expertDp' };
const ABSENT_WORDS: Record<string, string[]> = {
  embedding: ['embedding group', 'getEmbeddingRanks'],
  positionEmbedding: ['position embedding group'],
  interPartialExpertDp: ['inter distributed optimizer instance group (shared by attention and MLP/expert) is not initialized', 'numDistributedOptimizerInstances > 1'],
};

const sorted = (ranks: readonly number[]) => [...ranks].sort((a, b) => a - b);

function checkGroups(t: ExecutionContext, plan: MegatronPlan, rank: number, r: Result): void {
  const mine = plan.groupsOf(rank) as Record<string, number[] | (number[] | null)[] | undefined>;
  for (const [kind, view] of Object.entries(r.groups)) {
    const [base, level] = kind.split('#');
    const ranks = level === undefined ? mine[kind] ?? mine[FALLBACK[kind] ?? ''] : (mine[base!] as number[][])[Number(level)];
    if (ranks === undefined) assertNotInitialized(t, view, ...(ABSENT_WORDS[kind] ?? [kind]));
    else t.deepEqual(view, expectedView(sorted(ranks as number[]), rank), `rank ${rank} ${kind}`);
  }
  t.is(Object.keys(r.groups).filter((k) => k.startsWith('hierarchicalCp#')).length, plan.sizes.hierarchicalContextParallelSizes?.length ?? 0);
}

function checkExtras(t: ExecutionContext, plan: MegatronPlan, rank: number, e: Result): void {
  const mine = plan.groupsOf(rank);
  t.deepEqual(e.overridden, { tpWorldSize: 7, first: true, etpWorldSize: plan.sizes.etp });
  assertError(t, e.badSetting, ErrorCodes.OUT_OF_RANGE, 'tensorModelParallelRank', '-1');
  t.deepEqual([e.gloo, e.modulo, e.amax], [true, true, [true, true, true]]);
  t.is(e.uncheckedEmbedding, mine.embedding === undefined);
  t.deepEqual(e.hierarchical, mine.hierarchicalCp?.map((g) => sorted(g!)) ?? null);
  if (mine.hierarchicalCp === undefined) assertNotInitialized(t, e.hierarchicalError, 'hierarchical context parallel groups', 'hierarchicalContextParallelSizes');
  else t.is(e.hierarchicalError, null);
  assertError(t, e.partialWithoutCp, ErrorCodes.OUT_OF_RANGE, 'Partial DP', 'withContextParallel');
  if (plan.sizes.vpp === null) t.is(e.noVpStage, null);
  else assertError(t, e.noVpStage, ErrorCodes.INVALID_ARG_TYPE, 'vpStage');
  t.deepEqual(e.cpGlobalRanks, mine.cp);
  t.deepEqual(e.flags, [true, false, true]);
  const n = plan.worldSize;
  t.deepEqual(e.ends, rank === 0 || rank === n - 1 ? expectedView([0, n - 1], rank) : null);
  t.deepEqual(e.all, expectedView(Array.from({ length: n }, (_, r) => r), rank));
  const dpCp = plan.sizes.dp * plan.sizes.cp;
  const sizes = plan.sizes.hybridContextParallel ? hybridDpCpGroupSizes(dpCp) : [];
  t.deepEqual(e.hybrid, [2, 4, 3].map((size) =>
    size === dpCp ? sorted(mine.dpCp!) : sizes.includes(size) ? sorted(mine.hybridDpCp![sizes.indexOf(size)]!) : null));
  t.deepEqual(e.buffer.shapes, [[2, 3], [6], [3, 4]]);
  t.deepEqual(e.buffer.b, Array(6).fill(rank + 1));
  t.deepEqual(e.buffer.c, Array(4).fill(rank + 1));
  assertError(t, e.buffer.badShape, ErrorCodes.OUT_OF_RANGE, 'shape[0]');
  assertNotInitialized(t, e.buffer.afterDestroy, 'global memory buffer');
  assertNotInitialized(t, e.hybridError, 'hybrid data context parallel groups', plan.sizes.hybridContextParallel ? 'no hybrid group of 3' : 'hybridContextParallel');
}

function checkNotInitialized(t: ExecutionContext, r: Result, hint: string): void {
  for (const key of ['tp', 'tpRank', 'dpWorldSize', 'firstRank', 'embedding']) assertNotInitialized(t, r[key], hint);
  t.true(r.unchecked);
  // Setters need no group (upstream's tests set them before initialize_model_parallel).
  t.deepEqual([r.setter, r.overridden], [null, 2]);
  t.deepEqual(r.vp, [null, null]);
  t.deepEqual(r.flags, [false, false]);
  assertNotInitialized(t, r.buffer, 'global memory buffer', 'initializeModelParallel');
}

function checkConfig(t: ExecutionContext, n: number, options: MegatronOptions, results: Result[]): void {
  let plan: MegatronPlan;
  try {
    plan = planMegatronGroups(n, options);
  } catch (error) {
    for (const r of results) assertError(t, r.failed, (error as { code: string }).code, 'tensorModelParallelSize (3)');
    return;
  }
  results.forEach((r, rank) => {
    t.is(r.failed, undefined, JSON.stringify(r.failed));
    const expected: Record<string, unknown> = { ...plan.rankInfo(rank) };
    for (const key of GTP_KEYS) delete expected[key];
    t.deepEqual(r.info, expected, `rank ${rank} getters`);
    checkGroups(t, plan, rank, r);
    checkExtras(t, plan, rank, r.extras);
    checkNotInitialized(t, r.afterDestroy, 'initializeModelParallel');
    t.false(r.afterDestroy.inEmbedding);
  });
}

for (const n of [4, 8]) {
  test(`Megatron getters on ${n} ranks match planMegatronGroups for ${CONFIGS[n]!.length} configurations, re-initializing between them`, async (t) => {
    const reports = (await withRanks(n, { module: fixture, exportName: 'configs' }, { args: { configs: CONFIGS[n] } })) as Report[];
    for (const report of reports) {
      checkNotInitialized(t, report.noEnvironment, 'initDistributedEnvironment');
      assertNotInitialized(t, report.noEnvironment.inEmbedding, 'initDistributedEnvironment');
      checkNotInitialized(t, report.notInitialized, 'initializeModelParallel');
      t.false(report.notInitialized.inEmbedding);
    }
    CONFIGS[n]!.forEach((options, i) => checkConfig(t, n, options, reports.map((r) => r.results[i]!)));
    if (n !== 8) return;
    const groups = (config: number, kind: string) => distinctGroups(reports.map((r) => r.results[config]!.groups[kind]));
    // Upstream's docstrings: tp=2 pp=2 (order tp-cp-ep-dp-pp) on 8 GPUs, tp=4 cp=2, and tp-pp-dp with sizes 2-2-2.
    t.deepEqual(groups(0, 'tp'), [[0, 1], [2, 3], [4, 5], [6, 7]]);
    t.deepEqual(groups(0, 'dp'), [[0, 2], [1, 3], [4, 6], [5, 7]]);
    t.deepEqual(groups(0, 'pp'), [[0, 4], [1, 5], [2, 6], [3, 7]]);
    t.deepEqual(groups(0, 'embedding'), [[0, 4], [1, 5], [2, 6], [3, 7]]);
    t.deepEqual(groups(4, 'cp'), [[0, 4], [1, 5], [2, 6], [3, 7]]);
    t.deepEqual(groups(5, 'dp'), [[0, 4], [1, 5], [2, 6], [3, 7]]);
    t.deepEqual(groups(1, 'hierarchicalCp#0'), [[0, 2], [1, 3], [4, 6], [5, 7]]);
    t.deepEqual(groups(1, 'hierarchicalCp#1'), [[0, 4], [1, 5], [2, 6], [3, 7]]);
  });
}
