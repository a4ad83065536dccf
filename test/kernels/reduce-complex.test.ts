/**
 * complex64 / complex128 in the kernels: sum and avg against the complex reference (the whole case
 * matrix: lengths, k = 1..8, reduce2, in place, misaligned by whole parts), known answers written by
 * hand, and every other op refused with a status and a DTYPE error naming the op and the dtype.
 */
import test from 'ava';
import { kernelModule, KERNEL_STATUS } from '../../src/shm/kernels.js';
import { dtypeInfo, REDUCE_OP_CODES, storageView, type DType, type ReduceOp } from '../../src/tensor/dtype.js';
import { createEnv, opsFor } from './harness.js';
import { runMatrix } from './matrix.js';

const env = createEnv();
const COMPLEX = ['complex64', 'complex128'] as const;

for (const dtype of COMPLEX) {
  for (const op of opsFor(dtype)) {
    test(`${dtype} ${op} matches the complex reference (lengths x k=1..8, reduce2, in place, misaligned)`, (t) => {
      const { failures, cases, seed } = runMatrix(env, dtype, op);
      t.deepEqual(failures, [], `seed ${seed}`);
      t.true(cases > 150);
    });
  }
}

/** Reduces single complex elements given as [re, im] with the table form; returns [re, im]. */
function one(dtype: DType, op: ReduceOp, inputs: [number, number][]): number[] {
  const { memory, kernels } = env;
  const srcs = inputs.map((_, j) => 1024 + 64 * j);
  const parts = (at: number): Float32Array | Float64Array =>
    storageView(dtype, memory.buffer, at, 1) as Float32Array | Float64Array;
  inputs.forEach((x, j) => parts(srcs[j]!).set(x));
  new Uint32Array(memory.buffer, 0, srcs.length).set(srcs);
  kernels.reduce(dtypeInfo(dtype).code, REDUCE_OP_CODES[op], 4096, 0, srcs.length, 1);
  return [...parts(4096)];
}

const known: [DType, ReduceOp, [number, number][], number[], string][] = [
  ['complex64', 'sum', [[1, 2], [3, -4]], [4, -2], '(1 + 2i) + (3 - 4i) = 4 - 2i'],
  ['complex64', 'sum', [[1, 0], [0, 1], [-1, -1]], [0, 0], 'parts never mix'],
  ['complex64', 'avg', [[1, 1], [2, 4]], [1.5, 2.5], 'avg divides both parts by k'],
  ['complex64', 'avg', [[1, 2], [2, 0], [4, 0]], [2.3333332538604736, 0.6666666865348816], 'f32 sum, then / k in f32'],
  ['complex64', 'sum', [[2 ** 24, 0], [1, 2 ** 24], [1, 1]], [2 ** 24, 2 ** 24], 'each part rounds to f32 at each step'],
  ['complex128', 'sum', [[2 ** 53, 0.5], [1, 0.25], [1, 0.125]], [2 ** 53, 0.875], 'each part is an f64 left fold'],
  ['complex128', 'avg', [[1, -3], [2, 6]], [1.5, 1.5], 'complex128 avg'],
];

for (const [dtype, op, inputs, expected, why] of known) {
  test(`known answer: ${dtype} ${op} of ${JSON.stringify(inputs)} is ${JSON.stringify(expected)} (${why})`, (t) => {
    t.deepEqual(one(dtype, op, inputs), expected);
  });
}

test('complex dtypes refuse prod, min, max and the bitwise ops: a status from the raw exports, a DTYPE error', (t) => {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
  const raw = new WebAssembly.Instance(kernelModule(), { env: { memory } }).exports as unknown as {
    reduce(d: number, o: number, dst: number, table: number, k: number, n: number): number;
    reduce2(d: number, o: number, dst: number, a: number, b: number, n: number): number;
  };
  const bytes = new Uint8Array(memory.buffer);
  bytes.fill(7);
  new Uint32Array(memory.buffer, 0, 2).set([256, 512]);
  for (const dtype of COMPLEX) {
    const code = dtypeInfo(dtype).code;
    for (const op of ['prod', 'min', 'max', 'band', 'bor', 'bxor'] as const) {
      const opCode = REDUCE_OP_CODES[op];
      t.is(raw.reduce(code, opCode, 1024, 0, 2, 4), KERNEL_STATUS.OP_NOT_ALLOWED, `${dtype} ${op}`);
      t.is(raw.reduce2(code, opCode, 1024, 256, 512, 4), KERNEL_STATUS.OP_NOT_ALLOWED, `${dtype} ${op}`);
      t.throws(() => env.kernels.reduce2(code, REDUCE_OP_CODES[op], 4096, 1024, 2048, 4), {
        instanceOf: TypeError, code: 'ERR_MULTIRANK_DTYPE',
        message: new RegExp(`"${op}" \\(code \\d\\) is not allowed on dtype "${dtype}".*take only sum and avg`),
      });
    }
  }
  t.true(bytes.subarray(8).every((b) => b === 7), 'a refused call wrote to memory');
});

test('complex offsets need only the alignment of a part: complex128 at 8-byte offsets, complex64 at 4', (t) => {
  const { memory, kernels } = env;
  const f64 = new Float64Array(memory.buffer);
  f64.set([1, 2, 3, 4], 1032 / 8);
  f64.set([10, 20, 30, 40], 2056 / 8);
  kernels.reduce2(dtypeInfo('complex128').code, REDUCE_OP_CODES.sum, 3080, 1032, 2056, 2);
  t.deepEqual([...new Float64Array(memory.buffer, 3080, 4)], [11, 22, 33, 44]);
  new Float32Array(memory.buffer, 1028, 2).set([1, -1]);
  new Float32Array(memory.buffer, 2052, 2).set([0.5, 0.25]);
  kernels.reduce2(dtypeInfo('complex64').code, REDUCE_OP_CODES.avg, 3076, 1028, 2052, 1);
  t.deepEqual([...new Float32Array(memory.buffer, 3076, 2)], [0.75, -0.375]);
  t.throws(() => kernels.reduce2(dtypeInfo('complex128').code, 0, 3080, 1028, 2056, 2), {
    message: /`aOffset` \(1028\) must be a multiple of the element size 8/,
  });
});
