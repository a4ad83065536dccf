/**
 * RankGenerator and generateMaskedOrthogonalRankGroups. The main table is a port of Megatron-LM's
 * `tests/unit_tests/test_parallel_state.py::test_rank_generator_for_tp_dp_pp` (its parameters and its
 * `golden_rank_result_from_past_code`, the loop code that Megatron used before RankGenerator); the
 * examples come from the upstream docstrings.
 */
import test from 'ava';
import { RankGenerator, generateMaskedOrthogonalRankGroups, injectGtpRematAxis } from '../../src/topology/index.js';

const range = (start: number, end: number, step = 1) => {
  const out: number[] = [];
  for (let i = start; i < end; i += step) out.push(i);
  return out;
};

/** Upstream's `golden_rank_result_from_past_code`, line by line. */
function golden(world: number, tp: number, pp: number, cp: number, ep: number) {
  const dp = Math.floor(world / (tp * pp * cp));
  const numTp = world / tp;
  const numPp = world / pp;
  const dpGroups: number[][] = [];
  const dpCpGroups: number[][] = [];
  for (let i = 0; i < pp; i++) {
    const start = i * numPp;
    const end = (i + 1) * numPp;
    for (let j = 0; j < cp * tp; j++) dpGroups.push(range(start + j, end, cp * tp));
    for (let j = 0; j < tp; j++) dpCpGroups.push(range(start + j, end, tp));
  }
  const cpGroups: number[][] = [];
  for (let i = 0; i < pp; i++) {
    for (let j = 0; j < dp; j++) {
      const start = i * numPp + j * tp * cp;
      const end = i * numPp + (j + 1) * tp * cp;
      for (let k = 0; k < tp; k++) cpGroups.push(range(start + k, end, tp));
    }
  }
  const mpGroups = range(0, dp * cp).map((i) => dpCpGroups.map((g) => g[i]!));
  const tpGroups = range(0, numTp).map((i) => range(i * tp, (i + 1) * tp));
  const ppGroups = range(0, numPp).map((i) => range(i, world, numPp));
  const tpDpGroups: number[][] = [];
  const tpDpCpGroups: number[][] = [];
  const size = tp * dp * cp;
  for (let i = 0; i < world / size; i++) {
    tpDpCpGroups.push(range(i * size, i * size + size));
    for (let j = 0; j < cp; j++) {
      let ranks: number[] = [];
      for (let k = 0; k < dp; k++) {
        const start = i * size + j * tp + k * tp * cp;
        ranks = ranks.concat(range(start, start + tp));
      }
      tpDpGroups.push(ranks);
    }
  }
  // torch.arange(world).reshape(pp, expertDp, ep, tp): (pp, dp, ep, tp) -> (pp*dp, ep*tp) and (pp*ep*tp, dp)
  const edp = world / (tp * pp * ep);
  const rank = (p: number, d: number, e: number, t: number) => ((p * edp + d) * ep + e) * tp + t;
  const expertTpEp = range(0, world / (ep * tp)).map((i) => range(i * ep * tp, (i + 1) * ep * tp));
  const expertDp: number[][] = [];
  for (let p = 0; p < pp; p++) for (let e = 0; e < ep; e++) for (let t = 0; t < tp; t++) expertDp.push(range(0, edp).map((d) => rank(p, d, e, t)));
  return { dp, edp, dpGroups, dpCpGroups, cpGroups, mpGroups, tpGroups, ppGroups, tpDpGroups, tpDpCpGroups, expertTpEp, expertDp };
}

// (nodes, gpus per node, tp, pp, cp, ep): upstream's parameter list.
const PARAMS: [number, number, number, number, number, number][] = [
  [1, 1, 1, 1, 1, 1], [1, 8, 8, 1, 1, 1], [1, 8, 2, 2, 1, 1], [1, 8, 2, 4, 1, 1], [3, 8, 8, 3, 1, 1],
  [4, 8, 2, 4, 1, 1], [8, 8, 8, 8, 1, 1], [8, 8, 2, 1, 1, 4], [8, 8, 2, 2, 2, 4], [8, 8, 2, 1, 4, 8],
  [8, 8, 2, 2, 2, 8], [16, 8, 4, 8, 1, 1], [16, 8, 4, 8, 1, 4], [16, 8, 4, 8, 4, 1], [16, 8, 8, 8, 1, 1],
  [16, 8, 4, 8, 1, 1], [16, 8, 8, 8, 1, 1], [32, 8, 4, 8, 1, 1], [32, 8, 8, 8, 1, 1], [32, 8, 4, 8, 1, 4],
  [32, 8, 8, 8, 4, 1], [64, 8, 4, 2, 8, 8], [64, 8, 4, 8, 1, 1], [64, 8, 8, 8, 1, 1], [96, 8, 4, 8, 1, 1],
  [128, 8, 4, 2, 8, 8], [128, 8, 4, 8, 1, 1], [256, 8, 4, 8, 1, 1], [316, 8, 4, 8, 1, 1], [384, 8, 4, 8, 1, 1],
  [512, 8, 4, 8, 1, 1], [768, 8, 4, 8, 1, 1], [1024, 8, 4, 8, 1, 1], [1280, 8, 4, 8, 1, 1], [1344, 8, 4, 8, 1, 1],
];

test('RankGenerator matches upstream golden_rank_result_from_past_code on all 35 upstream parameter sets', (t) => {
  for (const [nodes, gpus, tp, pp, cp, ep] of PARAMS) {
    const world = nodes * gpus;
    const g = golden(world, tp, pp, cp, ep);
    const dense = new RankGenerator({ tp, ep: 1, dp: g.dp, pp, cp, order: 'tp-cp-dp-pp' });
    const expert = new RankGenerator({ tp, ep, dp: g.edp, pp, cp: 1, order: 'tp-ep-dp-pp' });
    const at = `world ${world} tp ${tp} pp ${pp} cp ${cp} ep ${ep}`;
    t.deepEqual(dense.getRanks('dp'), g.dpGroups, `dp, ${at}`);
    t.deepEqual(dense.getRanks('dp-cp'), g.dpCpGroups, `dp-cp, ${at}`);
    t.deepEqual(dense.getRanks('cp'), g.cpGroups, `cp, ${at}`);
    t.deepEqual(dense.getRanks('tp-pp'), g.mpGroups, `tp-pp, ${at}`);
    t.deepEqual(dense.getRanks('tp'), g.tpGroups, `tp, ${at}`);
    t.deepEqual(dense.getRanks('pp'), g.ppGroups, `pp, ${at}`);
    t.deepEqual(dense.getRanks('tp-dp'), g.tpDpGroups, `tp-dp, ${at}`);
    t.deepEqual(dense.getRanks('tp-dp-cp'), g.tpDpCpGroups, `tp-dp-cp, ${at}`);
    t.deepEqual(expert.getRanks('tp-ep'), g.expertTpEp, `expert tp-ep, ${at}`);
    t.deepEqual(expert.getRanks('dp'), g.expertDp, `expert dp, ${at}`);
  }
});

test('generateMaskedOrthogonalRankGroups: upstream docstring examples', (t) => {
  // parallel_size [tp=2, dp=3, pp=4], mask dp: dp_group[0] = [0, 2, 4], [1] = [1, 3, 5], ..., [7] = [19, 21, 23]
  const dp = generateMaskedOrthogonalRankGroups(24, [2, 3, 4], [false, true, false]);
  t.is(dp.length, 8);
  t.deepEqual(dp[0], [0, 2, 4]);
  t.deepEqual(dp[1], [1, 3, 5]);
  t.deepEqual(dp[7], [19, 21, 23]);
  // 8 GPUs, order tp-pp-dp, sizes 2-2-2: dp groups [[0, 4], [1, 5], [2, 6], [3, 7]]
  t.deepEqual(generateMaskedOrthogonalRankGroups(8, [2, 2, 2], [false, false, true]), [[0, 4], [1, 5], [2, 6], [3, 7]]);
});

test('generateMaskedOrthogonalRankGroups: fewer ranks than the sizes give the first groups; more is an error', (t) => {
  t.deepEqual(generateMaskedOrthogonalRankGroups(4, [2, 4], [true, false]), [[0, 1], [2, 3]]);
  const e = t.throws(() => generateMaskedOrthogonalRankGroups(16, [2, 4], [true, false]), { instanceOf: RangeError });
  t.is((e as { code?: string }).code, 'ERR_MULTIRANK_OUT_OF_RANGE');
  t.regex(e!.message, /worldSize \(16\).*product of parallelSize \[2, 4\] \(8\)/);
  t.throws(() => generateMaskedOrthogonalRankGroups(8, [2, 4], [true]), { message: /mask.*1 entries.*parallelSize.*2/ });
  t.throws(() => generateMaskedOrthogonalRankGroups(8, [2, 0], [true, false]), { message: /parallelSize\[1\]/, code: 'ERR_MULTIRANK_OUT_OF_RANGE' });
  t.throws(() => generateMaskedOrthogonalRankGroups(8, [2, 1.5], [true, false]), { message: /parallelSize\[1\]/, code: 'ERR_MULTIRANK_INVALID_ARG_TYPE' });
  t.throws(() => generateMaskedOrthogonalRankGroups(0, [2], [true]), { message: /worldSize/ });
});

test('RankGenerator: token spelling order does not matter, unknown tokens are rejected', (t) => {
  const g = new RankGenerator({ tp: 2, ep: 1, dp: 2, pp: 2, cp: 2, order: 'tp-cp-ep-dp-pp' });
  t.deepEqual(g.getRanks('dp-tp'), g.getRanks('tp-dp'));
  t.deepEqual(g.getRanks('pp-cp-tp'), g.getRanks('tp-cp-pp'));
  t.is(g.order, 'tp-cp-ep-dp-pp-gtp_remat');
  t.throws(() => g.getRanks('xx'), { instanceOf: RangeError, message: /"xx".*not an axis of the order/ });
  t.throws(() => g.getRanks('TP'), { instanceOf: RangeError });
});

test('RankGenerator: order rules (missing axis of size > 1, unknown axis, appended size-1 axes, case)', (t) => {
  t.throws(() => new RankGenerator({ tp: 2, ep: 1, dp: 2, pp: 1, cp: 2, order: 'tp-dp' }), {
    instanceOf: RangeError, code: 'ERR_MULTIRANK_OUT_OF_RANGE', message: /cp has size 2.*"tp-dp" does not name it/,
  });
  t.throws(() => new RankGenerator({ tp: 1, ep: 1, dp: 2, pp: 1, cp: 1, order: 'tp-xx-dp' }), { message: /unknown axis "xx"/ });
  t.throws(() => new RankGenerator({ tp: 2, ep: 2, dp: 2, pp: 1, cp: 2, order: 'tp-cp-ep-dp' }), { message: /ep \(2\) and cp \(2\)/ });
  const upper = new RankGenerator({ tp: 2, ep: 1, dp: 2, pp: 2, cp: 1, order: 'TP-PP-DP' });
  t.is(upper.order, 'tp-pp-dp-ep-cp-gtp_remat');
  t.deepEqual(upper.getRanks('dp'), [[0, 4], [1, 5], [2, 6], [3, 7]]);
  t.throws(() => new RankGenerator({ tp: 0, ep: 1, dp: 1, pp: 1, cp: 1, order: 'tp' }), { message: /options\.tp/ });
  t.throws(() => new RankGenerator({ tp: 1, ep: 1, dp: 1, pp: 1, cp: 1, order: 3 as unknown as string }), { instanceOf: TypeError });
});

test('RankGenerator: rankOffset shifts every rank; gtp_remat is an axis of its own', (t) => {
  const g = new RankGenerator({ tp: 2, ep: 1, dp: 2, pp: 1, cp: 1, order: 'tp-dp', rankOffset: 8 });
  t.deepEqual(g.getRanks('tp'), [[8, 9], [10, 11]]);
  t.deepEqual(g.getRanks('dp'), [[8, 10], [9, 11]]);
  const gtp = new RankGenerator({ tp: 2, ep: 1, dp: 2, pp: 1, cp: 1, gtpRemat: 2, order: injectGtpRematAxis('tp-cp-ep-dp-pp', 'tp') });
  t.is(gtp.order, 'tp-gtp_remat-cp-ep-dp-pp');
  t.deepEqual(gtp.getGtpRanks(2), [[0, 2], [1, 3], [4, 6], [5, 7]]);
  t.throws(() => gtp.getGtpRanks(4), { message: /gtpRematSize \(4\)/ });
});

test('injectGtpRematAxis: after the anchor, else after tp, else first; unchanged when present', (t) => {
  t.is(injectGtpRematAxis('tp-cp-ep-dp-pp', 'tp'), 'tp-gtp_remat-cp-ep-dp-pp');
  t.is(injectGtpRematAxis('tp-cp-ep-dp-pp', 'ep'), 'tp-cp-ep-gtp_remat-dp-pp');
  t.is(injectGtpRematAxis('tp-pp-dp', 'ep'), 'tp-gtp_remat-pp-dp');
  t.is(injectGtpRematAxis('pp-dp', 'tp'), 'gtp_remat-pp-dp');
  t.is(injectGtpRematAxis('gtp_remat-tp', 'tp'), 'gtp_remat-tp');
});

test('RankGenerator.getRanks({ independentEp: false }) folds ep into dp (pre-2024 view)', (t) => {
  const g = new RankGenerator({ tp: 2, ep: 2, dp: 2, pp: 2, cp: 1, order: 'tp-ep-dp-pp' });
  // Folded: tp=2, dp=ep*dp=4, pp=2 -> full data-parallel groups of 4.
  t.deepEqual(g.getRanks('dp', { independentEp: false }), [[0, 2, 4, 6], [1, 3, 5, 7], [8, 10, 12, 14], [9, 11, 13, 15]]);
  t.deepEqual(g.getRanks('ep-dp'), g.getRanks('dp', { independentEp: false }));
  t.deepEqual(g.getRanks('tp', { independentEp: false }), g.getRanks('tp'));
  t.throws(() => g.getRanks('ep', { independentEp: false }), { instanceOf: RangeError });
  const apart = new RankGenerator({ tp: 2, ep: 2, dp: 2, pp: 1, cp: 1, order: 'ep-tp-dp' });
  t.throws(() => apart.getRanks('dp', { independentEp: false }), { message: /adjacent/ });
});
