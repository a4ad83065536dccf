/**
 * vLLM's init_world_group (on 2 and 4 ranks) and TensorMetadata, both exported from multirank/vllm.
 */
import test from 'ava';
import { ErrorCodes } from '../../src/errors.js';
import { tensor } from '../../src/index.js';
import * as vllm from '../../src/state/vllm.js';
import { withRanks } from '../../src/testing/index.js';
import { assertError, assertNotInitialized, bitsOf } from './helpers.js';

const fixture = new URL('../fixtures/state-vllm-world.js', import.meta.url);
type Result = Record<string, any>;

for (const n of [2, 4]) {
  test(`initWorldGroup on ${n} ranks: a group named "world" of the ranks given, with the local rank given`, async (t) => {
    const reports = (await withRanks(n, { module: fixture, exportName: 'worldGroup' })) as Result[];
    const all = Array.from({ length: n }, (_, r) => r);
    reports.forEach((r, rank) => {
      assertNotInitialized(t, r.noEnvironment, 'initDistributedEnvironment');
      t.deepEqual(r.view, { name: 'world', unique: 'world:1', ranks: all, localRank: 3, envWorld: 'world:0', distinct: true, found: true });
      t.is(r.sum, bitsOf(all));
      if (rank < n / 2) {
        t.is(r.notMember, null);
        t.deepEqual([r.partSum, r.partName], [n / 2, 'world:2']);
      } else {
        assertError(t, r.notMember, ErrorCodes.OUT_OF_RANGE, '`ranks`', `rank ${rank}`);
        t.deepEqual([r.partSum, r.partName], [null, null]);
      }
      assertError(t, r.badBackend, ErrorCodes.BACKEND_UNAVAILABLE, '"nccl"', '"threads"');
      assertError(t, r.badLocal, ErrorCodes.OUT_OF_RANGE, 'localRank', '-1');
      assertError(t, r.badRanks, ErrorCodes.INVALID_ARG_TYPE, 'ranks');
    });
  });
}

test('TensorMetadata: device, dtype and size by name, unpacked in that order, compared by value, immutable', (t) => {
  const meta = new vllm.TensorMetadata('cpu', 'float32', [2, 3]);
  t.is(meta.device, 'cpu');
  t.is(meta.dtype, 'float32');
  t.deepEqual(meta.size, [2, 3]);
  const [device, dtype, size] = meta;
  t.deepEqual([device, dtype, size], ['cpu', 'float32', [2, 3]]);
  t.deepEqual([meta.at(0), meta.at(1), meta.at(2), meta.length], ['cpu', 'float32', [2, 3], 3]);
  t.true(meta.equals(new vllm.TensorMetadata('cpu', 'float32', [2, 3])));
  t.false(meta.equals(new vllm.TensorMetadata('cpu', 'float32', [3, 2])));
  t.false(meta.equals(new vllm.TensorMetadata('cpu', 'int32', [2, 3])));
  t.false(meta.equals(['cpu', 'float32', [2, 3]]));
  t.is(String(meta), "TensorMetadata(device='cpu', dtype=float32, size=[2, 3])");
  t.true(Object.isFrozen(meta) && Object.isFrozen(meta.size));
  t.throws(() => { (meta as { device: string }).device = 'cuda'; }, { instanceOf: TypeError });
  const of = vllm.TensorMetadata.fromTensor(tensor([[1, 2, 3]], { dtype: 'int64' }));
  t.true(of.equals(new vllm.TensorMetadata('cpu', 'int64', [1, 3])));
  t.is(new vllm.TensorMetadata('cuda', 'bfloat16', []).size.length, 0);
  t.throws(() => new vllm.TensorMetadata('', 'float32', [1]), { code: ErrorCodes.INVALID_ARG_TYPE, message: /`device`/ });
  t.throws(() => new vllm.TensorMetadata('cpu', 'float128' as never, [1]), { code: ErrorCodes.INVALID_ARG_VALUE, message: /`dtype`.*"float128"/ });
  t.throws(() => new vllm.TensorMetadata('cpu', 'float32', [2, -1]), { code: ErrorCodes.OUT_OF_RANGE, message: /`size\[1\]`/ });
  t.throws(() => new vllm.TensorMetadata('cpu', 'float32', 4 as never), { code: ErrorCodes.INVALID_ARG_TYPE, message: /`size`/ });
  t.throws(() => vllm.TensorMetadata.fromTensor({} as never), { code: ErrorCodes.INVALID_ARG_TYPE, message: /a Tensor/ });
  t.throws(() => meta.at(3 as never), { code: ErrorCodes.OUT_OF_RANGE, message: /`index`/ });
});
