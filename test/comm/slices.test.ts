/** comm/slices: the blocks a collective cuts its elements into, one per member. */
import test from 'ava';
import { blockElements, sliceOf } from '../../src/comm/slices.js';

test('blocks start on 64-byte lines, cover every element once, in member order', (t) => {
  for (const itemBytes of [1, 2, 4, 8, 16]) {
    for (const parts of [1, 2, 3, 7, 8]) {
      for (const count of [0, 1, 5, 63, 64, 65, 1000, 4097]) {
        let next = 0;
        for (let m = 0; m < parts; m++) {
          const [lo, hi] = sliceOf(count, itemBytes, parts, m);
          const where = `${count} x ${itemBytes} B over ${parts}, member ${m}`;
          t.is(lo, next, where);
          t.true(hi >= lo && hi <= count, where);
          if (hi > lo) t.is((lo * itemBytes) % 64, 0, where);
          next = hi;
        }
        t.is(next, count, `${count} x ${itemBytes} B over ${parts}: all covered`);
      }
    }
  }
});

test('a block is the even share rounded up to whole lines', (t) => {
  t.is(blockElements(100, 4, 2), 64); // 50 floats round up to 4 lines of 16
  t.is(blockElements(100, 4, 4), 32); // 25 -> 32
  t.is(blockElements(3, 1, 2), 64); // bytes: a line each
  t.is(blockElements(7, 128, 2), 4); // items wider than a line: no rounding
});
