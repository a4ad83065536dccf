/**
 * Property tests (fast-check) over random valid configurations of all three flavours: the groups equal
 * an independent coordinate-based reference, each kind partitions the ranks it covers, orthogonal kinds
 * meet in exactly one rank, nested kinds nest, and groupsOf / rankInfo agree with the groups.
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import fc from 'fast-check';
import { planFastVideoGroups, planMegatronGroups, planVllmGroups } from '../../src/topology/index.js';
import type { MegatronGroups } from '../../src/topology/index.js';
import { coordinateGroups, covered, isPartition, overlap, tupleGroups } from './reference.js';

const divisors = (n: number) => Array.from({ length: n }, (_, i) => i + 1).filter((d) => n % d === 0);
const pick = <T>(list: readonly T[], i: number): T => list[i % list.length]!;
const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

const megatronConfig = fc
  .record({
    tp: fc.constantFrom(1, 2, 3, 4), pp: fc.constantFrom(1, 2, 4), cp: fc.constantFrom(1, 2), dp: fc.constantFrom(1, 2, 3, 4),
    etpPick: fc.nat(), epPick: fc.nat(), nPick: fc.nat(), offset: fc.constantFrom(0, 0, 0, 3, 8), vpp: fc.constantFrom(0, 2),
  })
  .map((c) => {
    const W = c.tp * c.pp * c.cp * c.dp;
    const etp = pick(divisors(W / c.pp), c.etpPick);
    const ep = pick(divisors(W / c.pp / etp), c.epPick);
    const edp = W / (etp * ep * c.pp);
    const n = pick(divisors(c.dp * c.cp).filter((d) => edp % d === 0), c.nPick);
    return { ...c, W, etp, ep, edp, n };
  });

const DENSE: Record<string, string[]> = {
  dpCp: ['dp', 'cp'], dp: ['dp'], cp: ['cp'], mp: ['tp', 'pp'], tp: ['tp'], pp: ['pp'], tpDpCp: ['tp', 'dp', 'cp'], tpDp: ['tp', 'dp'], tpCp: ['tp', 'cp'],
};
const EXPERT: Record<string, string[]> = { ep: ['ep'], expertTp: ['tp'], expertTpEp: ['tp', 'ep'], expertTpEpPp: ['tp', 'ep', 'pp'], expertDp: ['dp'] };
const AXES = ['tp', 'cp', 'ep', 'dp', 'pp'];

test('megatron: groups equal the coordinate reference; partitions; orthogonality; groupsOf/rankInfo agree', (t) => {
  fc.assert(
    fc.property(megatronConfig, (c) => {
      const plan = planMegatronGroups(c.W + c.offset, {
        tensorModelParallelSize: c.tp, pipelineModelParallelSize: c.pp, contextParallelSize: c.cp, expertModelParallelSize: c.ep,
        expertTensorParallelSize: c.etp, numDistributedOptimizerInstances: c.n, rankOffset: c.offset, localWorldSize: c.W,
        virtualPipelineModelParallelSize: c.pp > 1 && c.vpp > 0 ? c.vpp : null,
      });
      const g = plan.groups as unknown as Record<string, number[][]>;
      const dense = { tp: c.tp, cp: c.cp, ep: 1, dp: c.dp, pp: c.pp };
      const expert = { tp: c.etp, cp: 1, ep: c.ep, dp: c.edp, pp: c.pp };
      for (const [kind, axes] of Object.entries(DENSE)) t.deepEqual(g[kind], coordinateGroups(c.W, AXES, dense, axes, c.offset), kind);
      for (const [kind, axes] of Object.entries(EXPERT)) t.deepEqual(g[kind], coordinateGroups(c.W, AXES, expert, axes, c.offset), kind);
      checkDerived(t, plan.groups, c.n, c.edp);
      const all = range(c.offset, c.W);
      for (const [kind, groups] of Object.entries(g)) {
        t.true(isPartition(groups), `${kind} partitions`);
        if (kind !== 'embedding' && kind !== 'positionEmbedding') t.deepEqual(covered(groups), all, `${kind} covers`);
      }
      for (const r of all) checkRank(t, plan, r, { ...dense }, { ...expert });
    }),
    { numRuns: 150, seed: 42 },
  );
});

function checkDerived(t: ExecutionContext, groups: MegatronGroups, n: number, edp: number): void {
  t.deepEqual(groups.embedding, groups.pp.map((p) => (p.length === 1 ? [p[0]!] : [p[0]!, p[p.length - 1]!])));
  t.deepEqual(groups.positionEmbedding, groups.pp.map((p) => [p[0]!]));
  const per = edp / n;
  const instances: number[][] = [];
  groups.expertTpEpPp.forEach((ranks, i) => (i % per === 0 ? instances.push([...ranks]) : instances[instances.length - 1]!.push(...ranks)));
  t.deepEqual(groups.intraDistOptInstance, instances);
  if (n === 1) {
    t.is(groups.intraPartialDpCp, undefined);
    t.is(groups.interPartialExpertDp, undefined);
    return;
  }
  const k = groups.dpCp[0]!.length / n;
  t.deepEqual(groups.intraPartialDpCp, groups.dpCp.flatMap((d) => range(0, n).map((i) => d.slice(i * k, (i + 1) * k))));
  t.deepEqual(groups.intraPartialExpertDp, groups.expertDp.flatMap((d) => range(0, n).map((i) => d.slice(i * per, (i + 1) * per))));
  t.deepEqual(groups.interPartialExpertDp, groups.expertDp.flatMap((d) => range(0, per).map((i) => d.filter((_, j) => j % per === i))));
}

function checkRank(
  t: ExecutionContext,
  plan: ReturnType<typeof planMegatronGroups>,
  r: number,
  dense: Record<string, number>,
  expert: Record<string, number>,
): void {
  const mine = plan.groupsOf(r) as Record<string, number[]>;
  const all = plan.groups as unknown as Record<string, number[][]>;
  for (const [kind, groups] of Object.entries(all)) {
    const holder = groups.find((gr) => gr.includes(r));
    t.deepEqual(mine[kind], holder, `groupsOf(${r}).${kind}`);
  }
  for (const [table, sizes] of [[DENSE, dense], [EXPERT, expert]] as const) {
    for (const [a, axesA] of Object.entries(table)) {
      t.is(mine[a]!.length, axesA.reduce((p, x) => p * sizes[x]!, 1), `|${a}(${r})|`);
      for (const [b, axesB] of Object.entries(table)) {
        if (axesA.every((x) => !axesB.includes(x))) t.is(overlap(mine[a]!, mine[b]!), 1, `${a} x ${b} at ${r}`);
        if (axesA.every((x) => axesB.includes(x))) t.is(overlap(mine[a]!, mine[b]!), mine[a]!.length, `${a} in ${b} at ${r}`);
      }
    }
  }
  const info = plan.rankInfo(r);
  const pp = mine.pp!;
  const at = pp.indexOf(r);
  t.is(info.tensorModelParallelRank, mine.tp!.indexOf(r));
  t.is(info.dataParallelWorldSizeWithContextParallel, mine.dpCp!.length);
  t.is(info.expertDataParallelRank, mine.expertDp!.indexOf(r));
  t.is(info.pipelineModelParallelRank, at);
  t.is(info.pipelineModelParallelNextRank, pp[(at + 1) % pp.length]);
  t.is(info.pipelineModelParallelPrevRank, pp[(at + pp.length - 1) % pp.length]);
  t.is(info.isRankInEmbeddingGroup, at === 0 || at === pp.length - 1);
  t.is(info.partialDataParallelWorldSize, (mine.intraPartialDpCp ?? mine.dpCp)!.length);
}

const vllmConfig = fc
  .record({
    e: fc.constantFrom(1, 2), dp: fc.constantFrom(1, 2, 3), pp: fc.constantFrom(1, 2, 3), pcp: fc.constantFrom(1, 1, 2, 3),
    tp: fc.constantFrom(1, 2, 4, 6), dcpPick: fc.nat(), isMoe: fc.boolean(),
  })
  .map((c) => {
    const dp = c.pcp > 1 ? 1 : c.dp;
    const dcp = pick(c.pcp > 1 ? [1, c.pcp, c.tp * c.pcp] : divisors(c.tp), c.dcpPick);
    return { ...c, dp, dcp, W: c.e * dp * c.pp * c.pcp * c.tp };
  });

test('vllm: groups equal the coordinate reference; partitions; orthogonality; rankInfo agrees', (t) => {
  fc.assert(
    fc.property(vllmConfig, (c) => {
      const plan = planVllmGroups(c.W, {
        tensorModelParallelSize: c.tp, pipelineModelParallelSize: c.pp, prefillContextModelParallelSize: c.pcp,
        decodeContextModelParallelSize: c.dcp, dataParallelSize: c.dp, isMoe: c.isMoe,
      });
      const shape = [c.e, c.dp, c.pp, c.pcp, c.tp];
      // coordinates c = [e, d, p, pcp, t]
      const ref = (key: (x: number[]) => number[], member: (x: number[]) => number[]) => tupleGroups(c.W, shape, key, member);
      t.deepEqual(plan.groups.tp, ref((x) => [x[0]!, x[1]!, x[2]!, x[3]!], (x) => [x[4]!]));
      t.deepEqual(plan.groups.pcp, ref((x) => [x[0]!, x[1]!, x[2]!, x[4]!], (x) => [x[3]!]));
      t.deepEqual(plan.groups.pp, ref((x) => [x[0]!, x[1]!, x[4]!, x[3]!], (x) => [x[2]!]));
      t.deepEqual(plan.groups.dp, ref((x) => [x[0]!, x[4]!, x[2]!, x[3]!], (x) => [x[1]!]));
      t.deepEqual(plan.groups.ep, c.isMoe ? ref((x) => [x[0]!, x[2]!], (x) => [x[1]!, x[3]!, x[4]!]) : undefined);
      const consecutive = range(0, c.W / c.dcp).map((i) => range(i * c.dcp, c.dcp));
      const dcpRef = c.dcp === 1 || c.pcp === 1 ? consecutive
        : c.dcp === c.pcp ? plan.groups.pcp : ref((x) => [x[0]!, x[1]!, x[2]!], (x) => [x[4]!, x[3]!]);
      t.deepEqual(plan.groups.dcp, dcpRef);
      t.deepEqual(plan.groups.world, [range(0, c.W)]);
      for (const groups of Object.values(plan.groups)) {
        t.true(isPartition(groups));
        t.deepEqual(covered(groups), range(0, c.W));
      }
      const orthogonal = ['tp', 'pcp', 'pp', 'dp'] as const;
      for (let r = 0; r < c.W; r++) {
        const mine = plan.groupsOf(r);
        const info = plan.rankInfo(r);
        for (const a of orthogonal) {
          t.is(info[a]!.rankInGroup, mine[a]!.indexOf(r));
          for (const b of orthogonal) if (a !== b) t.is(overlap(mine[a]!, mine[b]!), 1, `${a} x ${b} at ${r}`);
        }
        if (c.isMoe) for (const a of ['tp', 'pcp', 'dp', 'dcp'] as const) t.is(overlap(mine[a]!, mine.ep!), mine[a]!.length);
      }
    }),
    { numRuns: 150, seed: 7 },
  );
});

test('fastvideo: groups equal the reference; partitions; sp and dp are orthogonal; tp and sp nest', (t) => {
  fc.assert(
    fc.property(fc.constantFrom(1, 2, 3, 4, 6, 8), fc.constantFrom(1, 2, 3, 4, 6, 8), fc.constantFrom(1, 2, 3), (tp, sp, k) => {
      const lcm = (a: number, b: number): number => (a * b) / divisors(Math.min(a, b)).filter((d) => a % d === 0 && b % d === 0).pop()!;
      const W = lcm(tp, sp) * k;
      const plan = planFastVideoGroups(W, { tensorModelParallelSize: tp, sequenceModelParallelSize: sp });
      t.deepEqual(plan.groups.tp, tupleGroups(W, [W / tp, tp], (x) => [x[0]!], (x) => [x[1]!]));
      t.deepEqual(plan.groups.sp, tupleGroups(W, [W / sp, sp], (x) => [x[0]!], (x) => [x[1]!]));
      t.deepEqual(plan.groups.dp, tupleGroups(W, [W / sp, sp], (x) => [x[1]!], (x) => [x[0]!]));
      for (const groups of Object.values(plan.groups)) t.true(isPartition(groups) && covered(groups).length === W);
      for (let r = 0; r < W; r++) {
        const m = plan.groupsOf(r);
        t.is(overlap(m.sp!, m.dp!), 1);
        if (sp % tp === 0) t.is(overlap(m.tp!, m.sp!), tp, 'tp nests in sp');
        if (tp % sp === 0) t.is(overlap(m.tp!, m.sp!), sp, 'sp nests in tp');
        t.is(plan.rankInfo(r).dp.rankInGroup, m.dp!.indexOf(r));
      }
    }),
    { numRuns: 100, seed: 3 },
  );
});
