/**
 * The watchdog's judgement from the rank records alone (no job): a rank whose collective every member
 * has reached is released, only not yet running (a busy machine), so it is no deadlock; once a member is
 * really missing, it is.
 */
import test from 'ava';
import { Arena } from '../../src/shm/arena.js';
import { JobControl } from '../../src/comm/threads/job-control.js';
import { formatGroupBlock, groupBlockLayout, SLOT_WORDS } from '../../src/comm/threads/group-block.js';
import { RankState } from '../../src/debug/rank-status.js';
import { QUIET_POLLS, Watchdog } from '../../src/debug/watchdog.js';

test('a rank released from its collective but not yet running is no deadlock; a missing member is', (t) => {
  const arena = Arena.create({ initialBytes: 4 << 20, maxBytes: 8 << 20 });
  const control = JobControl.create(arena, 2);
  const layout = groupBlockLayout(2);
  const block = arena.alloc(layout.totalBytes);
  formatGroupBlock(arena, block.byteOffset, [0, 1], 0);
  const words = new Int32Array(arena.memory.buffer, block.byteOffset, layout.totalBytes >> 2);
  const arrived = (member: number, seq: number): void => void Atomics.store(words, layout.slotsWord + member * SLOT_WORDS, seq);
  const [r0, r1] = [control.record(0), control.record(1)];
  r0.setState(RankState.RUNNING);
  r1.setState(RankState.RUNNING);
  r0.markBlocked('allReduce', 'arrive', block.byteOffset, 5, -1, 'tp');
  r1.markBlocked('recv', 'recv', block.byteOffset, 0, 0);
  arrived(0, 5);
  arrived(1, 5); // both reached call #5: rank 0 is released, it only has not run yet
  const watchdog = new Watchdog(control, 2);
  for (let poll = 0; poll <= 2 * QUIET_POLLS; poll++) t.is(watchdog.poll(), undefined, `poll ${poll}`);
  arrived(1, 4); // now rank 1 really has not arrived
  let report: string | undefined;
  for (let poll = 0; poll <= QUIET_POLLS && report === undefined; poll++) report = watchdog.poll();
  t.regex(report ?? '', /rank 0: blocked in allReduce \(call #5\) of group tp \[0, 1\], waiting for rank 1 to arrive/);
  t.is(control.abortValue !== 0, true);
});
