/**
 * The collective matrix on the world group: every collective x dtype x reduce op at world sizes 1, 2,
 * 3, 4 and 8, sizes 0, 1, odd, around the latency path's limit and a few MiB, checked bit for bit
 * (NaN-aware) against the plain-JS reference, with bit-identical results on every rank. One job per
 * world size runs its whole list; the ava tests below check slices of its reports.
 */
import test from 'ava';
import { withRanks } from '../../src/testing/index.js';
import type { CaseResult, CollectiveKind } from './data.js';
import { INLINE_BYTES as RUNTIME_INLINE_BYTES } from '../../src/comm/threads/group-block.js';
import { bigCases, boundaryCases, CaseList, INLINE_BYTES, movementCases, reductionCases } from './cases.js';
import { checkCases, summarize } from './expect.js';

const fixture = new URL('../fixtures/comm-matrix.js', import.meta.url);
type Reports = (CaseResult | null)[][];
/** World sizes that also run the large inputs (they cost most in the reference). */
const BIG_WORLD_SIZES = [3, 8];
const TITLES: Record<CollectiveKind, string> = {
  allReduce: 'allReduce: every dtype x op, sizes 0, 1 (scalar), odd; int, random, raw-bit and special values',
  reduce: 'reduce: every dtype x op, every root, sizes 1 and odd',
  reduceScatter: 'reduceScatter: every dtype x op, each dim (and -1), sizes 0, 1, odd',
  allGather: 'allGather: every dtype, each dim (and -1), scalar, sizes 0, 1, odd',
  gather: 'gather: every dtype, each dim, every root',
  broadcast: 'broadcast: every dtype, every root, sizes 0, 1 (scalar), odd',
  allToAll: 'allToAll: every dtype, (scatterDim, gatherDim) pairs, sizes 0, 1, odd',
  ring: 'send/recv around the ring: every dtype, two messages in order, sizes 0, odd',
  barrier: 'barrier between collectives',
};

for (const w of [1, 2, 3, 4, 8]) {
  const sections = { small: new CaseList(w * 1000), boundary: new CaseList(w * 1000 + 1), big: new CaseList(w * 1000 + 2) };
  reductionCases(sections.small, w);
  movementCases(sections.small, w);
  boundaryCases(sections.boundary, w);
  if (BIG_WORLD_SIZES.includes(w)) bigCases(sections.big, w);
  const cases = [...sections.small.cases, ...sections.boundary.cases, ...sections.big.cases];
  let job: Promise<{ reports: Reports; ms: number }> | undefined;
  const run = (): Promise<{ reports: Reports; ms: number }> =>
    (job ??= (async () => {
      const started = performance.now();
      const reports = (await withRanks(w, fixture, { args: { cases }, timeoutMs: 60_000 })) as Reports;
      return { reports, ms: performance.now() - started };
    })());
  const indices = (pick: (coll: CollectiveKind, i: number) => boolean): number[] => cases.flatMap((c, i) => (pick(c.coll, i) ? [i] : []));
  const smallCount = sections.small.cases.length, boundaryEnd = smallCount + sections.boundary.cases.length;

  for (const [coll, what] of Object.entries(TITLES) as [CollectiveKind, string][]) {
    const mine = indices((c, i) => c === coll && i < smallCount);
    if (mine.length === 0) continue;
    test(`${what} on ${w} rank(s) (${mine.length} cases)`, async (t) => {
      const { reports } = await run();
      t.deepEqual(summarize(checkCases(cases, mine, reports, {})), []);
    });
  }
  test(`both paths on ${w} rank(s): inputs at, under and over INLINE_BYTES, out and plain-memory variants`, async (t) => {
    const { reports, ms } = await run();
    t.log(`the job ran ${cases.length} cases on ${w} rank(s) in ${ms.toFixed(0)} ms (launch included)`);
    t.deepEqual(summarize(checkCases(cases, indices((_, i) => i >= smallCount && i < boundaryEnd), reports, {})), []);
  });
  if (BIG_WORLD_SIZES.includes(w)) {
    test(`large inputs (a few MiB) on ${w} rank(s)`, async (t) => {
      const { reports } = await run();
      t.deepEqual(summarize(checkCases(cases, indices((_, i) => i >= boundaryEnd), reports, {})), []);
    });
  }
}

test('the boundary cases sit at the runtime\'s latency-path limit', (t) => {
  t.is(INLINE_BYTES, RUNTIME_INLINE_BYTES, 'update INLINE_BYTES in test/comm/cases.ts');
});
