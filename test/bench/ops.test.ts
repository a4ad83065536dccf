/**
 * The bench's accounting: busbw factors, element counts and row sizes per op (nccl-tests' conventions,
 * written out here as literal numbers rather than recomputed with the same formulas), algbw arithmetic,
 * the memory-floor arithmetic, and the size sweep / row plan.
 */
import test from 'ava';
import { benchConfig } from '../../src/bench/args.js';
import { algBandwidth, BENCH_OPS, busBandwidth, floorTimeUs, opAccounting, rowSizeBytes } from '../../src/bench/ops.js';
import { planCases, sweepSizes } from '../../src/bench/plan.js';

// nccl-tests' factors, by hand: allreduce 2(n-1)/n; allgather, reducescatter, alltoall (n-1)/n; others 1.
const FACTORS: Record<string, Record<number, number>> = {
  allReduce: { 1: 0, 2: 1, 3: 4 / 3, 4: 1.5, 8: 1.75 },
  allGather: { 1: 0, 2: 0.5, 3: 2 / 3, 4: 0.75, 8: 0.875 },
  reduceScatter: { 1: 0, 2: 0.5, 3: 2 / 3, 4: 0.75, 8: 0.875 },
  allToAll: { 1: 0, 2: 0.5, 3: 2 / 3, 4: 0.75, 8: 0.875 },
  broadcast: { 1: 1, 2: 1, 3: 1, 4: 1, 8: 1 },
  reduce: { 1: 1, 2: 1, 3: 1, 4: 1, 8: 1 },
  sendRecv: { 2: 1, 3: 1, 4: 1, 8: 1 },
  barrier: { 2: 0, 8: 0 },
};

for (const [op, byRanks] of Object.entries(FACTORS)) {
  test(`busbw factor of ${op}`, (t) => {
    for (const [n, factor] of Object.entries(byRanks)) t.is(opAccounting(op).busFactor(Number(n)), factor, `${op} at ${n} ranks`);
  });
}

test('every op has an entry, and unknown ops are refused with the list of ops', (t) => {
  t.deepEqual(Object.keys(FACTORS).sort(), [...BENCH_OPS].sort());
  const error = t.throws(() => opAccounting('allreduce'));
  t.is((error as { code?: string }).code, 'ERR_MULTIRANK_INVALID_ARG_VALUE');
  t.regex(error!.message, /"allReduce", "allGather"/);
});

test('counts and row sizes follow nccl-tests: per-rank chunks for gather-like ops', (t) => {
  // 1000 elements requested at 8 ranks: chunks of 125; 1001 rounds down to the same.
  t.deepEqual(opAccounting('allGather').counts(1001, 8), { sendCount: 125, recvCount: 1000, paramCount: 125 });
  t.deepEqual(opAccounting('reduceScatter').counts(1001, 8), { sendCount: 1000, recvCount: 125, paramCount: 125 });
  t.deepEqual(opAccounting('allToAll').counts(1001, 8), { sendCount: 1000, recvCount: 1000, paramCount: 125 });
  t.deepEqual(opAccounting('allReduce').counts(1001, 8), { sendCount: 1001, recvCount: 1001, paramCount: 1001 });
  t.deepEqual(opAccounting('barrier').counts(1001, 8), { sendCount: 0, recvCount: 0, paramCount: 0 });
  t.is(rowSizeBytes(opAccounting('allGather').counts(1001, 8), 4), 4000);
  t.is(rowSizeBytes(opAccounting('reduceScatter').counts(3, 8), 4), 0);
});

test('algbw is bytes per ns (GB/s), busbw multiplies by the factor', (t) => {
  t.is(algBandwidth(1_000_000, 100), 10); // 1 MB in 100 µs = 10 GB/s
  t.true(Math.abs(algBandwidth(64 * 1024 * 1024, 10_000) - 6.7108864) < 1e-12);
  t.is(algBandwidth(4096, 0), 0);
  t.is(busBandwidth('allReduce', 1_000_000, 100, 8), 17.5);
  t.is(busBandwidth('allGather', 1_000_000, 100, 4), 7.5);
  t.is(busBandwidth('broadcast', 1_000_000, 100, 4), 10);
});

test('memory floor: traffic in units of size over the bandwidth', (t) => {
  // allReduce at 2 ranks moves 2·W·S = 4 MB for S = 1 MB; at 20 GB/s that takes 200 µs.
  t.is(floorTimeUs('allReduce', 1_000_000, 2, 20), 200);
  t.is(floorTimeUs('reduceScatter', 1_000_000, 4, 10), 500); // (W+1)·S = 5 MB
  t.is(floorTimeUs('broadcast', 1_000_000, 4, 10), 400); // W·S
  t.is(floorTimeUs('allToAll', 1_000_000, 4, 10), 800); // 2·W·S
  t.is(floorTimeUs('barrier', 1_000_000, 4, 10), 0);
  t.is(floorTimeUs('allReduce', 1_000_000, 2, 0), 0);
});

test('size sweeps by factor and by step include both ends', (t) => {
  t.deepEqual(sweepSizes(8, 128, 2, 0), [8, 16, 32, 64, 128]);
  t.deepEqual(sweepSizes(8, 100, 4, 0), [8, 32]);
  t.deepEqual(sweepSizes(0, 30, 0, 10), [0, 10, 20, 30]);
  const error = t.throws(() => sweepSizes(0, 30, 2, 0));
  t.is((error as { code?: string }).code, 'ERR_MULTIRANK_OUT_OF_RANGE');
  t.regex(error!.message, /minbytes/);
});

test('the plan crosses ops, dtypes and reduce ops, skips avg on integers, and has one barrier row', (t) => {
  const config = benchConfig({ ops: ['allReduce', 'allGather', 'barrier'], ranks: 4, minBytes: 16, maxBytes: 64, dtypes: ['float32', 'int32'], redops: ['sum', 'avg'] });
  const rows = planCases(config);
  const key = (r: (typeof rows)[number]): string => `${r.op}/${r.dtype}/${r.redop ?? '-'}/${r.sizeBytes}`;
  t.deepEqual(rows.map(key), [
    'allReduce/float32/sum/16', 'allReduce/float32/sum/32', 'allReduce/float32/sum/64',
    'allReduce/float32/avg/16', 'allReduce/float32/avg/32', 'allReduce/float32/avg/64',
    'allReduce/int32/sum/16', 'allReduce/int32/sum/32', 'allReduce/int32/sum/64',
    'allGather/float32/-/16', 'allGather/float32/-/32', 'allGather/float32/-/64',
    'allGather/int32/-/16', 'allGather/int32/-/32', 'allGather/int32/-/64',
    'barrier/float32/-/0',
  ]);
  t.deepEqual(rows.map((r) => r.index), rows.map((_, i) => i));
  t.true(rows.every((r) => r.root === -1));
  t.deepEqual([rows[0]!.outOfPlace, rows[0]!.inPlace, rows[9]!.outOfPlace, rows[9]!.inPlace], [true, true, true, false]);
});
