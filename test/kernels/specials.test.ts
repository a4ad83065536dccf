import test from 'ava';
import { dtypeInfo, REDUCE_OP_CODES, storageView, type DType, type ReduceOp } from '../../src/tensor/dtype.js';
import { Rng } from '../helpers/mulberry32.js';
import { checkCase, createEnv, opsFor } from './harness.js';
import { allTuples, specialValues } from './values.js';

const env = createEnv();
const DTYPES: DType[] = ['float32', 'float64', 'float16', 'bfloat16', 'int8', 'uint8', 'int32', 'int64', 'bool', 'complex64', 'complex128'];

for (const dtype of DTYPES) {
  test(`${dtype}: every pair and triple of special values, every op, both forms`, (t) => {
    const rng = new Rng(7);
    const values = specialValues(dtype);
    const failures: string[] = [];
    for (const op of opsFor(dtype)) {
      const pairs = allTuples(dtype, values, 2);
      const triples = allTuples(dtype, values, 3);
      for (const c of [
        { dtype, op, inputs: pairs, form: 'pair' as const, misalign: true },
        { dtype, op, inputs: pairs, form: 'table' as const, misalign: false },
        { dtype, op, inputs: triples, form: 'table' as const, misalign: true },
      ]) {
        const failure = checkCase(env, c, rng);
        if (failure !== undefined) failures.push(failure);
      }
    }
    t.deepEqual(failures, []);
  });
}

/** Runs reduce2 on single elements (given as storage values) and returns the output element. */
function one(dtype: DType, op: ReduceOp, inputs: (number | bigint)[]): number | bigint {
  const info = dtypeInfo(dtype);
  const { memory, kernels } = env;
  const srcs = inputs.map((_, j) => 1024 + 64 * j);
  inputs.forEach((x, j) => (storageView(dtype, memory.buffer, srcs[j]!, 1)[0] = x as never));
  new Uint32Array(memory.buffer, 0, srcs.length).set(srcs);
  kernels.reduce(info.code, REDUCE_OP_CODES[op], 4096, 0, srcs.length, 1);
  return storageView(dtype, memory.buffer, 4096, 1)[0]!;
}

// Known answers, written by hand: they pin the semantics independently of the JS reference.
const known: [DType, ReduceOp, (number | bigint)[], number | bigint, string][] = [
  ['float32', 'min', [0, -0], -0, 'min orders -0 below +0'],
  ['float32', 'max', [-0, 0], 0, 'max orders +0 above -0'],
  ['float32', 'max', [1, NaN, 2], NaN, 'NaN propagates through max'],
  ['float32', 'min', [NaN, -Infinity], NaN, 'NaN propagates through min'],
  ['float32', 'sum', [-0, -0], -0, '-0 + -0 = -0'],
  ['float32', 'sum', [16777216, 1, 1], 16777216, 'left fold: (2^24 + 1) + 1 rounds twice'],
  ['float32', 'avg', [1, 2, 4], 2.3333332538604736, 'avg divides the f32 sum once'],
  ['float64', 'sum', [2 ** 53, 1, 1], 2 ** 53, 'f64 left fold'],
  ['float64', 'avg', [1, 2], 1.5, 'f64 avg'],
  ['float16', 'sum', [0x7bff, 0x4c00], 0x7c00, '65504 + 16 = 65520 is a tie, rounds to even: inf'],
  ['float16', 'sum', [0x7bff, 0x4bfe], 0x7bff, '65504 + 15.97 stays 65504'],
  ['float16', 'sum', [0x3c00, 0x1000], 0x3c00, '1 + 2^-11 is a tie, rounds to even: 1'],
  ['float16', 'sum', [0x3c01, 0x1000], 0x3c02, '(1 + 2^-10) + 2^-11 is a tie, rounds to even: 1 + 2^-9'],
  ['float16', 'sum', [0x0001, 0x0001], 0x0002, 'subnormals add exactly'],
  ['float16', 'sum', [0x3c00, 0x1000, 0x1000], 0x3c01, 'accumulates in f32 and rounds once'],
  ['float16', 'avg', [0x3c00, 0x4000], 0x3e00, 'avg of 1 and 2 is 1.5'],
  ['float16', 'sum', [0x7c01, 0x3c00], 0x7e00, 'a signalling NaN comes out as the quiet NaN'],
  ['bfloat16', 'sum', [0x3f80, 0x3b80], 0x3f80, '1 + 2^-8 is a tie, rounds to even: 1'],
  ['bfloat16', 'sum', [0x3f81, 0x3b80], 0x3f82, '(1 + 2^-7) + 2^-8 rounds to even upward'],
  ['bfloat16', 'sum', [0x7f7f, 0x7b00], 0x7f80, 'max + half an ulp is a tie, rounds to even: inf'],
  ['bfloat16', 'sum', [0x7f7f, 0x7a80], 0x7f7f, 'max + a quarter ulp stays max'],
  ['bfloat16', 'prod', [0x4000, 0xc040], 0xc0c0, '2 * -3 = -6'],
  ['int8', 'sum', [127, 1], -128, 'int8 wraps'],
  ['int8', 'prod', [-128, -1], -128, 'int8 prod wraps'],
  ['int8', 'prod', [16, 16, 3], 0, '256 * 3 wraps to 0'],
  ['int8', 'min', [-128, 127], -128, 'int8 min is signed'],
  ['uint8', 'sum', [255, 1], 0, 'uint8 wraps'],
  ['uint8', 'max', [128, 127], 128, 'uint8 max is unsigned'],
  ['uint8', 'prod', [15, 17], 255, 'uint8 prod'],
  ['int32', 'sum', [2 ** 31 - 1, 1], -(2 ** 31), 'int32 wraps'],
  ['int32', 'prod', [65536, 65536], 0, 'int32 prod wraps'],
  ['int32', 'max', [-1, -(2 ** 31)], -1, 'int32 max is signed'],
  ['int64', 'sum', [2n ** 63n - 1n, 1n], -(2n ** 63n), 'int64 wraps'],
  ['int64', 'prod', [2n ** 32n, 2n ** 32n, 5n], 0n, 'int64 prod wraps'],
  ['int64', 'prod', [3037000500n, 3037000500n], -9223372036709301616n, 'int64 prod keeps the low 64 bits'],
  ['int64', 'min', [-1n, 1n, -(2n ** 63n)], -(2n ** 63n), 'int64 min is signed'],
  ['int64', 'max', [-(2n ** 63n), -1n], -1n, 'int64 max is signed'],
  ['bool', 'sum', [0, 1, 0], 1, 'bool sum is or'],
  ['bool', 'prod', [1, 1, 0], 0, 'bool prod is and'],
  ['bool', 'max', [0, 0], 0, 'bool max'],
  ['int8', 'band', [-1, 0x5a, 0x0f], 0x0a, 'int8 and: -1 is all ones'],
  ['int8', 'bor', [-128, 1], -127, 'int8 or keeps the sign bit'],
  ['int8', 'bxor', [-1, 0x0f], -16, 'int8 xor with all ones is not'],
  ['uint8', 'band', [0xf0, 0x3c], 0x30, 'uint8 and'],
  ['uint8', 'bxor', [0xff, 0x0f, 0x30], 0xc0, 'uint8 xor folds left'],
  ['int32', 'band', [-1, 0x12345678], 0x12345678, 'int32 and'],
  ['int32', 'bor', [-(2 ** 31), 1], -(2 ** 31) + 1, 'int32 or'],
  ['int32', 'bxor', [0x7fffffff, -1], -(2 ** 31), 'int32 xor'],
  ['int64', 'band', [-1n, 2n ** 62n + 5n, 2n ** 62n + 3n], 2n ** 62n + 1n, 'int64 and reaches the high word'],
  ['int64', 'bor', [-(2n ** 63n), 1n], -(2n ** 63n) + 1n, 'int64 or'],
  ['int64', 'bxor', [2n ** 63n - 1n, -1n], -(2n ** 63n), 'int64 xor'],
  ['bool', 'band', [1, 1, 0], 0, 'bool band is and'],
  ['bool', 'bor', [0, 0, 1], 1, 'bool bor is or'],
  ['bool', 'bxor', [1, 1, 1], 1, 'bool bxor: an odd number of trues'],
  ['bool', 'bxor', [1, 0, 1], 0, 'bool bxor: an even number of trues'],
];

for (const [dtype, op, inputs, expected, why] of known) {
  test(`known answer: ${dtype} ${op} [${inputs.join(', ')}] -> ${expected} (${why})`, (t) => {
    const actual = one(dtype, op, inputs);
    if (typeof expected === 'number' && Number.isNaN(expected)) t.true(Number.isNaN(actual), why);
    else t.true(Object.is(actual, expected), `${why}: got ${actual}`);
  });
}
