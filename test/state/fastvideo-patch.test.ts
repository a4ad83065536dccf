/**
 * FastVideo's patchSequenceParallelGroup (as patchTensorParallelGroup: a scope, a handle, a disposable;
 * nesting refused; restored on throw) and ensureModelParallelInitialized, on 4 and 8 ranks.
 */
import test from 'ava';
import { ErrorCodes } from '../../src/errors.js';
import { withRanks } from '../../src/testing/index.js';
import { assertError, assertNotInitialized, bitsOf } from './helpers.js';

const fixture = new URL('../fixtures/state-fastvideo-patch.js', import.meta.url);
type Result = Record<string, any>;

for (const n of [4, 8]) {
  test(`FastVideo patchSequenceParallelGroup and ensureModelParallelInitialized on ${n} ranks`, async (t) => {
    const reports = (await withRanks(n, { module: fixture, exportName: 'spPatch' })) as Result[];
    const all = bitsOf(Array.from({ length: n }, (_, r) => r));
    reports.forEach((r, rank) => {
      const pair = bitsOf(rank % 2 === 0 ? [rank, rank + 1] : [rank - 1, rank]);
      assertNotInitialized(t, r.ensureNoEnvironment, 'initDistributedEnvironment');
      assertNotInitialized(t, r.beforeInit, 'sequence model parallel group', 'initializeModelParallel');
      t.deepEqual(r.sizes, [2, n]);
      t.is(r.ensure.again, null);
      assertError(t, r.ensure.tp, ErrorCodes.OUT_OF_RANGE, 'tensor parallel group already initialized', 'got 2, wanted 1');
      assertError(t, r.ensure.sp, ErrorCodes.OUT_OF_RANGE, 'sequence parallel group already initialized', `got ${n}, wanted 2`);
      t.is(r.ensure.spOne, null, 'an sp size of 1 is not checked, as upstream');
      assertError(t, r.ensure.badSize, ErrorCodes.OUT_OF_RANGE, 'options.tensorModelParallelSize', '0');
      assertError(t, r.ensure.badBackend, ErrorCodes.BACKEND_UNAVAILABLE, '"nccl"');
      assertError(t, r.ensure.badOptions, ErrorCodes.INVALID_ARG_TYPE, 'options');
      t.like(r.inside, { size: 2, rank: rank % 2, bits: pair, group: 'sp_model2', tpToo: [n, 2] });
      assertError(t, r.inside.nested, ErrorCodes.OUT_OF_RANGE, 'patchSequenceParallelGroup', 'already patched');
      t.deepEqual(r.afterScope, { same: true, bits: all });
      t.deepEqual(r.insideAsync, { size: 2, bits: pair });
      t.true(r.afterAsync);
      t.is(r.thrown.message, 'inside the patch');
      t.true(r.afterThrow);
      t.deepEqual(r.handleView, { patched: true, replaced: true, group: true });
      t.deepEqual(r.afterHandle, { same: true, bits: all });
      assertError(t, r.badGroup, ErrorCodes.INVALID_ARG_TYPE, 'spGroup', 'GroupCoordinator');
      t.like(r.afterDestroy, { sp2: rank % 2 === 0 ? 2 * rank + 1 : 2 * rank - 1, tp4: false, original: true });
      assertNotInitialized(t, r.afterDestroy.getter, 'sequence model parallel group', 'initializeModelParallel');
    });
  });
}
