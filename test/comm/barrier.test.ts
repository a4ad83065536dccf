/** barrier() returns only after every member arrived (a late member each round), on the world group and subgroups. */
import test from 'ava';
import { withRanks } from '../../src/testing/index.js';

const fixture = new URL('../fixtures/comm-barrier.js', import.meta.url);

for (const n of [3, 8]) {
  test(`barrier waits for every member, one of them late each round (${n} ranks)`, async (t) => {
    const reports = (await withRanks(n, fixture, { timeoutMs: 20_000 })) as { world: number[]; half: number[] }[];
    reports.forEach((r, rank) => t.deepEqual(r, { world: [], half: [] }, `rounds in which rank ${rank} left the barrier early`));
  });
}
