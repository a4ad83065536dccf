/**
 * The `mpi` backend's point-to-point framing (mpi-message.ts), without MPI: a message decodes to the bytes it
 * was made from when the receiver expects what was sent, and a receive of another dtype or shape fails
 * naming both (the description of the call built only then).
 */
import test from 'ava';
import {
  encodeMessage, largestGroup, largestTag, messageBytes, messageTag, p2pTag,
} from '../../src/comm/mpi-message.js';
import { MPI_TAG_LIMIT } from '../../src/native/mpi.js';
import { MismatchError } from '../../src/errors.js';
import { fromTypedArray } from '../../src/tensor/factory.js';

const t23 = fromTypedArray(Float32Array.from([1, 2, 3, 4, 5, 6]), { dtype: 'float32', shape: [2, 3] });

test('a message decodes to the tensor bytes it was made from; the description is not built', (t) => {
  let described = 0;
  const bytes = messageBytes(encodeMessage(t23), [2, 3], 'float32', 1, () => `recv ${++described}`);
  t.deepEqual([...bytes], [...t23.bytes()]);
  t.is(described, 0);
});

test('a message carries the tag it was sent with (0 by default); other bytes carry none (-1)', (t) => {
  t.is(messageTag(encodeMessage(t23)), 0);
  t.is(messageTag(encodeMessage(t23, 7)), 7);
  t.is(messageTag(encodeMessage(t23, 2 ** 31 - 1)), 2 ** 31 - 1);
  t.deepEqual([...messageBytes(encodeMessage(t23, 7), [2, 3], 'float32', 1, () => 'recv')], [...t23.bytes()]);
  t.is(messageTag(new Uint8Array(8)), -1, 'shorter than a header');
  t.is(messageTag(new Uint8Array(64)), -1, 'no magic word');
  const scalar = fromTypedArray(Float32Array.from([5]), { dtype: 'float32', shape: [] });
  t.is(messageTag(encodeMessage(scalar, 3)), 3);
  const deep = fromTypedArray(new Float32Array(1), { dtype: 'float32', shape: Array(12).fill(1) });
  t.is(messageTag(encodeMessage(deep, 4)), 4, 'up to 12 dims with the tag in the header');
  const tooDeep = fromTypedArray(new Float32Array(1), { dtype: 'float32', shape: Array(13).fill(1) });
  t.throws(() => encodeMessage(tooDeep),
    { instanceOf: RangeError, message: /up to 12 dims, got 13/ });
});

test('a receive of another shape or dtype fails naming what was expected and what was sent', (t) => {
  const where = (): string => 'recv from group rank 1 on group g';
  const receive = (shape: number[], dtype: 'float32' | 'int32') => () =>
    messageBytes(encodeMessage(t23), shape, dtype, 1, where);
  const shape = t.throws(receive([3, 2], 'float32'), { instanceOf: MismatchError });
  t.is(shape?.message,
    'recv from group rank 1 on group g: expected float32 [3, 2], group rank 1 sent float32 [2, 3]');
  const dtype = t.throws(receive([2, 3], 'int32'), { instanceOf: MismatchError });
  t.regex(dtype?.message ?? '', /expected int32 \[2, 3\], group rank 1 sent float32 \[2, 3\]/);
  const rank = t.throws(receive([2], 'float32'), { instanceOf: MismatchError });
  t.regex(rank?.message ?? '', /expected float32 \[2\], group rank 1 sent float32 \[2, 3\]/);
  const longer = t.throws(receive([2, 3, 1], 'float32'), { instanceOf: MismatchError });
  t.regex(longer?.message ?? '', /expected float32 \[2, 3, 1\], group rank 1 sent float32 \[2, 3\]/);
});

test('largestGroup: the biggest group whose every pair\'s tag stays below the limit', (t) => {
  const most = largestGroup(MPI_TAG_LIMIT);
  t.is(most, 181, 'Open MPI\'s guaranteed tag limit 32766 allows 181 members');
  t.true(largestTag(most) < MPI_TAG_LIMIT);
  t.true(largestTag(most + 1) >= MPI_TAG_LIMIT);
  t.true(p2pTag(most - 1, most - 1, most) <= largestTag(most), 'the last pair\'s tag is within largestTag');
  t.is(largestGroup(largestTag(2) + 1), 2);
  t.is(largestGroup(largestTag(3)), 2, 'a group whose largest tag equals the limit is too big');
});
