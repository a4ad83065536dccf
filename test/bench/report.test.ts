/**
 * From raw measurements to output: statistics (median of the per-iteration max over ranks), the
 * results block's fold, the record, nccl-tests' table (header text, column alignment, number format,
 * N/A), the footer, the CSV, and the JSON document's shape.
 */
import test from 'ava';
import { benchConfig } from '../../src/bench/args.js';
import { benchJson } from '../../src/bench/json.js';
import { planCases } from '../../src/bench/plan.js';
import { buildRecord, type BenchRecord } from '../../src/bench/report.js';
import { ResultsBlock } from '../../src/bench/results-block.js';
import { iterStats, maxOverRanks, median, percentileIndex, spanOverRanks } from '../../src/bench/stats.js';
import { formatFloat, tableFooter, tableHeader, tableRow, toCsv } from '../../src/bench/table.js';

test('statistics', (t) => {
  t.is(median([5, 1, 3]), 3);
  t.is(median([4, 1, 3, 2]), 2.5);
  t.true(Number.isNaN(median([])));
  t.deepEqual([percentileIndex(100, 99), percentileIndex(20, 99), percentileIndex(1, 50), percentileIndex(10, 50)], [98, 19, 0, 4]);
  const s = iterStats([4, 2, 6, 8]);
  t.like(s, { min: 2, max: 8, avg: 5, p50: 5, p99: 8 });
  t.is(s.stdev, Math.sqrt(5));
  t.is(s.cvPct, (Math.sqrt(5) / 5) * 100);
  t.deepEqual(Array.from(maxOverRanks([[1, 9, 3], [4, 2, 8]], 3)), [4, 9, 8]);
  t.deepEqual(Array.from(spanOverRanks([[10, 100], [12, 90]], [[20, 130], [25, 110]], 2)), [15, 40]);
});

const shape = { rows: 2, ranks: 3, iters: 4, reps: 3 };

test('the results block folds each rank\'s times into the slowest rank per iteration, sums #wrong, spans the ceiling', (t) => {
  const block = ResultsBlock.create(shape);
  const rankView = new ResultsBlock(block.buffer, shape); // as a rank attaches
  [[1, 2, 3, 4], [5, 1, 1, 1], [1, 1, 9, 1]].forEach((times, r) => rankView.times(0, r).set(times));
  [0, 2, 1].forEach((wrong, r) => { rankView.setWrong(0, r, wrong); rankView.setWrong(1, r, -1); });
  for (let r = 0; r < 3; r++) {
    rankView.ceiling(0, r, false).set([100 + r, 200, 300]);
    rankView.ceiling(0, r, true).set([150 + 10 * r, 260, 330]);
  }
  t.is(block.rowsDone(), 0);
  rankView.publish(0);
  t.is(block.rowsDone(), 1);
  const s = block.summary(0);
  t.deepEqual(Array.from(s.iterMaxUs[0]), [5, 2, 9, 4]);
  t.deepEqual(s.wrong, [3, -1]);
  t.deepEqual(Array.from(s.ceilingSpanNs[0]), [70, 60, 30]);
  t.throws(() => new ResultsBlock(new SharedArrayBuffer(4096), shape), { code: 'ERR_MULTIRANK_OUT_OF_RANGE' });
  t.throws(() => ResultsBlock.create({ rows: 100_000, ranks: 8, iters: 1000, reps: 10 }), { message: /fewer rows or iterations/ });
});

function sampleRecord(): BenchRecord {
  const config = benchConfig({ ranks: 2, minBytes: 1 << 20, maxBytes: 1 << 20, ceiling: true });
  const row = planCases(config)[0]!;
  const us = (values: number[]): Float64Array => Float64Array.from(values);
  // out-of-place iterations (slowest rank): median 100 µs; in-place: median 50 µs; 2·W·S traffic over spans.
  return buildRecord(row, 2, 3, {
    iterMaxUs: [us([100, 90, 400]), us([50, 40, 60])], wrong: [0, -1],
    ceilingSpanNs: [us([1e5, 2e5, 1e5]), us([1e6, 1e6, 1e6])],
  }, true);
}

test('a record: time is the median, algbw size/time, busbw by factor, ceiling from the better kernel', (t) => {
  const r = sampleRecord();
  t.like(r, { op: 'allReduce', ranks: 2, size: 1 << 20, count: 1 << 18, type: 'float32', redop: 'sum', root: -1, iterations: 3 });
  t.is(r.outOfPlace!.timeUs, 100);
  t.is(r.outOfPlace!.algBw, 1048576 / 100 / 1e3);
  t.is(r.outOfPlace!.busBw, r.outOfPlace!.algBw); // factor 1 at 2 ranks
  t.is(r.outOfPlace!.nwrong, 0);
  t.is(r.inPlace!.nwrong, null);
  t.is(r.outOfPlace!.stats.max, 400);
  const c = r.ceiling!;
  // copy: inner reps 1 (1 MiB), 2 ranks x 2 x 1 MiB in the median span of 1e5 ns; reduce: 3 MiB in 1e6 ns.
  t.is(c.copyBw, (4 * 1048576) / 1e5);
  t.is(c.reduceBw, (3 * 1048576) / 1e6);
  t.is(c.memBw, c.copyBw);
  t.is(c.floorUs, (4 * 1048576) / c.memBw / 1e3); // 2·W·S at memBw
  t.is(c.outOfPlacePct, (c.floorUs / 100) * 100);
  t.is(c.inPlacePct, (c.floorUs / 50) * 100);
});

test('nccl-tests number format', (t) => {
  t.deepEqual([formatFloat(12.3456, 7), formatFloat(1234.5, 7), formatFloat(12345.6, 7), formatFloat(1234567, 7), formatFloat(123456789, 7)],
    ['  12.35', '1234.50', '12345.6', '1234567', '1.2e+08']);
  t.deepEqual([formatFloat(0.004, 6), formatFloat(123.456, 6), formatFloat(4567.8, 6), formatFloat(0, 6)], ['  0.00', '123.46', '4567.8', '  0.00']);
});

test('the table header is nccl-tests\' header, and every row lines up under it', (t) => {
  const [titles, names, units] = tableHeader(false);
  t.is(titles, '#                                                              out-of-place                       in-place');
  t.is(names, '#       size         count      type   redop    root     time   algbw   busbw  #wrong     time   algbw   busbw  #wrong');
  t.is(units, '#        (B)    (elements)                               (us)  (GB/s)  (GB/s)             (us)  (GB/s)  (GB/s)');
  const row = tableRow(sampleRecord(), false);
  t.is(row, '     1048576        262144   float32     sum      -1   100.00   10.49   10.49       0    50.00   20.97   20.97     N/A');
  t.is(row.length, names!.length);
  const columnEnds = (line: string): number[] => [...line.matchAll(/\S+/g)].map((m) => m.index! + m[0].length);
  t.deepEqual(columnEnds(row), columnEnds(names!).slice(1)); // right-aligned under the names (the first token is '#')
  const ceilingHeader = tableHeader(true);
  const ceilingRow = tableRow(sampleRecord(), true);
  t.is(ceilingRow.length, ceilingHeader[1]!.length);
  t.regex(ceilingHeader[1]!, /membw +busbw +%oop +%ip$/);
  t.regex(ceilingRow, /  41\.94 +10\.49 +100 +200$/); // 4 MiB / 1e5 ns; at the 100 µs floor busbw is 10.49
});

test('unavailable columns and unchecked results print N/A; the footer reports wrong elements', (t) => {
  const record = { ...sampleRecord(), inPlace: null, ceiling: null };
  t.regex(tableRow(record, true), / 0( +N\/A){8}$/);
  t.deepEqual(tableFooter([record]), ['# Out of bounds values : 0 OK', '# Avg bus bandwidth    : 10.4858', '#']);
  const wrong = { ...record, outOfPlace: { ...record.outOfPlace!, nwrong: 7 } };
  t.is(tableFooter([wrong, record])[0], '# Out of bounds values : 7 FAILED');
});

test('CSV: one header, one line per record, empty cells for N/A', (t) => {
  const csv = toCsv([sampleRecord()]).trimEnd().split('\n');
  t.is(csv.length, 2);
  const header = csv[0]!.split(','), cells = csv[1]!.split(',');
  t.is(header.length, cells.length);
  const at = (name: string): string => cells[header.indexOf(name)]!;
  t.deepEqual([at('op'), at('size'), at('oop_time_us'), at('oop_nwrong'), at('ip_nwrong'), at('ip_time_us'), at('oop_time_max_us')], ['allReduce', '1048576', '100', '0', '', '50', '400']);
});

test('JSON: nccl-tests\' record fields plus op, ranks, per-iteration stats and the ceiling', (t) => {
  const config = benchConfig({ ceiling: true });
  const machine = { cpu: 'cpu', cores: 2, memoryBytes: 1, node: 'v20', v8: '11', platform: 'linux-x64', multirank: '0.1.0', commit: null };
  const doc = benchJson(config, [sampleRecord()], { args: ['multirank', 'bench'], startTime: new Date(0), endTime: new Date(1000), machine });
  const parsed = JSON.parse(JSON.stringify(doc)) as Record<string, any>;
  t.like(parsed, { version: 1, start_time: '1970-01-01T00:00:00.000Z', end_time: '1970-01-01T00:00:01.000Z', out_of_bounds: { count: 0, okay: true } });
  t.like(parsed.config, { ranks: 2, minimum_bytes: 8, step_factor: 2, iterations: 20, warmup_iters: 5, validation: 1 });
  const r = parsed.results[0];
  t.deepEqual(Object.keys(r), ['op', 'ranks', 'size', 'count', 'type', 'redop', 'root', 'out_of_place', 'in_place', 'out_of_place_per_iter', 'in_place_per_iter', 'ceiling', 'actual_iterations']);
  t.deepEqual(Object.keys(r.out_of_place), ['time', 'alg_bw', 'bus_bw', 'nwrong']);
  t.like(r, { size: 1048576, count: 262144, type: 'float32', redop: 'sum', root: -1, out_of_place: { time: 100, nwrong: 0 }, in_place: { time: 50, nwrong: null } });
  t.like(r.out_of_place_per_iter, { min_us: 90, max_us: 400, p99_us: 400, p50_us: 100 });
  t.like(r.ceiling, { in_place_pct: r.ceiling.out_of_place_pct * 2 });
});
