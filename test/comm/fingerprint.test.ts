/**
 * The fingerprint fast path: call keys are exact (no two different calls share one), and a member's
 * inline headers always hold the fingerprint of its current call, while a steady run of the same call
 * stores nothing. The shape hashes are tested in shape-hash.test.ts, the end-to-end mismatch reports in
 * errors.test.ts.
 */
import test from 'ava';
import { allReduceKey, callKey, fingerprintWords, HeaderHash } from '../../src/comm/threads/fingerprint.js';
import type { GroupBlock } from '../../src/comm/threads/group-block.js';
import { drawHashPoints } from '../../src/comm/threads/shape-hash.js';

const POINTS = drawHashPoints();

test('callKey is exact: distinct fields give distinct keys, on both sides of the small/wide boundary', (t) => {
  const seen = new Map<number, string>();
  const bad: string[] = [];
  // Each field at its ends and on both sides of the small form's limits (root 510, dims 14).
  const roots = [-1, 0, 1, 508, 509, 510, 511, 4095, 8190];
  const dims = [-1, 0, 1, 12, 13, 14, 15, 126, 127, 128, 8190];
  for (const op of [0, 1, 15, 16, 17, 30, 31]) {
    for (const dtype of [-1, 0, 1, 10, 13, 14]) {
      for (const reduce of [-1, 0, 7, 13, 14]) {
        for (const root of roots) {
          for (const dim of dims) {
            for (const dim2 of dims) {
              const fields = `${op},${dtype},${reduce},${root},${dim},${dim2}`;
              const key = callKey(op, dtype, reduce, root, dim, dim2);
              if (!(Number.isSafeInteger(key) && key >= 0 && key < 2 ** 53)) bad.push(`${fields}: ${key}`);
              const before = seen.get(key);
              if (before !== undefined) bad.push(`${fields} and ${before} share key ${key}`);
              seen.set(key, fields);
            }
          }
        }
      }
    }
  }
  t.deepEqual(bad.slice(0, 5), []);
  // allReduce keys are negative: never a callKey.
  for (let codes = 0; codes < 2048; codes++) t.false(seen.has(allReduceKey(codes)));
  // Common calls get a small integer (V8 keeps it unboxed); large roots or dims the wide form.
  t.true(callKey(31, 14, 14, 509, 13, 13) < 2 ** 30);
  t.true(callKey(0, 0, 0, 510, -1, -1) >= 2 ** 30);
  t.true(callKey(0, 0, 0, -1, 14, -1) >= 2 ** 30);
});

test('callKey refuses fields past the wide form rather than share a key (dims of 8192-dim tensors)', (t) => {
  const code = 'ERR_MULTIRANK_OUT_OF_RANGE';
  t.throws(() => callKey(6, 0, -1, -1, 8191, 0), { code, message: /below 8191/ });
  t.throws(() => callKey(6, 0, -1, -1, 0, 9000), { message: /dims 0 and 9000/ });
  t.throws(() => callKey(4, 0, -1, 8191, -1, -1), { message: /root 8191/ });
});

test('fingerprintWords: the exact key in two words (low 32 bits, the rest), then the shape hashes', (t) => {
  const wide = callKey(6, 3, -1, -1, 8190, 8190);
  for (const key of [0, 1, 2 ** 30 - 1, 2 ** 30, 2 ** 32 + 5, 2 ** 50 + 3, wide, -2, allReduceKey(2047)]) {
    const [lo, hi] = fingerprintWords(key, [4], POINTS);
    t.true(Number.isInteger(lo) && (lo | 0) === lo && (hi! | 0) === hi, `${key}: words fit an Int32`);
    t.is(hi! * 2 ** 32 + (lo! >>> 0), key, `${key} is read back exactly`);
  }
  const [, , a1, a2] = fingerprintWords(1, [1, 1, 61, 64], POINTS);
  const [, , b1, b2] = fingerprintWords(1, [1, 2, 34, 3, 14], POINTS);
  t.false(a1 === b1 && a2 === b2, 'the pair that collided under the 32-bit hash');
});

/** A stand-in block: records the stores into its inline headers (member 0: parity 0 at word 0, 1 at 4). */
function fakeBlock(): { block: GroupBlock; stores: [number, number[]][] } {
  const stores: [number, number[]][] = [];
  const words = new Proxy(new Int32Array(8), {
    set(target, prop, value) {
      const index = Number(prop), parity = index >> 2;
      if ((index & 3) === 0) stores.push([parity, []]);
      stores.at(-1)![1].push(value as number);
      target[index] = value as number;
      return true;
    },
  });
  const inlineHeaderWord = (_m: number, seq: number): number => (seq & 1) * 4;
  const block = { words, rankInGroup: 0, inlineHeaderWord } as unknown as GroupBlock;
  return { block, stores };
}

/** What a store of (key, shape) into parity `parity` records. */
const stored = (parity: number, key: number, shape: readonly number[] | undefined): [number, number[]] =>
  [parity, fingerprintWords(key, shape, POINTS)];

test('HeaderHash stores into both parities once, then nothing while the call repeats; a change stores again', (t) => {
  const { block, stores } = fakeBlock();
  const hh = new HeaderHash(POINTS);
  const shape = Object.freeze([4]);
  const key = callKey(0, 0, 0, -1, -1, -1);
  for (let seq = 1; seq <= 6; seq++) hh.write(block, seq, key, shape);
  t.deepEqual(stores, [stored(1, key, shape), stored(0, key, shape)]);
  // Another shape object with other values, then back: each change refreshes both parities.
  stores.length = 0;
  const other = Object.freeze([5]);
  for (let seq = 7; seq <= 9; seq++) hh.write(block, seq, key, other);
  t.deepEqual(stores, [stored(1, key, other), stored(0, key, other)]);
  stores.length = 0;
  const sum = callKey(0, 0, 0, -1, -1, -1), max = callKey(0, 0, 3, -1, -1, -1);
  hh.write(block, 10, max, other);
  hh.write(block, 11, sum, other);
  hh.write(block, 12, sum, other);
  hh.write(block, 13, sum, other);
  t.deepEqual(stores, [stored(0, max, other), stored(1, sum, other), stored(0, sum, other)]);
});

test('HeaderHash stores on every call when the shape is not frozen (it may have changed in place)', (t) => {
  const { block, stores } = fakeBlock();
  const hh = new HeaderHash(POINTS);
  const shape = [4];
  const key = callKey(0, 0, 0, -1, -1, -1);
  hh.write(block, 1, key, shape);
  hh.write(block, 2, key, shape);
  shape[0] = 6;
  hh.write(block, 3, key, shape);
  hh.write(block, 4, key, shape);
  t.deepEqual(stores, [stored(1, key, [4]), stored(0, key, [4]), stored(1, key, [6]), stored(0, key, [6])]);
});

test('HeaderHash: a call without a shape (barrier) settles too', (t) => {
  const { block, stores } = fakeBlock();
  const hh = new HeaderHash(POINTS);
  const key = callKey(7, -1, -1, -1, -1, -1);
  for (let seq = 1; seq <= 5; seq++) hh.write(block, seq, key, undefined);
  t.is(stores.length, 2);
  t.deepEqual(stores, [stored(1, key, undefined), stored(0, key, undefined)]);
});
