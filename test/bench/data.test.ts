/**
 * The check data and its reference: `reducedAt` (the bench's plain-JS reference) against a second,
 * independent computation that reduces the filled typed arrays element by element the way the kernels
 * are specified to (left fold in rank order, f32 accumulation for 16-bit floats, wrapping integers);
 * exactness of the chosen levels (sums equal the exact integer sum); and the #wrong counter.
 */
import test from 'ava';
import { countWrong, dataPattern, fillInput, inputAt, mixSeed, reducedAt, type Stored } from '../../src/bench/data.js';
import { corruptFirst } from '../../src/bench/rank-ops.js';
import { DTYPES, REDUCE_OPS, storageView, type DType, type ReduceOp, type StorageArray } from '../../src/tensor/dtype.js';
import { BFLOAT16, FLOAT16, halfBitsToNumber } from '../helpers/reference.js';
import { nearestHalfBits } from '../helpers/half-table.js';

const ITEM: Record<DType, number> = {
  float32: 4, float64: 8, float16: 2, bfloat16: 2, int8: 1, uint8: 1, int32: 4, int64: 8, bool: 1, complex64: 8, complex128: 16,
};
const FLOATS = ['float32', 'float64', 'float16', 'bfloat16'];
/** torch's rules, restated: avg on floats and complex, bitwise ops on integers and bool, complex only sum and avg. */
function allowed(dtype: DType, op: ReduceOp): boolean {
  if (dtype === 'complex64' || dtype === 'complex128') return op === 'sum' || op === 'avg';
  if (op === 'avg') return FLOATS.includes(dtype);
  return !(FLOATS.includes(dtype) && (op === 'band' || op === 'bor' || op === 'bxor'));
}
const N = 2000;

function inputs(dtype: DType, redop: ReduceOp | undefined, ranks: number, seed: number): { arrays: StorageArray[]; seeds: number[] } {
  const pattern = dataPattern(dtype, redop, ranks);
  const seeds = Array.from({ length: ranks }, (_, r) => mixSeed(seed, r));
  const arrays = seeds.map((s) => {
    const a = storageView(dtype, new ArrayBuffer(N * ITEM[dtype]), 0, N);
    fillInput(a, pattern, s);
    return a;
  });
  return { arrays, seeds };
}

/** The second reference: decode, fold step by step in the kernels' arithmetic, encode. */
function independent(dtype: DType, op: ReduceOp, values: Stored[]): Stored {
  const effective = dtype === 'bool' ? (op === 'sum' ? 'max' : op === 'prod' ? 'min' : op) : op;
  const bits = (a: number, b: number): number => (effective === 'band' ? a & b : effective === 'bor' ? a | b : a ^ b);
  const f = (a: number, b: number): number => (effective === 'sum' || effective === 'avg' ? a + b : effective === 'prod' ? a * b
    : effective === 'min' ? Math.min(a, b) : effective === 'max' ? Math.max(a, b) : bits(a, b));
  if (dtype === 'int64') {
    const bigBits = (a: bigint, b: bigint): bigint => (effective === 'band' ? a & b : effective === 'bor' ? a | b : a ^ b);
    const g = (a: bigint, b: bigint): bigint => BigInt.asIntN(64, effective === 'sum' ? a + b : effective === 'prod' ? a * b
      : effective === 'min' ? (a < b ? a : b) : effective === 'max' ? (a > b ? a : b) : bigBits(a, b));
    return (values as bigint[]).reduce(g);
  }
  if (dtype === 'float16' || dtype === 'bfloat16') {
    // 16-bit floats through the test's own references, not src/tensor/half.ts (which data.ts uses).
    const format = dtype === 'float16' ? FLOAT16 : BFLOAT16;
    let acc = halfBitsToNumber(values[0] as number, format);
    for (const v of values.slice(1)) acc = Math.fround(f(acc, halfBitsToNumber(v as number, format)));
    if (effective === 'avg') acc = Math.fround(acc / values.length);
    return nearestHalfBits(acc, format);
  }
  // A complex element's parts are checked one at a time, each as a float of the parts' format.
  const part = dtype === 'complex64' ? 'float32' : dtype === 'complex128' ? 'float64' : dtype;
  const cell = storageView(part, new ArrayBuffer(8), 0, 1) as Exclude<StorageArray, BigInt64Array>;
  cell[0] = values[0] as number;
  for (const v of values.slice(1)) cell[0] = dtype === 'int32' && effective === 'prod' ? Math.imul(cell[0]!, v as number) : f(cell[0]!, v as number);
  if (effective === 'avg') cell[0] = cell[0]! / values.length;
  return cell[0]!;
}

for (const dtype of DTYPES) {
  test(`reference reduction of ${dtype} agrees with an independent fold at 1, 2, 3, 8 and 16 ranks`, (t) => {
    for (const op of REDUCE_OPS) {
      if (!allowed(dtype, op)) continue;
      for (const ranks of [1, 2, 3, 8, 16]) {
        const { arrays, seeds } = inputs(dtype, op, ranks, 1234 + ranks);
        const pattern = dataPattern(dtype, op, ranks);
        for (let i = 0; i < N; i++) {
          const expected = independent(dtype, op, arrays.map((a) => a[i]!));
          const got = reducedAt(pattern, seeds, i);
          if (got !== expected) return t.fail(`${dtype} ${op} ${ranks} ranks, element ${i}: ${got} != ${expected}`);
        }
      }
    }
    t.pass();
  });
}

test('sums of the check data are exact: the expected value is the integer sum', (t) => {
  const decoders: Array<[DType, (x: number) => number]> = [
    ['float16', (x) => halfBitsToNumber(x, FLOAT16)],
    ['bfloat16', (x) => halfBitsToNumber(x, BFLOAT16)],
    ['float32', (x) => x],
  ];
  for (const [dtype, decode] of decoders) {
    for (const ranks of [2, 8, 64]) {
      const { arrays, seeds } = inputs(dtype, 'sum', ranks, 77);
      const pattern = dataPattern(dtype, 'sum', ranks);
      for (let i = 0; i < 500; i++) {
        const exact = arrays.reduce((s, a) => s + decode(a[i] as number), 0);
        t.is(decode(reducedAt(pattern, seeds, i) as number), exact);
      }
    }
  }
});

test('inputs are seeded: repeatable, different per rank, and inputAt matches the filled array', (t) => {
  const a = inputs('float32', 'sum', 3, 5), b = inputs('float32', 'sum', 3, 5);
  t.deepEqual(a.arrays, b.arrays);
  t.notDeepEqual(a.arrays[0], a.arrays[1]);
  const pattern = dataPattern('float32', 'sum', 3);
  for (let i = 0; i < N; i += 97) t.is(inputAt(pattern, a.seeds[2]!, i), a.arrays[2]![i]);
  const distinct = new Set(a.arrays[0] as Float32Array);
  t.true(distinct.size >= 64, `only ${distinct.size} distinct values`);
  const part = storageView('float32', new ArrayBuffer(40), 0, 10);
  fillInput(part, pattern, a.seeds[1]!, 100, 5, 3); // elements 100..104 of rank 1, written at 3..7
  t.deepEqual(Array.from((part as Float32Array).subarray(3, 8)), Array.from((a.arrays[1] as Float32Array).subarray(100, 105)));
});

test('countWrong counts differing elements; corruptFirst makes element 0 wrong in every storage type', (t) => {
  const data = new Float32Array([1, 2, 3, 4]);
  t.is(countWrong(data, (i) => i + 1), 0);
  t.is(countWrong(data, () => 2), 3);
  t.is(countWrong(data, (i) => i + 1, 1, 2), 2); // elements 1..2 hold 2, 3; i counts from 0
  for (const dtype of DTYPES) {
    const { arrays, seeds } = inputs(dtype, undefined, 1, 3);
    const pattern = dataPattern(dtype, undefined, 1);
    const array = arrays[0]!;
    t.is(countWrong(array, (i) => inputAt(pattern, seeds[0]!, i)), 0, dtype);
    corruptFirst(array);
    t.is(countWrong(array, (i) => inputAt(pattern, seeds[0]!, i)), 1, dtype);
  }
});
