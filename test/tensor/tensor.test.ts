import test from 'ava';
import {
  arange, cat, chunk, divide, empty, ensureDivisibility, fromTypedArray, full, movedim, split, splitTensorAlongLastDim, tensor, zeros,
} from '../../src/tensor/index.js';
import { bf16ToNumber, f16ToNumber, numberToBf16, numberToF16 } from '../../src/tensor/half.js';
import { ErrorCodes } from '../../src/errors.js';
import { DTYPES, dtypeFromCode, dtypeInfo } from '../../src/tensor/dtype.js';

test('constructors: shape, contiguous strides, dtype, device, values', (t) => {
  const a = tensor([[1, 2, 3], [4, 5, 6]]);
  t.deepEqual(a.shape, [2, 3]);
  t.deepEqual(a.strides, [3, 1]);
  t.is(a.dtype, 'float32');
  t.is(a.device, 'cpu');
  t.deepEqual(a.toNestedArray(), [[1, 2, 3], [4, 5, 6]]);
  t.is(a.get(1, 2), 6);
  t.is(a.get(-1, -1), 6);
  t.deepEqual(tensor([true, false]).toArray(), [true, false]);
  t.deepEqual(tensor([1n, -2n]).toArray(), [1n, -2n]);
  t.deepEqual(tensor([1.7, -1.7, 300], { dtype: 'int8' }).toArray(), [1, -1, 44]); // truncation and wrap, as typed arrays do
  t.deepEqual(zeros([2, 2], { dtype: 'int64' }).toArray(), [0n, 0n, 0n, 0n]);
  t.deepEqual(full([3], 2.5, { dtype: 'float64' }).toArray(), [2.5, 2.5, 2.5]);
  t.deepEqual(arange(4, { dtype: 'int32' }).toArray(), [0, 1, 2, 3]);
  t.deepEqual(empty([0, 3]).shape, [0, 3]);
  const f = new Float32Array([1, 2, 3, 4]);
  const view = fromTypedArray(f, { shape: [2, 2] });
  f[3] = 9;
  t.is(view.get(1, 1), 9, 'fromTypedArray views the array');
});

test('bfloat16 and float16 read and write as JS numbers, rounding to nearest even', (t) => {
  const b = tensor([1, 1.00390625, 1.01171875, 65504, NaN, -0], { dtype: 'bfloat16' });
  t.deepEqual(b.toArray().slice(0, 4), [1, 1, 1.015625, 65536]); // 1 + 2^-8 is a tie -> even; 1.0117 rounds up
  t.true(Number.isNaN(b.toArray()[4] as number));
  t.true(Object.is(b.toArray()[5], -0));
  const h = tensor([1, 1 + 2 ** -11, 65504, 65520, 2 ** -24, 2 ** -25], { dtype: 'float16' });
  t.deepEqual(h.toArray(), [1, 1, 65504, Infinity, 2 ** -24, 0]); // ties to even; 65520 overflows; 2^-25 ties to 0
  for (let bits = 0; bits < 65536; bits += 97) {
    const x = f16ToNumber(bits);
    if (!Number.isNaN(x)) t.is(numberToF16(x), bits);
    const y = bf16ToNumber(bits);
    if (!Number.isNaN(y)) t.is(numberToBf16(y), bits);
  }
});

test('narrow, split, chunk, cat, reshape/view, movedim', (t) => {
  const a = arange(24).reshape(2, 3, 4);
  const rows = a.narrow(0, 1, 1);
  t.is(rows.storage, a.storage, 'narrow along dim 0 is a view');
  t.deepEqual(rows.toArray(), Array.from({ length: 12 }, (_, i) => 12 + i));
  const cols = a.narrow(2, 1, 2);
  t.not(cols.storage, a.storage, 'narrow along an inner dim copies');
  t.deepEqual(cols.toNestedArray(), [[[1, 2], [5, 6], [9, 10]], [[13, 14], [17, 18], [21, 22]]]);
  t.deepEqual(split(arange(10), 4).map((p) => p.toArray()), [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
  t.deepEqual(split(arange(10), [3, 7]).map((p) => p.numel), [3, 7]);
  t.deepEqual(chunk(arange(10), 3).map((p) => p.numel), [4, 4, 2]);
  t.deepEqual(cat([a.narrow(2, 0, 1), a.narrow(2, 1, 3)], 2).toArray(), a.toArray());
  t.deepEqual(cat(split(a, 1, 1), 1).toArray(), a.toArray());
  t.deepEqual(a.view(-1, 6).shape, [4, 6]);
  const m = movedim(a, 2, 0);
  t.deepEqual(m.shape, [4, 2, 3]);
  t.is(m.get(3, 1, 2), a.get(1, 2, 3));
  t.deepEqual(splitTensorAlongLastDim(a, 2).map((p) => p.shape), [[2, 3, 2], [2, 3, 2]]);
  t.is(divide(12, 4), 3);
  t.notThrows(() => ensureDivisibility(12, 4));
});

test('bad input: TypeError/RangeError naming the argument, the value and what is allowed', (t) => {
  const ten = arange(10);
  t.throws(() => splitTensorAlongLastDim(ten, 3), { code: ErrorCodes.SHAPE, message: /last dim of shape \[10\] \(10\) cannot be split into 3 equal parts/ });
  t.throws(() => split(ten, [3, 3]), { code: ErrorCodes.SHAPE, message: /`sections` \[3, 3\] add up to 6, but dim 0 has size 10/ });
  t.throws(() => ten.narrow(0, 8, 5), { code: ErrorCodes.OUT_OF_RANGE, message: /`start` \(8\) \+ `length` \(5\) exceeds the size 10 of dim 0/ });
  t.throws(() => ten.narrow(1, 0, 1), { code: ErrorCodes.OUT_OF_RANGE, message: /`dim` \(1\) is out of range for a tensor of 1 dimensions \(allowed -1\.\.0\)/ });
  t.throws(() => ten.reshape(3, 4), { code: ErrorCodes.SHAPE, message: /`shape` \[3, 4\] is invalid for a tensor of 10 elements/ });
  t.throws(() => tensor([1, 2], { dtype: 'float8' as never }), { code: ErrorCodes.INVALID_ARG_VALUE, message: /`dtype` to be one of "float32", .*"bool", "complex64", "complex128", got "float8" \(string\)/ });
  t.throws(() => empty([2, -1]), { code: ErrorCodes.OUT_OF_RANGE, message: /`shape\[1\]`/ });
  t.throws(() => empty([2.5]), { code: ErrorCodes.INVALID_ARG_TYPE, message: /`shape\[0\]` to be a non-negative integer, got 2.5 \(number\)/ });
  t.throws(() => tensor([[1, 2], [3]]), { code: ErrorCodes.SHAPE, message: /`data\[1\]` has length 1 where 2 entries are expected/ });
  // Each message names the path of the bad entry; holes in `data` or a shape are entries like any other.
  t.throws(() => tensor([[1, 2], [3, [4]]]), {
    code: ErrorCodes.SHAPE, message: /`data\[1\]\[1\]` is nested deeper/,
  });
  t.throws(() => tensor([[[1], [2]], [[3], 'x']]), {
    code: ErrorCodes.SHAPE, message: /`data\[1\]\[1\]` has no array/,
  });
  t.throws(() => tensor([[1, 2], [3, 'x']]), {
    code: ErrorCodes.INVALID_ARG_TYPE, message: /`data\[1\]\[1\]` to be a number, bigint or boolean, got "x"/,
  });
  // eslint-disable-next-line no-sparse-arrays
  t.throws(() => tensor([1, , 3]), {
    code: ErrorCodes.INVALID_ARG_TYPE, message: /`data\[1\]` to be a number/,
  });
  // eslint-disable-next-line no-sparse-arrays
  t.throws(() => empty([2, , 3] as number[]), {
    code: ErrorCodes.INVALID_ARG_TYPE, message: /`shape\[1\]` to be a non-negative integer, got undefined/,
  });
  t.throws(() => empty([2 ** 53]), {
    code: ErrorCodes.OUT_OF_RANGE, message: /`shape\[0\]` to be an integer >= 0/,
  });
  t.throws(() => empty(['2' as never]), { code: ErrorCodes.INVALID_ARG_TYPE, message: /`shape\[0\]`/ });
  t.throws(() => cat([tensor([1]), tensor([1], { dtype: 'int32' })]), { code: ErrorCodes.INVALID_ARG_TYPE, message: /tensors\[1\]\.dtype/ });
  t.throws(() => divide(10, 3), { code: ErrorCodes.OUT_OF_RANGE, message: /10 is not divisible by 3/ });
  t.throws(() => ten.get(10), { code: ErrorCodes.OUT_OF_RANGE, message: /`index\[0\]` \(10\) is out of range for dim 0 of size 10/ });
  t.throws(() => full([1], 1, { shared: true }), { code: ErrorCodes.INVALID_ARG_TYPE, message: /options\.shared/ });
});

test('dtypeFromCode inverts dtypeInfo(d).code and knows no other code', (t) => {
  for (const d of DTYPES) t.is(dtypeFromCode(dtypeInfo(d).code), d);
  t.is(dtypeFromCode(DTYPES.length), undefined);
  t.is(dtypeFromCode(-1), undefined);
});
