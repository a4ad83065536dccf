/**
 * The collective matrix on device tensors through the nccl backend, on the CPU shim (addon, library
 * search, communicator, GroupCoordinator, checks wrapper): every collective x dtype x reduce op at 2, 4
 * and 8 ranks, sizes 0, 1, odd, around both paths of the shim and a few MiB, bit for bit (NaN-aware)
 * against the plain-JS reference, with bit-identical results on every rank.
 */
import './shim-env.js';
import test from 'ava';
import { vendorCase } from './vendor-cases.js';
import { withRanks } from '../../src/testing/index.js';
import { bigCases, boundaryCases, CaseList, movementCases, reductionCases } from '../comm/cases.js';
import type { CaseResult, CollectiveKind } from '../comm/data.js';
import { checkCases, summarize } from '../comm/expect.js';

const fixture = new URL('../fixtures/native-matrix.js', import.meta.url);

for (const w of [2, 4, 8]) {
  const list = new CaseList(w * 7919);
  reductionCases(list, w);
  movementCases(list, w);
  boundaryCases(list, w);
  if (w === 8) bigCases(list, w);
  // The vendor libraries have no complex dtypes and no bitwise reduce ops (the threads backend has both).
  const cases = list.cases.filter(vendorCase);
  let job: Promise<(CaseResult | null)[][]> | undefined;
  const run = (): Promise<(CaseResult | null)[][]> =>
    (job ??= withRanks(w, fixture, { args: { cases, kind: 'cuda' }, timeoutMs: 120_000 }) as Promise<(CaseResult | null)[][]>);
  const kinds = [...new Set(cases.map((c) => c.coll))] as CollectiveKind[];
  for (const coll of kinds) {
    const mine = cases.flatMap((c, i) => (c.coll === coll ? [i] : []));
    test(`nccl ${coll} on ${w} ranks: ${mine.length} cases bit for bit against the reference`, async (t) => {
      t.deepEqual(summarize(checkCases(cases, mine, await run(), {})), []);
    });
  }
}
