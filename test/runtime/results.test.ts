/**
 * What a rank returns reaches the driver as data of its own: views of the shared arena are copied out
 * (a later job reuses the arena), Tensors arrive as Tensors with their values, and a value that cannot
 * cross threads is named, with where it sits in the result.
 */
import test from 'ava';
import { launch } from '../../src/launch/launch.js';
import { withRanks } from '../../src/testing/index.js';
import { ErrorCodes, Tensor } from '../../src/index.js';
import { quietFailures } from '../helpers/quiet-failures.js';

quietFailures();

const module = new URL('../fixtures/results.js', import.meta.url);

test.serial('results are copied out of the arena: a later job writing the same region does not change them', async (t) => {
  type Shared = { data: Float32Array; nested: { views: [Float32Array, DataView] }; offset: number };
  const [first] = (await withRanks(1, { module, exportName: 'sharedData' })) as Shared[];
  t.deepEqual([...first!.data], [1, 1, 1, 1]);
  t.false(first!.data.buffer instanceof SharedArrayBuffer);
  await withRanks(1, { module, exportName: 'overwrite' }, { args: first!.offset });
  t.deepEqual([...first!.data], [1, 1, 1, 1], 'after a later job wrote -999 over the region');
  t.deepEqual([...first!.nested.views[0]], [1, 1, 1, 1], 'a nested view');
  t.is(first!.nested.views[1].getFloat32(4, true), 1, 'a DataView');
  t.false(first!.nested.views[1].buffer instanceof SharedArrayBuffer);
});

test('a Tensor returned by a rank arrives as a Tensor with its values, also nested', async (t) => {
  const results = (await withRanks(2, { module, exportName: 'tensors' })) as Record<string, unknown>[];
  results.forEach((r, rank) => {
    const direct = r.direct as Tensor;
    t.true(direct instanceof Tensor);
    t.deepEqual([direct.dtype, direct.shape, direct.toArray()], ['float32', [2], [rank, rank + 0.5]]);
    const [shared, x, [half]] = r.list as [Tensor, string, [Tensor]];
    t.deepEqual([shared.dtype, shared.shape, shared.toArray(), x], ['int32', [2, 2], [rank, 1, 2, 3], 'x']);
    t.false(shared.buffer instanceof SharedArrayBuffer, 'a shared tensor arrives as plain memory');
    t.deepEqual([half.dtype, half.toArray()], ['bfloat16', [1.5, -2]]);
    const big = (r.map as Map<string, Tensor>).get('big')!;
    t.deepEqual([big.dtype, big.toArray()], ['int64', [1n, -(2n ** 40n)]]);
    const [one, flags] = [...(r.set as Set<unknown>)] as [number, Tensor];
    t.deepEqual([one, flags.dtype, flags.toArray()], [1, 'bool', [true, false, true]]);
    const [a, b] = r.twice as [Tensor, Tensor];
    t.true(a instanceof Tensor && a === b, 'one tensor returned twice arrives as one Tensor');
  });
  const [whole] = (await withRanks(1, { module, exportName: 'oneTensor' })) as Tensor[];
  t.true(whole instanceof Tensor);
  t.deepEqual([whole!.dtype, whole!.toArray()], ['float64', [0, 2, 3]]);
});

test('a Tensor returned through job.rank(i).call and collectiveRpc arrives as a Tensor', async (t) => {
  const job = await launch({ worldSize: 2, module, exportName: 'oneTensor' });
  try {
    await job.results;
    const one = (await job.rank(1).call('filled', 3, 5)) as Tensor;
    t.true(one instanceof Tensor);
    t.deepEqual([one.toArray(), one.buffer instanceof SharedArrayBuffer], [[5, 5, 5], false]);
    const all = (await job.collectiveRpc('filled', 2, 4)) as Tensor[];
    t.deepEqual(all.map((x) => x instanceof Tensor && x.toArray()), [[4, 4], [4, 4]]);
    const error = await t.throwsAsync(job.rank(0).call('returnsFunction'));
    t.regex(error!.message, /`the value rank 0's returnsFunction\(\) returned, at \.callback`/);
  } finally {
    await job.close();
  }
});

for (const [kind, where, what] of [
  ['function', /at \.bad\[1\]`/, /function makeThing/],
  ['symbol', /at \.get\("key"\)`/, /Symbol\(tag\) \(symbol\)/],
  ['promise', /at \[0\]`/, /an instance of Promise/],
  ['weakmap', /at \.deep\.weak`/, /an instance of WeakMap/],
] as const) {
  test(`a result that cannot be cloned (${kind}) is named, with where it is and why`, async (t) => {
    const error = await t.throwsAsync(withRanks(1, { module, exportName: 'uncloneable' }, { args: kind }));
    t.is((error as { code?: string }).code, ErrorCodes.RANK_FAILED);
    t.regex(error!.message, /Rank 0 failed: TypeError: Expected `the value rank 0's entry returned/);
    t.regex(error!.message, where);
    t.regex(error!.message, what);
    t.regex(error!.message, /structured clone/);
    t.notRegex(error!.message, /undefined: undefined/);
  });
}
