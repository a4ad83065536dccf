/**
 * complex64 / complex128 tensors: storage as interleaved (re, im) float32 / float64 pairs, elements read
 * and written as `[re, im]`, the constructors and shape ops; and the dtype table's rules for the reduce
 * ops (which op each dtype takes, the codes the kernels, fingerprints and mailboxes share).
 */
import test from 'ava';
import { arange, cat, empty, fromTypedArray, full, movedim, split, tensor, zeros } from '../../src/tensor/index.js';
import { ErrorCodes } from '../../src/errors.js';
import {
  DTYPES, dtypeFromCode, dtypeInfo, effectiveReduceOp, REDUCE_OP_CODES, REDUCE_OPS, reduceOpRefusal, reduceOpsFor,
  type DType, type ReduceOp,
} from '../../src/tensor/dtype.js';

test('complex tensors store (re, im) pairs: 2 data entries per element, getFlat and toArray give [re, im]', (t) => {
  const a = tensor([[1, 2], [3, -4], [0.5, 0]], { dtype: 'complex64' });
  t.deepEqual(a.shape, [3]);
  t.is(a.itemBytes, 8);
  t.true(a.data instanceof Float32Array);
  t.deepEqual([...a.data], [1, 2, 3, -4, 0.5, 0]);
  t.deepEqual(a.getFlat(1), [3, -4]);
  t.deepEqual(a.toArray(), [[1, 2], [3, -4], [0.5, 0]]);
  const b = tensor([[[1, 2], [3, 4]], [[5, 6], [7, 8]]], { dtype: 'complex128' });
  t.deepEqual(b.shape, [2, 2]);
  t.is(b.byteLength, 64);
  t.true(b.data instanceof Float64Array);
  t.deepEqual(b.get(1, 0), [5, 6]);
  t.deepEqual(b.toNestedArray(), [[[1, 2], [3, 4]], [[5, 6], [7, 8]]]);
  const flat = tensor([1, 2, 3, 4], { dtype: 'complex64', shape: [2] });
  t.deepEqual(flat.toArray(), [[1, 2], [3, 4]], 'with shape: re, im, re, im');
  t.deepEqual(tensor([1, 2], { dtype: 'complex64' }).shape, [], 'one pair is a scalar');
  t.deepEqual(tensor([1, 2], { dtype: 'complex64' }).item(), [1, 2]);
  const f32 = [Math.fround(0.1), Math.fround(0.2)];
  t.deepEqual(tensor([[0.1, 0.2]], { dtype: 'complex64' }).getFlat(0), f32, 'float32 parts');
  t.deepEqual(tensor([[0.1, 0.2]], { dtype: 'complex128' }).getFlat(0), [0.1, 0.2], 'float64 parts');
});

test('complex setFlat, fill, zeros, full and arange take a pair or a real value (imaginary part 0)', (t) => {
  const z = zeros([3], { dtype: 'complex128' });
  t.deepEqual(z.toArray(), [[0, 0], [0, 0], [0, 0]]);
  z.setFlat(0, [1.5, -2]);
  z.set([1], 7);
  z.setFlat(2, true);
  t.deepEqual(z.toArray(), [[1.5, -2], [7, 0], [1, 0]]);
  t.deepEqual(full([2], [0, 1], { dtype: 'complex64' }).toArray(), [[0, 1], [0, 1]]);
  t.deepEqual(full([2], 3, { dtype: 'complex64' }).toArray(), [[3, 0], [3, 0]]);
  t.deepEqual(arange(3, { dtype: 'complex64' }).toArray(), [[0, 0], [1, 0], [2, 0]]);
  t.deepEqual(empty([0], { dtype: 'complex64' }).toArray(), []);
});

test('fromTypedArray views a Float32Array / Float64Array of (re, im) parts as complex64 / complex128', (t) => {
  const parts = new Float64Array([1, 2, 3, 4, 5, 6]);
  const c = fromTypedArray(parts, { dtype: 'complex128' });
  t.deepEqual(c.shape, [3]);
  parts[5] = 60;
  t.deepEqual(c.getFlat(2), [5, 60], 'a view, no copy');
  t.deepEqual(fromTypedArray(new Float32Array(8), { dtype: 'complex64', shape: [2, 2] }).shape, [2, 2]);
  t.throws(() => fromTypedArray(new Float64Array(4), { dtype: 'complex64' }), {
    code: ErrorCodes.INVALID_ARG_TYPE, message: /Float32Array of \(re, im\) parts for complex64/,
  });
  t.throws(() => fromTypedArray(new BigInt64Array(4), { dtype: 'complex128' }), {
    code: ErrorCodes.INVALID_ARG_TYPE, message: /Float64Array/,
  });
  t.throws(() => fromTypedArray(new Float32Array(3), { dtype: 'complex64' }), { code: ErrorCodes.SHAPE, message: /even length, got 3/ });
});

test('shape ops move whole complex elements: narrow, split, cat, reshape, movedim, clone', (t) => {
  const pairs = Array.from({ length: 6 }, (_, i) => [i, 10 + i]);
  const a = tensor([pairs.slice(0, 3), pairs.slice(3)], { dtype: 'complex64' }); // [2, 3]
  t.deepEqual(a.narrow(1, 1, 2).toNestedArray(), [[[1, 11], [2, 12]], [[4, 14], [5, 15]]]);
  t.deepEqual(split(a, 1, 0).map((p) => p.toArray()), [pairs.slice(0, 3), pairs.slice(3)]);
  t.deepEqual(cat([a.narrow(1, 0, 1), a.narrow(1, 1, 2)], 1).toArray(), pairs);
  t.deepEqual(a.reshape(3, 2).get(2, 1), [5, 15]);
  const m = movedim(a, 1, 0);
  t.deepEqual(m.shape, [3, 2]);
  t.deepEqual(m.toNestedArray(), [[[0, 10], [3, 13]], [[1, 11], [4, 14]], [[2, 12], [5, 15]]]);
  t.deepEqual(a.clone().toArray(), pairs);
});

test('complex input errors name what is expected', (t) => {
  t.throws(() => tensor([1, 2, 3], { dtype: 'complex64' }), {
    code: ErrorCodes.SHAPE, message: /innermost arrays are \[re, im\] pairs, got nested arrays of shape \[3\]/,
  });
  t.throws(() => tensor([1, 2, 3], { dtype: 'complex64', shape: [2] }), {
    code: ErrorCodes.SHAPE, message: /holds 2 elements but `data` has 3 numbers \(2 per element\)/,
  });
  t.throws(() => zeros([1], { dtype: 'complex64' }).setFlat(0, [1, 2, 3] as never), {
    code: ErrorCodes.INVALID_ARG_TYPE, message: /\[re, im\] pair of numbers/,
  });
  t.throws(() => zeros([1]).setFlat(0, [1, 2]), { code: ErrorCodes.INVALID_ARG_TYPE, message: /a pair needs a complex dtype/ });
});

test('the dtype table: complex codes 9 and 10 after the real ones, unique codes, sizes 8 and 16', (t) => {
  t.like(dtypeInfo('complex64'), { code: 9, itemBytes: 8, isComplex: true, isFloat: false, isHalf: false });
  t.like(dtypeInfo('complex128'), { code: 10, itemBytes: 16, isComplex: true, isFloat: false, isHalf: false });
  t.is(new Set(DTYPES.map((d) => dtypeInfo(d).code)).size, DTYPES.length);
  for (const d of DTYPES) t.true(dtypeInfo(d).code < 15, 'codes fit the 4 bits of the communicator and fingerprint keys');
  t.is(dtypeFromCode(9), 'complex64');
  t.deepEqual(REDUCE_OP_CODES, { sum: 0, prod: 1, min: 2, max: 3, avg: 4, band: 5, bor: 6, bxor: 7 });
});

test('the reduce ops each dtype takes, as torch: avg on floats and complex, bitwise on integers and bool', (t) => {
  const floats = ['float32', 'float64', 'float16', 'bfloat16'] as const;
  const ints = ['int8', 'uint8', 'int32', 'int64', 'bool'] as const;
  for (const d of floats) t.deepEqual(reduceOpsFor(d), ['sum', 'prod', 'min', 'max', 'avg'], d);
  for (const d of ints) t.deepEqual(reduceOpsFor(d), ['sum', 'prod', 'min', 'max', 'band', 'bor', 'bxor'], d);
  for (const d of ['complex64', 'complex128'] as const) t.deepEqual(reduceOpsFor(d), ['sum', 'avg'], d);
  t.is(effectiveReduceOp('bool', 'bxor'), 'bxor');
  t.is(effectiveReduceOp('bool', 'sum'), 'max');
  t.is(effectiveReduceOp('complex64', 'avg'), 'avg');
  for (const d of DTYPES) {
    for (const op of REDUCE_OPS) t.is(reduceOpRefusal(d, op) === undefined, reduceOpsFor(d).includes(op));
  }
  const refused = (dtype: DType, op: ReduceOp, why: string): void => {
    const message = `Reduce op "${op}" is not allowed on dtype "${dtype}": ${why}`;
    t.throws(() => effectiveReduceOp(dtype, op), { instanceOf: TypeError, code: ErrorCodes.DTYPE, message });
  };
  refused('float64', 'bor', 'bitwise ops (band, bor, bxor) need an integer or bool dtype (int8, uint8, int32, int64, bool), as in torch');
  refused('complex128', 'min', 'complex dtypes (complex64, complex128) take only sum and avg, as in torch');
  refused('int32', 'avg', 'avg needs a floating or complex dtype (float32, float64, float16, bfloat16, complex64, complex128), as in torch');
});
