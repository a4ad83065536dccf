/**
 * Jobs return every arena region they take: group blocks, scratch buffers, mailbox messages, broadcast
 * queues, the job control block, also those of groups the ranks never destroyed. A warm process that
 * runs job after job must not grow its arena.
 */
import test from 'ava';
import { withRanks } from '../../src/testing/index.js';
import { processRuntime } from '../../src/launch/runtime.js';

const fixture = { module: new URL('../fixtures/arena-use.js', import.meta.url), exportName: 'everything' };

/** What `everything` returns on `rank` of `w` (the sizes and values its calls produce), worked out by hand. */
function expectedCheck(rank: number, w: number): number {
  const big = 100_000;
  let sum = 0;
  for (const n of [3, big]) {
    sum += (w * (w - 1)) / 2; // allReduce of i + rank at i = 0
    sum += n * w * w + n + n * w + n * w + n * w; // allGather, reduceScatter, broadcast, reduce, allToAll sizes
    sum += rank === 0 ? n * w * w : 0; // gather (null off the root)
    sum += w > 1 ? n * w : 0; // recv
  }
  return sum + 3 + big + (w > 1 && rank === 1 ? 1 : 0) + w; // object, tensor dict, recvObject keys, subgroup sum
}

for (const n of [2, 4]) {
  test.serial(`${n}-rank jobs that use every collective leave the arena as they found it`, async (t) => {
    const arena = processRuntime().arena;
    const before = [arena.liveRegions, arena.usedBytes];
    const expected = Array.from({ length: n }, (_, rank) => expectedCheck(rank, n));
    t.deepEqual(await withRanks(n, fixture), expected, 'job 1 ran every call');
    t.deepEqual([arena.liveRegions, arena.usedBytes], before, 'after job 1: live regions and bytes in use');
    for (let job = 2; job <= 3; job++) {
      t.deepEqual(await withRanks(n, fixture), expected, `job ${job} ran every call`);
      t.deepEqual([arena.liveRegions, arena.usedBytes], before, `after job ${job}: live regions and bytes in use`);
    }
  });
}
