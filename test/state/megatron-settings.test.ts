/**
 * Megatron's settings: the `set*` overrides before any group, as upstream's tests rely on (and what
 * initialization and destroyModelParallel() do to them), updatePgTimeout, and the NCCL communicator
 * configuration helpers.
 */
import test from 'ava';
import { ErrorCodes } from '../../src/errors.js';
import * as m from '../../src/state/megatron.js';
import { withRanks } from '../../src/testing/index.js';
import { assertError, assertNotInitialized } from './helpers.js';

const fixture = new URL('../fixtures/state-megatron-settings.js', import.meta.url);
type Result = Record<string, any>;
const NOT = ErrorCodes.NOT_INITIALIZED;

for (const n of [2, 4]) {
  test(`set* overrides on ${n} ranks work before the environment and initializeModelParallel; destroyModelParallel resets them as upstream`, async (t) => {
    const reports = (await withRanks(n, { module: fixture, exportName: 'overrides' })) as Result[];
    reports.forEach((r, rank) => {
      t.deepEqual(r.untouched, {
        tp: [NOT, NOT], pp: [NOT, NOT], stages: [NOT, NOT, NOT, NOT], ep: [NOT, NOT], etp: [NOT, NOT], dpRank: NOT, vp: [null, null],
      });
      t.deepEqual(r.tpOnly.etp, [n, rank], 'expert tp answers with the tp overrides without its group');
      const set = {
        tp: [n, rank], pp: [2, rank % 2], stages: [rank % 2 === 0, rank % 2 === 1, rank % 2 === 0, rank % 2 === 1],
        ep: [1, 0], etp: [3, 1], dpRank: 5, vp: [3, 1],
      };
      t.deepEqual(r.noEnvironment, set);
      t.deepEqual(r.noGroups, set);
      t.deepEqual(r.initialized, set, 'initialization without a virtual pipeline keeps every value set before');
      t.deepEqual(r.unset, {
        ...set, tp: [2, rank % 2], pp: [1, 0], stages: [true, true, true, true], etp: [2, rank % 2],
      });
      // destroy_model_parallel resets all but the data-parallel rank, as upstream.
      t.deepEqual(r.destroyed, {
        tp: [NOT, NOT], pp: [NOT, NOT], stages: [NOT, NOT, NOT, NOT], ep: [NOT, NOT], etp: [NOT, NOT], dpRank: 5, vp: [null, null],
      });
      t.like(r.withVirtual, { vp: [2, 0], dpRank: 5, pp: [2, Math.floor(rank / (n / 2))] });
      assertError(t, r.errors.rank, ErrorCodes.OUT_OF_RANGE, 'pipelineModelParallelRank', '-1');
      assertError(t, r.errors.size, ErrorCodes.OUT_OF_RANGE, 'expertModelParallelWorldSize', '0');
      assertError(t, r.errors.type, ErrorCodes.INVALID_ARG_TYPE, 'tensorModelParallelWorldSize', '"2"');
      assertError(t, r.errors.vp, ErrorCodes.INVALID_ARG_TYPE, 'worldSize', '1.5');
    });
  });
}

test('set* outside a rank says it needs one; the getters read no override there', (t) => {
  assertError(t, errorOf(() => m.setTensorModelParallelWorldSize(2)), NOT, 'setTensorModelParallelWorldSize', 'inside a rank');
  assertError(t, errorOf(() => m.setVirtualPipelineModelParallelRank(0)), NOT, 'setVirtualPipelineModelParallelRank');
  assertError(t, errorOf(() => m.getTensorModelParallelWorldSize()), NOT, 'initDistributedEnvironment');
  assertError(t, errorOf(() => m.getExpertTensorParallelWorldSize()), NOT, 'initDistributedEnvironment');
  t.is(m.getVirtualPipelineModelParallelWorldSize(), null);
  t.notThrows(() => m.destroyModelParallel());
});

for (const n of [2, 4]) {
  test(`updatePgTimeout on ${n} ranks: every group of Megatron's list or one group, after a barrier; the new deadline expires`, async (t) => {
    const reports = (await withRanks(n, { module: fixture, exportName: 'pgTimeout' }, { timeoutMs: 60_000 })) as Result[];
    reports.forEach((r, rank) => {
      const mine = (ms: number) => (rank < 2 ? ms : undefined);
      assertNotInitialized(t, r.noList, 'process group list', 'initializeModelParallel');
      t.deepEqual(r.before, [60_000, mine(60_000), 60_000, 60_000, 60_000]);
      t.deepEqual(r.all, [30_000, mine(30_000), 30_000, 30_000, 30_000]);
      t.deepEqual(r.one, [30_000, 20_000, 25_000, 30_000]);
      t.is(r.perCall, 'ok');
      assertError(t, r.errors.timeout, ErrorCodes.OUT_OF_RANGE, 'timeoutMs', '-5');
      assertError(t, r.errors.group, ErrorCodes.INVALID_ARG_TYPE, 'group', 'GroupCoordinator');
      t.deepEqual(r.last, [1500, 1500, 1500, mine(1500), 30_000], 'a destroyed group of the list is left alone');
      t.is(r.expired, rank === 0 ? 'TimeoutError after 1500 ms' : rank === 1 ? 'late' : 'not a member');
      assertNotInitialized(t, r.afterDestroy, 'process group list');
    });
  });
}

test('getNcclOptions / overwriteNcclCommCfgs read and write the communicator configuration as upstream', (t) => {
  const cfgs: m.NcclCommCfgs = {};
  t.is(m.getNcclOptions('dp', cfgs), null);
  m.overwriteNcclCommCfgs(cfgs, 'dp', ['is_high_priority_stream', true]);
  m.overwriteNcclCommCfgs(cfgs, 'dp', ['max_ctas', 16]);
  m.overwriteNcclCommCfgs(cfgs, 'tp', ['net_name', 'IB']);
  t.deepEqual(cfgs, { dp: { is_high_priority_stream: true, max_ctas: 16 }, tp: { net_name: 'IB' } });
  t.deepEqual(m.getNcclOptions('dp', cfgs), { isHighPriorityStream: true, config: { maxCtas: 16 } });
  t.deepEqual(m.getNcclOptions('tp', cfgs), { isHighPriorityStream: false, config: { netName: 'IB' } });
  const all = { ep: { cga_cluster_size: 2, min_ctas: 1, max_ctas: 32, net_name: 'Socket' } };
  t.deepEqual(m.getNcclOptions('ep', all), {
    isHighPriorityStream: false, config: { cgaClusterSize: 2, minCtas: 1, maxCtas: 32, netName: 'Socket' },
  });
  assertError(t, errorOf(() => m.getNcclOptions('x', { x: { net_name: 'roce' } })), ErrorCodes.OUT_OF_RANGE,
    'ncclCommCfgs["x"].net_name', '"roce"', 'IB', 'socket');
  assertError(t, errorOf(() => m.getNcclOptions('x', { x: { net_name: 3 } })), ErrorCodes.INVALID_ARG_TYPE, 'net_name');
  assertError(t, errorOf(() => m.getNcclOptions('x', { x: { max_ctas: 1.5 } })), ErrorCodes.INVALID_ARG_TYPE, 'max_ctas');
  assertError(t, errorOf(() => m.getNcclOptions('x', { x: { is_high_priority_stream: 'yes' } })), ErrorCodes.INVALID_ARG_TYPE,
    'is_high_priority_stream');
  assertError(t, errorOf(() => m.getNcclOptions('x', { x: 5 } as never)), ErrorCodes.INVALID_ARG_TYPE, 'ncclCommCfgs["x"]');
  assertError(t, errorOf(() => m.getNcclOptions(3 as never, {})), ErrorCodes.INVALID_ARG_TYPE, 'pgName');
  assertError(t, errorOf(() => m.getNcclOptions('x', null as never)), ErrorCodes.INVALID_ARG_TYPE, 'ncclCommCfgs');
  assertError(t, errorOf(() => m.overwriteNcclCommCfgs(cfgs, 'dp', ['max_ctas'] as never)), ErrorCodes.INVALID_ARG_TYPE, 'keyValuePair');
  assertError(t, errorOf(() => m.overwriteNcclCommCfgs(cfgs, 7 as never, ['a', 1])), ErrorCodes.INVALID_ARG_TYPE, 'pgName');
  assertError(t, errorOf(() => m.overwriteNcclCommCfgs([] as never, 'dp', ['a', 1])), ErrorCodes.INVALID_ARG_TYPE, 'ncclCommCfgs');
});

function errorOf(fn: () => unknown): unknown {
  try {
    fn();
    return null;
  } catch (error) {
    return error;
  }
}
