/**
 * `reduceStrided`: the latency path's reduce of k inline buffers `stride` bytes apart, with the
 * fingerprint tags (16 bytes, 4 words, each buffer's header) checked first. Results are compared bit for
 * bit with the JS reference; a tag that differs in any word must leave dst untouched.
 */
import test from 'ava';
import { dtypeInfo, REDUCE_OP_CODES, storageView, type DType } from '../../src/tensor/dtype.js';
import { Rng } from '../helpers/mulberry32.js';
import { compareOutputs, referenceReduce } from '../helpers/reference.js';
import { createEnv, opsFor } from './harness.js';
import { randomArray } from './values.js';

const env = createEnv();
const DTYPES: DType[] = ['float32', 'float64', 'float16', 'bfloat16', 'int8', 'uint8', 'int32', 'int64', 'bool', 'complex64', 'complex128'];
const TABLE = 64, DST = 1024, SRC0 = 65536 + 16, STRIDE = 16448 * 2, TAG_BACK = 16;

/** The 4-word tag every input gets unless a test says otherwise. */
const TAG = [0x5eed, -7, 0x7fffffff, 12345];

/** Writes `inputs` at SRC0 + j * STRIDE, the 4-word tag `tags[j]` TAG_BACK bytes before each; fills dst with a5. */
function place(dtype: DType, inputs: ReturnType<typeof randomArray>[], tags: number[][], count: number): void {
  const words = new Int32Array(env.memory.buffer);
  inputs.forEach((input, j) => {
    storageView(dtype, env.memory.buffer, SRC0 + j * STRIDE, count).set(input as never);
    words.set(tags[j]!, (SRC0 + j * STRIDE - TAG_BACK) >> 2);
  });
  new Uint8Array(env.memory.buffer, DST, count * dtypeInfo(dtype).itemBytes + 64).fill(0xa5);
}

for (const dtype of DTYPES) {
  test(`reduceStrided ${dtype}: every op, k = 1, 2, 3 and 5, odd counts, equal tags: the reference's bits`, (t) => {
    const rng = new Rng(11 + dtypeInfo(dtype).code);
    const failures: string[] = [];
    const { code } = dtypeInfo(dtype);
    for (const op of opsFor(dtype)) {
      for (const k of [1, 2, 3, 5]) {
        for (const count of [0, 1, 7, 33, 1001]) {
          const inputs = Array.from({ length: k }, () => randomArray(dtype, count, rng));
          place(dtype, inputs, inputs.map(() => TAG), count);
          const opCode = REDUCE_OP_CODES[op];
          t.true(env.kernels.reduceStrided(code, opCode, DST, TABLE, SRC0, STRIDE, k, count, TAG_BACK));
          const actual = storageView(dtype, env.memory.buffer, DST, count);
          const expected = referenceReduce(dtype, op, inputs, count);
          const bad = compareOutputs(dtype, expected, actual);
          if (bad !== undefined) failures.push(`${op} k=${k} count=${count}: element ${bad.index} is ${bad.actual}, expected ${bad.expected}`);
          const after = new Uint8Array(env.memory.buffer, DST + count * dtypeInfo(dtype).itemBytes, 64);
          if (!after.every((b) => b === 0xa5)) failures.push(`${op} k=${k} count=${count}: a byte after dst was written`);
          // tagBack 0 (checks off) reduces the same inputs to the same bits.
          t.true(env.kernels.reduceStrided(code, opCode, DST, TABLE, SRC0, STRIDE, k, count, 0));
          if (compareOutputs(dtype, expected, storageView(dtype, env.memory.buffer, DST, count)) !== undefined) failures.push(`${op} k=${k} count=${count}: tagBack 0 differs`);
        }
      }
    }
    t.deepEqual(failures, []);
  });
}

test('reduceStrided: a tag differing in any word (by a bit) returns false, dst untouched; tagBack 0 ignores it', (t) => {
  const rng = new Rng(5);
  for (const k of [2, 3, 8]) {
    for (let odd = 0; odd < k; odd++) {
      for (let word = 0; word < 4; word++) {
        const inputs = Array.from({ length: k }, () => randomArray('float32', 9, rng));
        const differing = TAG.map((x, i) => (i === word ? x ^ (1 << rng.int(0, 31)) : x));
        place('float32', inputs, inputs.map((_, j) => (j === odd ? differing : TAG)), 9);
        const what = `k=${k}, member ${odd}, word ${word} differs`;
        t.false(env.kernels.reduceStrided(0, 0, DST, TABLE, SRC0, STRIDE, k, 9, TAG_BACK), what);
        const dst = new Uint8Array(env.memory.buffer, DST, 9 * 4 + 64);
        t.true(dst.every((b) => b === 0xa5), `${what}: dst was written`);
        t.true(env.kernels.reduceStrided(0, 0, DST, TABLE, SRC0, STRIDE, k, 9, 0));
        const expected = referenceReduce('float32', 'sum', inputs, 9);
        t.is(compareOutputs('float32', expected, storageView('float32', env.memory.buffer, DST, 9)), undefined, what);
      }
    }
  }
});

test('reduceStrided refuses bad arguments with a message naming them', (t) => {
  const k = env.kernels;
  place('int32', [new Int32Array(4), new Int32Array(4)], [TAG, TAG], 4); // equal tags: the op checks are reached
  const end = env.memory.buffer.byteLength;
  t.throws(() => k.reduceStrided(0, 0, DST, TABLE, SRC0, 8, 2, 4, TAG_BACK), { code: 'ERR_MULTIRANK_OUT_OF_RANGE', message: /`strideBytes` \(8\) must be .* at least the input size \(16 bytes\)/ });
  t.throws(() => k.reduceStrided(0, 0, DST, TABLE, SRC0, 18, 2, 4, TAG_BACK), { message: /`strideBytes` \(18\) must be a multiple of the item size \(4\)/ });
  t.throws(() => k.reduceStrided(0, 0, DST, TABLE, 8, STRIDE, 2, 4, TAG_BACK), { code: 'ERR_MULTIRANK_OUT_OF_RANGE', message: /src0Offset - tagBackBytes/ });
  t.throws(() => k.reduceStrided(0, 0, DST, TABLE, end - 64, STRIDE, 2, 4, TAG_BACK), { message: /src0Offset - tagBackBytes/ });
  t.throws(() => k.reduceStrided(0, 0, DST, TABLE, SRC0 + 2, STRIDE, 2, 4, TAG_BACK), { message: /src0Offset/ });
  t.throws(() => k.reduceStrided(0, 0, SRC0 + STRIDE, TABLE, SRC0, STRIDE, 2, 4, TAG_BACK), { message: /must not overlap/ });
  t.throws(() => k.reduceStrided(0, 0, DST, SRC0 - TAG_BACK, SRC0, STRIDE, 2, 4, TAG_BACK), { message: /must not overlap/ });
  t.throws(() => k.reduceStrided(0, 0, DST, DST, SRC0, STRIDE, 2, 4, TAG_BACK), { message: /must not overlap/ });
  t.throws(() => k.reduceStrided(0, 0, DST, TABLE, SRC0, STRIDE, 0, 4, TAG_BACK), { message: /`k`/ });
  t.throws(() => k.reduceStrided(0, 0, DST, TABLE, SRC0, STRIDE, 2, 4, -1), { message: /`tagBackBytes`/ });
  const shortTag = /`tagBackBytes` \(4\) must be 0 or at least the tag size \(16 bytes\)/;
  t.throws(() => k.reduceStrided(0, 0, DST, TABLE, SRC0, STRIDE, 2, 4, 4), { message: shortTag });
  t.throws(() => k.reduceStrided(0, 0, DST, TABLE, SRC0, STRIDE, 2, 4, 16.5), { message: /`tagBackBytes`/ });
  t.throws(() => k.reduceStrided(6, 4, DST, TABLE, SRC0, STRIDE, 2, 4, TAG_BACK), { code: 'ERR_MULTIRANK_DTYPE', message: /avg/ });
  t.throws(() => k.reduceStrided(0, 5, DST, TABLE, SRC0, STRIDE, 2, 4, TAG_BACK), { code: 'ERR_MULTIRANK_DTYPE', message: /"band".*"float32"/ });
  t.throws(() => k.reduceStrided(9, 3, DST, TABLE, SRC0, STRIDE, 2, 2, TAG_BACK), { code: 'ERR_MULTIRANK_DTYPE', message: /"max".*"complex64"/ });
  t.throws(() => k.reduceStrided(0, 9, DST, TABLE, SRC0, STRIDE, 2, 4, TAG_BACK), { message: /`opCode`/ });
});
