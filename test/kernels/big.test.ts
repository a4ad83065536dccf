import test from 'ava';
import type { DType, ReduceOp } from '../../src/tensor/dtype.js';
import { Rng } from '../helpers/mulberry32.js';
import { checkCase, createEnv, seedOf, type ReduceCase } from './harness.js';
import { randomArray } from './values.js';

const env = createEnv(1024);

function makeCase(dtype: DType, op: ReduceOp, k: number, count: number, rng: Rng, extra: Partial<ReduceCase> = {}): ReduceCase {
  const inputs = Array.from({ length: k }, () => randomArray(dtype, count, rng));
  return { dtype, op, inputs, form: 'table', misalign: true, ...extra };
}

const MIB = 1 << 20;
const several: [DType, ReduceOp, number, number][] = [
  ['float32', 'sum', 4, (4 * MIB) / 4],
  ['bfloat16', 'avg', 3, (2 * MIB) / 2 + 5],
  ['int64', 'sum', 2, (2 * MIB) / 8 + 3],
  ['int8', 'prod', 3, 2 * MIB + 1],
  ['float64', 'max', 2, (4 * MIB) / 8 + 1],
  ['int32', 'bxor', 3, MIB + 7],
  ['complex64', 'sum', 3, (2 * MIB) / 8 + 3],
  ['complex128', 'avg', 2, (4 * MIB) / 16 + 1],
];

for (const [dtype, op, k, count] of several) {
  test(`several MiB: ${dtype} ${op} of ${k} inputs x ${count} elements`, (t) => {
    const rng = new Rng(seedOf(`big/${dtype}/${op}`));
    t.is(checkCase(env, makeCase(dtype, op, k, count, rng), rng), undefined);
  });
}

const many: [DType, ReduceOp, number][] = [
  ['float32', 'sum', 33],
  ['float32', 'avg', 64],
  ['bfloat16', 'sum', 33],
  ['float16', 'max', 33],
  ['int32', 'max', 33],
  ['int64', 'prod', 33],
  ['uint8', 'sum', 33],
  ['bool', 'prod', 33],
  ['float64', 'min', 40],
  ['int64', 'band', 33],
  ['uint8', 'bor', 33],
  ['bool', 'bxor', 33],
  ['complex64', 'avg', 33],
];

for (const [dtype, op, k] of many) {
  test(`k=${k} inputs: ${dtype} ${op}, out of place and in place over the last input`, (t) => {
    const rng = new Rng(seedOf(`many/${dtype}/${op}`));
    t.is(checkCase(env, makeCase(dtype, op, k, 1000, rng), rng), undefined);
    t.is(checkCase(env, makeCase(dtype, op, k, 77, rng, { inPlace: 'last' }), rng), undefined);
  });
}
