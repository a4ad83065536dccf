/**
 * The fingerprint fast path: call keys are exact (no two different calls share one), and a member's
 * inline headers always hold the hash of its current call, while a steady run of the same call stores
 * nothing. The end-to-end mismatch reports are in errors.test.ts.
 */
import test from 'ava';
import { callKey, fingerprintHash, HeaderHash } from '../../src/comm/threads/fingerprint.js';
import type { GroupBlock } from '../../src/comm/threads/group-block.js';

test('callKey is exact: distinct fields give distinct keys, on both sides of the small/wide boundary', (t) => {
  const seen = new Map<number, string>();
  const roots = [-1, 0, 1, 1021, 1022, 1023, 2046, 65533];
  const dims = [-1, 0, 1, 12, 13, 14, 15, 126];
  for (let op = 0; op < 8; op++) {
    for (let dtype = -1; dtype < 11; dtype++) {
      for (let reduce = -1; reduce < 8; reduce++) {
        for (const root of roots) {
          for (const dim of dims) {
            for (const dim2 of dims) {
              const fields = `${op},${dtype},${reduce},${root},${dim},${dim2}`;
              const key = callKey(op, dtype, reduce, root, dim, dim2);
              t.true(Number.isSafeInteger(key) && key >= 0, fields);
              const before = seen.get(key);
              if (before !== undefined) t.fail(`${fields} and ${before} share key ${key}`);
              seen.set(key, fields);
            }
          }
        }
      }
    }
  }
  // Common calls get a small integer (V8 keeps it unboxed); large roots or dims the wide form.
  t.true(callKey(7, 10, 7, 1021, 13, 13) < 2 ** 30);
  t.true(callKey(0, 0, 0, 1022, -1, -1) >= 2 ** 30);
  t.true(callKey(0, 0, 0, -1, 14, -1) >= 2 ** 30);
});

test('fingerprintHash separates shapes, shape lengths and keys', (t) => {
  const hashes = new Set<number>();
  const shapes: (number[] | undefined)[] = [undefined, [], [0], [1], [4], [5], [4, 1], [1, 4], [2, 2], [4, 1, 1], [65536], [3, 5, 7]];
  for (const key of [0, 1, 2 ** 30, 2 ** 30 + 1, 2 ** 40]) for (const shape of shapes) hashes.add(fingerprintHash(key, shape));
  t.is(hashes.size, 5 * shapes.length);
});

/** A stand-in block: records the stores into its inline hash words (member 0, parities 0 and 1 at words 0 and 1). */
function fakeBlock(): { block: GroupBlock; stores: [number, number][] } {
  const stores: [number, number][] = [];
  const words = new Proxy(new Int32Array(2), {
    set(target, prop, value) {
      stores.push([Number(prop), value as number]);
      target[Number(prop)] = value as number;
      return true;
    },
  });
  const block = { words, rankInGroup: 0, inlineHashWord: (_m: number, seq: number) => seq & 1 } as unknown as GroupBlock;
  return { block, stores };
}

test('HeaderHash stores into both parities once, then nothing while the call repeats; a change stores again', (t) => {
  const { block, stores } = fakeBlock();
  const hh = new HeaderHash();
  const shape = Object.freeze([4]);
  const key = callKey(0, 0, 0, -1, -1, -1);
  for (let seq = 1; seq <= 6; seq++) hh.write(block, seq, key, shape);
  t.deepEqual(stores, [[1, fingerprintHash(key, shape)], [0, fingerprintHash(key, shape)]]);
  // Another shape object with other values, then back: each change refreshes both parities.
  stores.length = 0;
  const other = Object.freeze([5]);
  for (let seq = 7; seq <= 9; seq++) hh.write(block, seq, key, other);
  t.deepEqual(stores, [[1, fingerprintHash(key, other)], [0, fingerprintHash(key, other)]]);
  stores.length = 0;
  const sum = callKey(0, 0, 0, -1, -1, -1), max = callKey(0, 0, 3, -1, -1, -1);
  hh.write(block, 10, max, other);
  hh.write(block, 11, sum, other);
  hh.write(block, 12, sum, other);
  hh.write(block, 13, sum, other);
  t.deepEqual(stores, [[0, fingerprintHash(max, other)], [1, fingerprintHash(sum, other)], [0, fingerprintHash(sum, other)]]);
});

test('HeaderHash stores on every call when the shape is not frozen (it may have changed in place)', (t) => {
  const { block, stores } = fakeBlock();
  const hh = new HeaderHash();
  const shape = [4];
  const key = callKey(0, 0, 0, -1, -1, -1);
  hh.write(block, 1, key, shape);
  hh.write(block, 2, key, shape);
  shape[0] = 6;
  hh.write(block, 3, key, shape);
  hh.write(block, 4, key, shape);
  t.deepEqual(stores.map(([, h]) => h), [fingerprintHash(key, [4]), fingerprintHash(key, [4]), fingerprintHash(key, [6]), fingerprintHash(key, [6])]);
});

test('HeaderHash: a call without a shape (barrier) settles too', (t) => {
  const { block, stores } = fakeBlock();
  const hh = new HeaderHash();
  const key = callKey(7, -1, -1, -1, -1, -1);
  for (let seq = 1; seq <= 5; seq++) hh.write(block, seq, key, undefined);
  t.is(stores.length, 2);
  t.true(stores.every(([, h]) => h === fingerprintHash(key, undefined)));
});
