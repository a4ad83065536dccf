import test, { type ExecutionContext } from 'ava';
import { ErrorCodes } from '../../src/errors.js';
import { withRanks } from '../../src/testing/index.js';
import { planFastVideoGroups, type FastVideoOptions } from '../../src/topology/index.js';
import { assertError, assertNotInitialized, distinctGroups, expectedView } from './helpers.js';

const fixture = new URL('../fixtures/state-fastvideo.js', import.meta.url);

type Result = Record<string, any>;

const CONFIGS: Record<number, FastVideoOptions[]> = {
  4: [
    { tensorModelParallelSize: 2, sequenceModelParallelSize: 2 },
    { sequenceModelParallelSize: 4 },
    { sequenceModelParallelSize: 3 },
  ],
  8: [
    { tensorModelParallelSize: 2, sequenceModelParallelSize: 4 },
    { tensorModelParallelSize: 8, sequenceModelParallelSize: 2, dataParallelSize: 4 },
    { tensorModelParallelSize: 4 },
  ],
};

function checkErrors(t: ExecutionContext, r: Result, hint: string): void {
  for (const key of ['tp', 'sp', 'dp', 'spRank', 'tpWorldSize']) assertNotInitialized(t, r[key], hint);
  t.false(r.initialized);
}

function checkConfig(t: ExecutionContext, n: number, options: FastVideoOptions, results: Result[]): void {
  let plan;
  try {
    plan = planFastVideoGroups(n, options);
  } catch (error) {
    for (const r of results) assertError(t, r.failed, (error as { code: string }).code, 'sequenceModelParallelSize');
    return;
  }
  results.forEach((r, rank) => {
    t.is(r.failed, undefined, JSON.stringify(r.failed));
    const info = plan.rankInfo(rank);
    for (const kind of ['tp', 'sp', 'dp'] as const) t.deepEqual(r.groups[kind], expectedView(info[kind].ranks, rank), `rank ${rank} ${kind}`);
    const pair = (ranks: number[]) => [ranks.length, ranks.indexOf(rank), ranks.length, ranks.indexOf(rank)];
    t.deepEqual(r.sizes, { tp: pair(info.tp.ranks), sp: pair(info.sp.ranks), dp: pair(info.dp.ranks), world: [n, rank] });
    const sp = info.sp.ranks, me = sp.indexOf(rank);
    t.deepEqual(r.allToAll4D, sp.flatMap((member) => [member * 100 + me * 2, member * 100 + me * 2 + 1]));
    t.is(r.device, 'cpu');
    t.deepEqual(r.sameNode, [sp.map(() => true), info.dp.ranks]);
    t.true(r.initialized);
    assertError(t, r.again, ErrorCodes.OUT_OF_RANGE, 'already initialized', 'fastvideo');
    checkErrors(t, r.afterDestroy, 'initializeModelParallel');
  });
}

for (const n of [4, 8]) {
  test(`FastVideo getters on ${n} ranks match planFastVideoGroups for ${CONFIGS[n]!.length} configurations, re-initializing between them`, async (t) => {
    const reports = (await withRanks(n, { module: fixture, exportName: 'configs' }, { args: { configs: CONFIGS[n] } })) as Result[];
    for (const report of reports) {
      checkErrors(t, report.noEnvironment, 'initDistributedEnvironment');
      assertNotInitialized(t, report.suffixNoEnvironment, 'initDistributedEnvironment');
      checkErrors(t, report.beforeInit, 'multirank/fastvideo');
    }
    CONFIGS[n]!.forEach((options, i) => checkConfig(t, n, options, reports.map((r) => r.results[i]!)));
    if (n !== 8) return;
    // Upstream: tp and sp groups of consecutive ranks, dp groups range(i, W, sp).
    const groups = (kind: string) => distinctGroups(reports.map((r) => r.results[0]!.groups[kind]));
    t.deepEqual(groups('tp'), [[0, 1], [2, 3], [4, 5], [6, 7]]);
    t.deepEqual(groups('sp'), [[0, 1, 2, 3], [4, 5, 6, 7]]);
    t.deepEqual(groups('dp'), [[0, 4], [1, 5], [2, 6], [3, 7]]);
  });
}

test('FastVideo suffix groups are named tp_<suffix> / sp, and patchTensorParallelGroup swaps them in and out', async (t) => {
  const n = 4;
  const reports = (await withRanks(n, { module: fixture, exportName: 'suffixes' })) as Result[];
  reports.forEach((r, rank) => {
    const pair = rank < 2 ? [0, 1] : [2, 3];
    t.is(r.again, null);
    assertError(t, r.mismatch, ErrorCodes.OUT_OF_RANGE, 'already initialized with tp 1');
    t.deepEqual(r.named, ['tp_model1', 'sp']);
    t.deepEqual(r.sp2, pair);
    t.deepEqual(r.patched, { size: 2, view: expectedView(pair, rank) });
    t.deepEqual(r.restored, expectedView([rank], rank));
    assertError(t, r.nested, ErrorCodes.OUT_OF_RANGE, 'already patched');
    t.true(r.viaHandle);
    assertError(t, r.uneven, ErrorCodes.OUT_OF_RANGE, 'tensorModelParallelSize (3)');
    assertError(t, r.badBackend, ErrorCodes.BACKEND_UNAVAILABLE, '"nccl"', '"threads"');
    assertNotInitialized(t, r.after.tp, 'initDistributedEnvironment');
  });
});
