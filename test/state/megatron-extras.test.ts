/**
 * Megatron's gloo twins, the intra distributed-optimizer instance group, ProcessGroupCollection and
 * createAllGatherGroups on real ranks, against the upstream recordings (world sizes 3, 4, 6 and 8).
 */
import test, { type ExecutionContext } from 'ava';
import { ErrorCodes } from '../../src/errors.js';
import { withRanks } from '../../src/testing/index.js';
import { assertError, assertNotInitialized, bitsOf } from './helpers.js';
import { UPSTREAM_MEGATRON_EXTRAS, type UpstreamExtrasCase } from '../topology/fixtures/upstream-megatron-extras.js';

const fixture = new URL('../fixtures/state-megatron-extras.js', import.meta.url);
type Result = Record<string, any>;

const sorted = (ranks: readonly number[]) => [...ranks].sort((a, b) => a - b);
const camel = (snake: string) => snake.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/** A recorded group as our GroupCoordinator shows it: members sorted, and the bits of an allReduce over them. */
function view(ranks: number[], rank: number) {
  const members = sorted(ranks);
  return { ranks: members, rankInGroup: members.indexOf(rank), memberBits: bitsOf(members) };
}

/** Upstream's size-1 gtp groups, which the planner does not make: null here. */
function collectionOf(c: UpstreamExtrasCase, fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(fields)) {
    const singletonGtp = (name === 'gtpRemat' || name === 'exptGtpRemat') && Array.isArray(value) && value.length === 1;
    out[name] = value === null || singletonGtp ? null : name === 'hcp' ? (value as number[][]).map(sorted) : sorted(value as number[]);
  }
  return out;
}

function reprOf(repr: string): string {
  return camel(repr).replace(/, (gtpRemat|exptGtpRemat)\(1\)/g, '');
}

function checkRank(t: ExecutionContext, c: UpstreamExtrasCase, rank: number, r: Result): void {
  const rec = c.ranks[String(rank)]!;
  const where = `rank ${rank}, world ${c.worldSize} ${JSON.stringify(c.options)}`;
  for (const [name, expected] of Object.entries(rec.gloo)) {
    const got = r.gloo.views[name];
    if (typeof expected === 'string') assertNotInitialized(t, got, expected.replace('AssertionError: ', ''));
    else t.like(got, view(expected, rank), `${name} gloo, ${where}`);
  }
  t.true(r.gloo.distinct, where);
  t.is(r.gloo.uniqueName, typeof rec.gloo.dp === 'string' ? null : 'dp-gloo');
  t.deepEqual(r.intraDistOpt, { rank: rec.intraDistOpt!.rank, size: rec.intraDistOpt!.size }, where);
  t.deepEqual(r.collection.fields, collectionOf(c, rec.collection as Record<string, unknown>), where);
  t.true(r.collection.sameTp);
  if (rank === 0) t.is(r.collection.text, reprOf(c.repr0!), where);
  for (const flavour of ['dense', 'expert'] as const) {
    const expected = rec.allGather[flavour];
    if (typeof expected === 'string') assertError(t, r.allGather[flavour], ErrorCodes.OUT_OF_RANGE, 'outside the world');
    else t.deepEqual(r.allGather[flavour].map((v: Result | null) => v && { ranks: v.ranks, memberBits: v.memberBits }),
      expected.map((g) => g && { ranks: sorted(g), memberBits: bitsOf(g) }), `${flavour} all-gather, ${where}`);
  }
  t.deepEqual(r.destroyedTwins, typeof rec.gloo.dp === 'string' ? [null, null] : [true, true]);
  assertNotInitialized(t, r.afterDestroy, 'data parallel group-gloo', 'initializeModelParallel');
}

for (const n of [3, 4, 6, 8]) {
  const cases = UPSTREAM_MEGATRON_EXTRAS.filter((c) => c.worldSize === n);
  test(`gloo twins, distributed-optimizer instance, useMpuProcessGroups and all-gather groups on ${n} ranks match upstream (${cases.length} configurations)`, async (t) => {
    const configs = cases.map((c) => c.options);
    const reports = (await withRanks(n, { module: fixture, exportName: 'recorded' }, { args: { configs } })) as Result[][];
    cases.forEach((c, i) => reports.forEach((r, rank) => checkRank(t, c, rank, r[i]!)));
  });
}

test('ProcessGroupCollection: subsets, names and values checked, toString, and createAllGatherGroups\' checks', async (t) => {
  const reports = (await withRanks(4, { module: fixture, exportName: 'collectionChecks' })) as Result[];
  reports.forEach((r, rank) => {
    assertNotInitialized(t, r.beforeInit, 'data parallel group', 'initializeModelParallel');
    t.deepEqual(r.tpOnlyBefore, [true, null, false]);
    t.deepEqual(r.some, [true, true, true, null, false, true, 'ProcessGroupCollection(tp(2), dp(1))']);
    assertError(t, r.badName, ErrorCodes.INVALID_ARG_VALUE, 'requiredPgs[1]', '"nope"', '"tp"');
    assertError(t, r.badList, ErrorCodes.INVALID_ARG_TYPE, 'requiredPgs');
    assertError(t, r.unknownKey, ErrorCodes.INVALID_ARG_VALUE, 'fields key', '"tensor"');
    assertError(t, r.badValue, ErrorCodes.INVALID_ARG_TYPE, 'fields.tp', 'GroupCoordinator');
    assertError(t, r.badHcp, ErrorCodes.INVALID_ARG_TYPE, 'fields.hcp');
    assertError(t, r.badFields, ErrorCodes.INVALID_ARG_TYPE, 'fields');
    t.is(r.empty, 'ProcessGroupCollection(empty)');
    t.is(r.mine, 'ProcessGroupCollection(tp(2))');
    assertError(t, r.agBadTimeout, ErrorCodes.OUT_OF_RANGE, 'options.timeoutMs', '-1');
    assertError(t, r.agBadOptions, ErrorCodes.INVALID_ARG_TYPE, 'options');
    assertError(t, r.agBadCfg, ErrorCodes.OUT_OF_RANGE, 'net_name', '"ethernet"', 'IB');
    t.deepEqual(r.withOverride, [[rank], 5000]);
  });
  for (const r of reports) assertNotInitialized(t, r.agBefore, 'createAllGatherGroups', 'initializeModelParallel');
});
