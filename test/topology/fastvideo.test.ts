/**
 * planFastVideoGroups and the suffix helpers against FastVideo's `parallel_state.py`: the layout of its
 * `initialize_model_parallel` (examples from the research notes), golden vectors recorded from
 * upstream, and upstream's assertions.
 */
import test from 'ava';
import { ErrorCodes } from '../../src/errors.js';
import {
  initializeSequenceParallelGroup, initializeTensorParallelGroup, planFastVideoGroups,
} from '../../src/topology/index.js';
import type { FastVideoOptions } from '../../src/topology/index.js';
import { UPSTREAM_FASTVIDEO } from './fixtures/upstream-groups.js';

test('world 8, tp 2, sp 4: tp and sp consecutive blocks, dp strided by sp', (t) => {
  const plan = planFastVideoGroups(8, { tensorModelParallelSize: 2, sequenceModelParallelSize: 4 });
  t.deepEqual(plan.groups, {
    tp: [[0, 1], [2, 3], [4, 5], [6, 7]],
    sp: [[0, 1, 2, 3], [4, 5, 6, 7]],
    dp: [[0, 4], [1, 5], [2, 6], [3, 7]],
    world: [[0, 1, 2, 3, 4, 5, 6, 7]],
  });
  t.deepEqual(plan.sizes, { tp: 2, sp: 4, dp: 2 });
});

test('typical video run: world 8, tp 1, sp 8; dataParallelSize changes nothing', (t) => {
  const a = planFastVideoGroups(8, { sequenceModelParallelSize: 8 });
  t.deepEqual(a.groups.tp, [[0], [1], [2], [3], [4], [5], [6], [7]]);
  t.deepEqual(a.groups.sp, [[0, 1, 2, 3, 4, 5, 6, 7]]);
  t.deepEqual(a.groups.dp, [[0], [1], [2], [3], [4], [5], [6], [7]]);
  t.deepEqual(planFastVideoGroups(8, { sequenceModelParallelSize: 8, dataParallelSize: 4 }).groups, a.groups);
});

test('golden vectors recorded from upstream', (t) => {
  for (const c of UPSTREAM_FASTVIDEO) {
    const at = `world ${c.worldSize} ${JSON.stringify(c.options)}`;
    if (c.error !== undefined) {
      t.throws(() => planFastVideoGroups(c.worldSize, c.options as FastVideoOptions), { instanceOf: RangeError, code: ErrorCodes.OUT_OF_RANGE }, `${at}: ${c.error}`);
    } else {
      t.deepEqual(JSON.parse(JSON.stringify(planFastVideoGroups(c.worldSize, c.options as FastVideoOptions).groups)), c.groups, at);
    }
  }
});

test('upstream assertions: world >= tp, and every rank needs a tp and an sp group', (t) => {
  t.throws(() => planFastVideoGroups(4, { tensorModelParallelSize: 8 }), {
    instanceOf: RangeError, code: 'ERR_MULTIRANK_OUT_OF_RANGE', message: /worldSize \(4\).*greater than or equal.*tensorModelParallelSize \(8\)/,
  });
  t.throws(() => planFastVideoGroups(6, { tensorModelParallelSize: 4 }), { message: /worldSize \(6\).*tensorModelParallelSize \(4\).*ranks 4\.\.5/ });
  t.throws(() => planFastVideoGroups(6, { sequenceModelParallelSize: 4 }), { message: /sequenceModelParallelSize \(4\).*no sp group/ });
  t.throws(() => planFastVideoGroups(4, { sequenceModelParallelSize: 8 }), { message: /sequenceModelParallelSize \(8\)/ });
  t.throws(() => planFastVideoGroups(4, { tensorModelParallelSize: 0 }), { message: /options\.tensorModelParallelSize.*got 0/ });
  t.throws(() => planFastVideoGroups(4, { sequenceModelParallelSize: -1 }), { message: /options\.sequenceModelParallelSize.*got -1/ });
  t.throws(() => planFastVideoGroups(4, { dataParallelSize: 0.5 }), { instanceOf: TypeError, message: /options\.dataParallelSize/ });
});

test('rankInfo follows GroupCoordinator: rank_in_group, neighbours that wrap', (t) => {
  const plan = planFastVideoGroups(8, { tensorModelParallelSize: 2, sequenceModelParallelSize: 4 });
  const info = plan.rankInfo(4);
  t.is(info.sp.rankInGroup, 0);
  t.is(info.sp.prevRank, 7);
  t.is(info.dp.rankInGroup, 1);
  t.is(info.dp.nextRank, 0);
  t.deepEqual(plan.groupsOf(5), { tp: [4, 5], sp: [4, 5, 6, 7], dp: [1, 5], world: [0, 1, 2, 3, 4, 5, 6, 7] });
});

test('suffix helpers: tp / tp_<suffix>, sp / sp_<suffix>, consecutive groups, upstream assertion', (t) => {
  t.deepEqual(initializeTensorParallelGroup(8, { tensorModelParallelSize: 4, groupNameSuffix: 'model1' }), {
    groupName: 'tp_model1', groups: [[0, 1, 2, 3], [4, 5, 6, 7]],
  });
  t.is(initializeTensorParallelGroup(8).groupName, 'tp');
  t.deepEqual(initializeSequenceParallelGroup(8, { sequenceModelParallelSize: 2, groupNameSuffix: 'model2' }), {
    groupName: 'sp_model2', groups: [[0, 1], [2, 3], [4, 5], [6, 7]],
  });
  t.is(initializeSequenceParallelGroup(4, { sequenceModelParallelSize: 4 }).groupName, 'sp');
  t.throws(() => initializeTensorParallelGroup(6, { tensorModelParallelSize: 4 }), { instanceOf: RangeError, message: /worldSize \(6\).*tensorModelParallelSize \(4\)/ });
  t.throws(() => initializeSequenceParallelGroup(6, { sequenceModelParallelSize: 4 }), { message: /sequenceModelParallelSize \(4\)/ });
  t.throws(() => initializeSequenceParallelGroup(6, { groupNameSuffix: 3 } as unknown as { groupNameSuffix: string }), { instanceOf: TypeError });
});
