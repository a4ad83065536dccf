/**
 * Subgroups at once: on 8 ranks, tp groups [[0,1],[2,3],[4,5],[6,7]], dp groups [[0,2,4,6],[1,3,5,7]], a
 * 3-member group whose member order is not rank order ([5,2,7]) and the world group. Every rank walks one
 * list in which calls on the four kinds of group alternate, so the four tp groups (and the two dp groups)
 * run the same collectives concurrently while their members move between groups (and a second group
 * over the tp ranks, `tp2`, runs its own sequence of calls in between); each result is checked
 * against the reference folded in member order. A third of the list runs again in chaos mode, whose
 * seeded delays change the order in which ranks reach each call.
 */
import test from 'ava';
import { withRanks } from '../../src/testing/index.js';
import type { CaseResult, CaseSpec } from './data.js';
import { bigCases, boundaryCases, CaseList, movementCases, reductionCases } from './cases.js';
import { checkCases, describeCase, summarize } from './expect.js';

const fixture = new URL('../fixtures/comm-matrix.js', import.meta.url);
/** `tp2` has the same members as `tp`: a second group over the same ranks must not share state with the first. */
const groups = { tp: [[0, 1], [2, 3], [4, 5], [6, 7]], dp: [[0, 2, 4, 6], [1, 3, 5, 7]], tri: [[5, 2, 7]], tp2: [[0, 1], [2, 3], [4, 5], [6, 7]] };
const sizes = { tp: 2, dp: 4, tri: 3, world: 8, tp2: 2 } as const;

/** Round-robin merge: one case of each list in turn. */
function interleave(lists: CaseSpec[][]): CaseSpec[] {
  const out: CaseSpec[] = [];
  for (let i = 0; lists.some((l) => i < l.length); i++) for (const l of lists) if (i < l.length) out.push(l[i]!);
  return out;
}

/** Every n-th case of a list. */
const everyNth = (list: CaseSpec[], n: number): CaseSpec[] => list.filter((_, i) => i % n === 0);

/** The large input each kind of group runs (one per kind keeps the reference cheap; four tp groups run it). */
const LARGE: Record<string, string> = { tp: 'allReduce', dp: 'reduceScatter', tri: 'allToAll' };

const lists = Object.entries(sizes).map(([name, w], k) => {
  const small = new CaseList(7000 + k * 100), boundary = new CaseList(7001 + k * 100), big = new CaseList(7002 + k * 100);
  reductionCases(small, w, name);
  movementCases(small, w, name);
  boundaryCases(boundary, w, name);
  bigCases(big, w, name);
  // The world matrix crosses every case with every dtype already; here half of them keep the groups busy.
  if (name === 'world' || name === 'tp2') return everyNth(small.cases, 4);
  const large = big.cases.filter((c) => c.coll === LARGE[name]).slice(0, 1);
  return [...everyNth(small.cases, 2), ...everyNth(boundary.cases, 3), ...large];
});
const cases = interleave(lists);
let job: Promise<(CaseResult | null)[][]> | undefined;
const run = (): Promise<(CaseResult | null)[][]> => (job ??= withRanks(8, { module: fixture }, { args: { cases, groups }, timeoutMs: 60_000 }) as Promise<(CaseResult | null)[][]>);

for (const name of Object.keys(sizes)) {
  test(`${name} groups on 8 ranks, interleaved with the other groups' calls`, async (t) => {
    const reports = await run();
    const mine = cases.flatMap((c, i) => (c.group === name ? [i] : []));
    t.true(mine.length > 100, `${mine.length} cases`);
    t.deepEqual(summarize(checkCases(cases, mine, reports, groups)), []);
  });
}

test('the same calls under chaos mode (seeded random delays reorder the ranks\' arrivals)', async (t) => {
  const some = cases.filter((_, i) => i % 3 === 0);
  const chaos = { seed: 7, delayProbability: 0.3, maxDelayMs: 1 };
  const reports = (await withRanks(8, { module: fixture }, { args: { cases: some, groups }, chaos, timeoutMs: 60_000 })) as (CaseResult | null)[][];
  t.deepEqual(summarize(checkCases(some, some.map((_, i) => i), reports, groups)), []);
});

test('the order of calls alternates between groups (the list really interleaves)', (t) => {
  const firstFour = cases.slice(0, 4).map((c) => c.group);
  t.deepEqual(firstFour, ['tp', 'dp', 'tri', 'world'], cases.slice(0, 4).map(describeCase).join('\n'));
  t.is(cases[4]!.group, 'tp2');
});
