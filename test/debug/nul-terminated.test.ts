/** nulTerminated (debug/rank-status): the text of a fixed-size field, as the recorders and mpi read it. */
import test from 'ava';
import { nulTerminated } from '../../src/debug/rank-status.js';

test('up to the first NUL, or the whole field when it has none; UTF-8; over shared memory too', (t) => {
  const field = (text: string, size: number, shared = false): Uint8Array => {
    const out = new Uint8Array(shared ? new SharedArrayBuffer(size + 8) : new ArrayBuffer(size + 8), 4, size);
    out.set(Buffer.from(text, 'utf8').subarray(0, size));
    return out;
  };
  t.is(nulTerminated(field('host-a', 16)), 'host-a');
  t.is(nulTerminated(field('exactly8', 8)), 'exactly8', 'no NUL: all of it');
  t.is(nulTerminated(field('rank µ', 16, true)), 'rank µ');
  t.is(nulTerminated(field('', 4)), '');
  const withTail = field('ab', 8);
  withTail.set([0, 0x7a], 2); // a NUL, then bytes that must not be read
  t.is(nulTerminated(withTail), 'ab');
  t.is(nulTerminated(field('xyz', 3).subarray(1)), 'yz', 'a view at an offset reads its own bytes only');
});
