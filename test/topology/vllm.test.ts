/**
 * planVllmGroups against upstream: the docstring of vLLM's `initialize_model_parallel`, the DCP layout
 * expectations of `tests/distributed/test_context_parallel_group_layout.py`, golden vectors recorded
 * from upstream, and the size rules of `ParallelConfig`.
 */
import test from 'ava';
import { ErrorCodes } from '../../src/errors.js';
import type { ExecutionContext } from 'ava';
import { planVllmGroups } from '../../src/topology/index.js';
import type { VllmOptions } from '../../src/topology/index.js';
import { UPSTREAM_VLLM } from './fixtures/upstream-groups.js';

test('docstring: 8 GPUs, tp 2, pp 4 -> 4 tp groups and 2 pp groups', (t) => {
  const plan = planVllmGroups(8, { tensorModelParallelSize: 2, pipelineModelParallelSize: 4 });
  t.deepEqual(plan.groups.tp, [[0, 1], [2, 3], [4, 5], [6, 7]]);
  t.deepEqual(plan.groups.pp, [[0, 2, 4, 6], [1, 3, 5, 7]]);
  t.deepEqual(plan.groups.world, [[0, 1, 2, 3, 4, 5, 6, 7]]);
});

test('reference notes: world 8, tp 2, pp 2, dp 2 (group order as produced)', (t) => {
  const plan = planVllmGroups(8, { tensorModelParallelSize: 2, pipelineModelParallelSize: 2, dataParallelSize: 2 });
  t.deepEqual(plan.groups.tp, [[0, 1], [2, 3], [4, 5], [6, 7]]);
  t.deepEqual(plan.groups.pp, [[0, 2], [1, 3], [4, 6], [5, 7]]);
  t.deepEqual(plan.groups.dp, [[0, 4], [2, 6], [1, 5], [3, 7]]);
  t.deepEqual(plan.groups.ep, [[0, 1, 4, 5], [2, 3, 6, 7]]);
});

test('test_context_parallel_group_layout: DCP spans the PCP axis first, then TP', (t) => {
  const dcp = (tp: number, pcp: number, d: number) =>
    planVllmGroups(tp * pcp, { tensorModelParallelSize: tp, prefillContextModelParallelSize: pcp, decodeContextModelParallelSize: d }).groups.dcp;
  t.deepEqual(dcp(2, 2, 1), [[0], [1], [2], [3]]);
  t.deepEqual(dcp(2, 2, 2), [[0, 2], [1, 3]]);
  t.deepEqual(dcp(2, 2, 4), [[0, 2, 1, 3]]);
  t.deepEqual(dcp(4, 2, 2), [[0, 4], [1, 5], [2, 6], [3, 7]]);
  t.deepEqual(dcp(4, 2, 8), [[0, 4, 1, 5, 2, 6, 3, 7]]);
});

test('without PCP, DCP splits each TP group into consecutive blocks', (t) => {
  const plan = planVllmGroups(8, { tensorModelParallelSize: 4, decodeContextModelParallelSize: 2 });
  t.deepEqual(plan.groups.dcp, [[0, 1], [2, 3], [4, 5], [6, 7]]);
  t.deepEqual(planVllmGroups(4, { decodeContextModelParallelSize: null }).groups.dcp, [[0], [1], [2], [3]]);
});

test('golden vectors recorded from upstream: groups, kinds, order, errors', (t) => {
  for (const c of UPSTREAM_VLLM) {
    const at = `world ${c.worldSize} ${JSON.stringify(c.options)}`;
    if (c.error !== undefined) {
      t.throws(() => planVllmGroups(c.worldSize, c.options as VllmOptions), { instanceOf: RangeError, code: ErrorCodes.OUT_OF_RANGE }, `${at}: ${c.error}`);
      continue;
    }
    const plan = planVllmGroups(c.worldSize, c.options as VllmOptions);
    t.deepEqual(Object.keys(plan.groups), Object.keys(c.groups!), at);
    t.deepEqual(JSON.parse(JSON.stringify(plan.groups)), c.groups, at);
  }
});

test('a dense model has no ep group; rankInfo is what GroupCoordinator knows', (t) => {
  const plan = planVllmGroups(8, { tensorModelParallelSize: 2, pipelineModelParallelSize: 2, isMoe: false, backend: 'nccl' });
  t.deepEqual(Object.keys(plan.groups), ['tp', 'dcp', 'pcp', 'pp', 'dp', 'world']);
  const info = plan.rankInfo(3);
  t.deepEqual(info.pp, { ranks: [1, 3], worldSize: 2, rankInGroup: 1, firstRank: 1, lastRank: 3, isFirstRank: false, isLastRank: true, nextRank: 1, prevRank: 1 });
  t.is(info.tp!.rankInGroup, 1);
  t.is(info.ep, undefined);
  // rank_in_group is the index in the member list, which for DCP with PCP is not sorted.
  const pcp = planVllmGroups(4, { tensorModelParallelSize: 2, prefillContextModelParallelSize: 2, decodeContextModelParallelSize: 4 });
  t.is(pcp.rankInfo(1).dcp!.rankInGroup, 2);
  t.deepEqual(pcp.groupsOf(1).dcp, [0, 2, 1, 3]);
  t.throws(() => plan.rankInfo(8), { instanceOf: RangeError, message: /rank 8 is in no tp group/ });
});

function refuses(t: ExecutionContext, world: number, options: VllmOptions, words: RegExp[]): void {
  const e = t.throws(() => planVllmGroups(world, options), { instanceOf: RangeError }, JSON.stringify(options));
  t.is((e as { code?: string }).code, 'ERR_MULTIRANK_OUT_OF_RANGE');
  for (const w of words) t.regex(e!.message, w);
}

test('upstream errors: world not divisible by dp x pp x pcp x tp, tp not divisible by dcp, PCP rules', (t) => {
  refuses(t, 12, { tensorModelParallelSize: 2, pipelineModelParallelSize: 4 }, [/worldSize \(12\)/, /pipelineModelParallelSize \(4\)/, /tensorModelParallelSize \(2\)/, /= 8/]);
  refuses(t, 8, { tensorModelParallelSize: 4, decodeContextModelParallelSize: 3 }, [/tensorModelParallelSize \(4\)/, /decodeContextModelParallelSize \(3\)/, /divisible/]);
  refuses(t, 8, { tensorModelParallelSize: 1, decodeContextModelParallelSize: 2 }, [/\(1\)/, /\(2\)/]);
  refuses(t, 16, { tensorModelParallelSize: 4, prefillContextModelParallelSize: 2, decodeContextModelParallelSize: 4 }, [/\(4\)/, /4 x 2 = 8/, /spans the PCP axis/]);
  refuses(t, 8, { tensorModelParallelSize: 2, prefillContextModelParallelSize: 2, dataParallelSize: 2 }, [/prefillContextModelParallelSize \(2\)/, /dataParallelSize \(2\)/]);
});

test('non-integers, zeros and negatives are rejected by name', (t) => {
  for (const key of ['tensorModelParallelSize', 'pipelineModelParallelSize', 'prefillContextModelParallelSize', 'decodeContextModelParallelSize', 'dataParallelSize'] as const) {
    t.throws(() => planVllmGroups(8, { [key]: 2.5 }), { instanceOf: TypeError, message: new RegExp(`options\\.${key}`) });
    t.throws(() => planVllmGroups(8, { [key]: 0 }), { instanceOf: RangeError, code: 'ERR_MULTIRANK_OUT_OF_RANGE', message: new RegExp(`options\\.${key}.*got 0`) });
    t.throws(() => planVllmGroups(8, { [key]: -1 }), { instanceOf: RangeError, message: new RegExp(`options\\.${key}.*got -1`) });
  }
  t.throws(() => planVllmGroups(1.5), { instanceOf: TypeError, message: /worldSize/ });
  t.throws(() => planVllmGroups(8, { isMoe: 'yes' } as unknown as VllmOptions), { instanceOf: TypeError, message: /options\.isMoe/ });
  t.throws(() => planVllmGroups(8, { contextParallelSize: 2 } as unknown as VllmOptions), { code: 'ERR_MULTIRANK_INVALID_ARG_VALUE' });
});
