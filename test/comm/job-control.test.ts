import test from 'ava';
import { Arena } from '../../src/shm/arena.js';
import { JobControl } from '../../src/comm/threads/job-control.js';

test('group blocks past 2 GiB of the arena come back as unsigned offsets, for the creator and for later members', (t) => {
  const arena = Arena.create({ initialBytes: 1 << 20, maxBytes: 8 << 20 });
  const control = JobControl.create(arena, 2);
  const offset = 0x9000_0040; // above 2^31: negative when read back from an Int32 word
  t.is(control.groupBlock('0,1#0', () => offset, 1000), offset);
  t.is(control.groupBlock('0,1#0', () => t.fail('created twice') as never, 1000), offset);
  t.is(control.groupBlock('0,1#1', () => 4096, 1000), 4096, 'another key gets its own block');
});
