/**
 * Jobs return every arena region they take: group blocks, scratch buffers, mailbox messages, broadcast
 * queues, the job control block, also those of groups the ranks never destroyed. A warm process that
 * runs job after job must not grow its arena.
 */
import test from 'ava';
import { withRanks } from '../../src/testing/index.js';
import { processRuntime } from '../../src/launch/runtime.js';

const fixture = { module: new URL('../fixtures/arena-use.js', import.meta.url), exportName: 'everything' };

for (const n of [2, 4]) {
  test.serial(`${n}-rank jobs that use every collective leave the arena as they found it`, async (t) => {
    const arena = processRuntime().arena;
    const before = [arena.liveRegions, arena.usedBytes];
    const first = (await withRanks(n, fixture)) as number[];
    t.deepEqual([arena.liveRegions, arena.usedBytes], before, 'after job 1: live regions and bytes in use');
    for (let job = 2; job <= 3; job++) {
      t.deepEqual(await withRanks(n, fixture), first, 'every job computes the same');
      t.deepEqual([arena.liveRegions, arena.usedBytes], before, `after job ${job}: live regions and bytes in use`);
    }
  });
}
