import test from 'ava';
import { Arena } from '../../src/shm/arena.js';
import { JobControl } from '../../src/comm/threads/job-control.js';
import { formatGroupBlock, groupBlockLayout } from '../../src/comm/threads/group-block.js';

test('group blocks past 2 GiB of the arena come back as unsigned offsets, for the creator and for later members', (t) => {
  const arena = Arena.create({ initialBytes: 1 << 20, maxBytes: 8 << 20 });
  const control = JobControl.create(arena, 2);
  const offset = 0x9000_0040; // above 2^31: negative when read back from an Int32 word
  t.is(control.groupBlock('0,1#0', () => offset, 1000), offset);
  t.is(control.groupBlock('0,1#0', () => t.fail('created twice') as never, 1000), offset);
  t.is(control.groupBlock('0,1#1', () => 4096, 1000), 4096, 'another key gets its own block');
});

test('a group block made after another thread grew the memory is read through a fresh buffer (watchdog, dumps)', (t) => {
  // Two Arena handles on one memory stand for the driver and a rank thread: each caches memory.buffer.
  const rankSide = Arena.create({ initialBytes: 1 << 20, maxBytes: 64 << 20 });
  const driverSide = new Arena(rankSide.memory);
  const control = JobControl.create(driverSide, 2);
  const cachedBytes = driverSide.buffer().byteLength;
  // The rank grows the memory, then makes a group block beyond what the driver's buffer covers.
  const filler = rankSide.alloc(4 << 20);
  const { totalBytes } = groupBlockLayout(2);
  const block = rankSide.alloc(totalBytes);
  t.true(block.byteOffset > cachedBytes, 'the block lies past the driver\'s cached buffer');
  formatGroupBlock(rankSide, block.byteOffset, [0, 1], 1);
  t.deepEqual(control.groupWait(block.byteOffset, 1, 'arrive'), { ranks: [0, 1], missing: [0, 1] });
  // An offset past the memory, or where no block is, reads as no group rather than throwing.
  t.deepEqual(control.groupWait(rankSide.memory.buffer.byteLength + 64, 1, 'arrive'), { ranks: [], missing: [] });
  t.deepEqual(control.groupWait(filler.byteOffset, 1, 'arrive'), { ranks: [], missing: [] });
});

test('a group block straddling the end of a cached buffer is read through a fresh one; odd keys name none', (t) => {
  const rankSide = Arena.create({ initialBytes: 1 << 20, maxBytes: 64 << 20 });
  const driverSide = new Arena(rankSide.memory);
  const control = JobControl.create(driverSide, 2);
  const cachedBytes = driverSide.buffer().byteLength;
  // Fill the rank's memory up to a little before the end of the driver's buffer, then make the block there.
  let next = rankSide.alloc(64);
  next = rankSide.alloc(Math.max(64, (cachedBytes - 4096 - next.byteOffset) & ~63));
  while (next.byteOffset < cachedBytes - 512) next = rankSide.alloc(64);
  const { totalBytes } = groupBlockLayout(2);
  const block = rankSide.alloc(totalBytes);
  const straddles = block.byteOffset + 64 <= cachedBytes && block.byteOffset + totalBytes > cachedBytes;
  t.true(straddles, 'the header lies in the driver\'s cached buffer, the rest of the block past it');
  formatGroupBlock(rankSide, block.byteOffset, [0, 1], 1);
  t.deepEqual(control.groupWait(block.byteOffset, 1, 'arrive'), { ranks: [0, 1], missing: [0, 1] });
  // Other backends' keys (mpi's are odd) name no block here: no group, rather than a misaligned read.
  t.deepEqual(control.groupWait(block.byteOffset + 1, 1, 'arrive'), { ranks: [], missing: [] });
});
