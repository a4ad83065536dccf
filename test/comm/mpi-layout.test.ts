/** GroupLayout: which process holds each member of a group, and each member's place in its process. */
import test from 'ava';
import { GroupLayout } from '../../src/comm/mpi-layout.js';

test('members interleaved over processes: first-seen process order, group order within each', (t) => {
  // World ranks 10..15; processes 7, 7, 3, 3, 3, 7 (the group's first member is in process 7).
  const processOf = (rank: number): number => [7, 7, 3, 3, 3, 7][rank - 10]!;
  const ranks = [10, 11, 12, 13, 14, 15];
  const at = (me: number): GroupLayout => new GroupLayout(ranks, processOf, me);
  const layout = at(5);
  t.deepEqual(layout.processes, [7, 3]);
  t.deepEqual(layout.membersOf, [[0, 1, 5], [2, 3, 4]]);
  t.deepEqual(layout.processIndexOf, [0, 0, 1, 1, 1, 0]);
  t.deepEqual(layout.localIndexOf, [0, 1, 0, 1, 2, 2]);
  t.is(layout.maxLocal, 3);
  t.false(layout.flat);
  t.deepEqual([layout.process, layout.localIndex, layout.leader], [0, 2, false]);
  t.deepEqual(layout.localMembers, [0, 1, 5]);
  t.deepEqual([at(2).process, at(2).localIndex, at(2).leader], [1, 0, true]);
  t.deepEqual(at(2).localMembers, [2, 3, 4]);
});

test('one member per process is flat: every member leads its process', (t) => {
  const layout = new GroupLayout([4, 2, 9], (rank) => rank, 1);
  t.true(layout.flat);
  t.deepEqual(layout.localIndexOf, [0, 0, 0]);
  t.deepEqual(layout.processes, [4, 2, 9]);
  t.true(layout.leader);
});
