/**
 * The object plane: broadcastObject, broadcastObjectList, sendObject/recvObject and allGatherObject with
 * nested objects, Maps, Sets, typed arrays, bigints, dates, cycles and payloads just over a message-queue
 * chunk, on 1, 3 and 8 ranks; broadcasts both through the shared-memory message queues (the default) and
 * through the tensor collectives (`messageQueue: false`, on a group whose member order is the reverse of
 * rank order).
 */
import test from 'ava';
import { withRanks } from '../../src/testing/index.js';
import { objectOf } from '../fixtures/comm-objects.js';
import { compact } from './data.js';
import { QUEUE_CHUNK_BYTES } from '../../src/shm/message-queue.js';

const fixture = new URL('../fixtures/comm-objects.js', import.meta.url);
/** Just over one chunk of the broadcast message queue, so large objects take its overflow path. */
const bigBytes = QUEUE_CHUNK_BYTES + 5;

interface Report {
  rankInGroup: number;
  fromEach: unknown[];
  list: unknown[];
  sameList: boolean;
  big: unknown;
  gathered: unknown[];
  gatheredBig: unknown[];
  ring: unknown;
  across: unknown;
}

for (const n of [1, 3, 8]) {
  test(`object plane on ${n} rank(s): message-queue and tensor-collective paths`, async (t) => {
    const reports = (await withRanks(n, fixture, { args: { bigBytes }, timeoutMs: 20_000 })) as { rank: number; world: Report; reversed: Report }[];
    const members = Array.from({ length: n }, (_, r) => r);
    const big = compact(objectOf(0, bigBytes));
    const gathered = compact(members.map((m) => objectOf(m, m * 1000)));
    const gatheredBig = compact(members.map((m) => (m === n - 1 ? objectOf(m, bigBytes) : { small: m })));
    for (const { rank, world, reversed } of reports) {
      t.is(world.rankInGroup, rank);
      t.is(reversed.rankInGroup, n - 1 - rank);
      for (const [path, r] of [['world', world], ['reversed', reversed]] as const) {
        const at = `on group rank ${r.rankInGroup} of ${path}`;
        t.deepEqual(r.fromEach, members.map((src) => objectOf(src)), `broadcastObject from each source ${at}`);
        t.deepEqual(r.list, [objectOf(n - 1), 'second', 3n, new Map([[1, 2]])], `broadcastObjectList ${at}`);
        t.true(r.sameList, `broadcastObjectList fills and returns the caller's list ${at}`);
        t.deepEqual(r.big, big, `large broadcastObject ${at}`);
        t.deepEqual(r.gathered, gathered, `allGatherObject ${at}`);
        t.deepEqual(r.gatheredBig, gatheredBig, `large allGatherObject ${at}`);
        if (n === 1) continue;
        const m = r.rankInGroup;
        t.deepEqual(r.ring, objectOf((m - 1 + n) % n, 100), `recvObject around the ring ${at}`);
        const across = m === n - 1 ? big : m === 0 ? { ack: n - 1 } : null;
        t.deepEqual(r.across, across, `large sendObject/recvObject ${at}`);
      }
    }
  });
}
