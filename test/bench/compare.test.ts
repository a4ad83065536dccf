/**
 * The side-by-side comparison. Its arithmetic (medians over rounds, spread, ratios) and plot always run
 * on synthetic results; the end-to-end run against Open MPI and torch gloo runs only where mpicc/mpirun
 * and Debian's python3-torch are installed (CI installs them), and is skipped with the reason otherwise.
 */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { aggregate, compareTable, ratio } from '../../bench/compare/aggregate.js';
import { comparisonTables, parseOptions, runComparison } from '../../bench/compare/compare.js';
import { probeTools, type ImplResult } from '../../bench/compare/impls.js';
import { renderPlot } from '../../bench/compare/plot.js';

const result = (impl: ImplResult['impl'], size: number, timeUs: number, extra: Partial<ImplResult> = {}): ImplResult =>
  ({ impl, op: 'allReduce', ranks: 2, size, count: size / 4, timeUs, nwrong: 0, ...extra });

test('rounds fold into medians, spreads and busbw ratios (multirank / other)', (t) => {
  const rows = aggregate([
    result('multirank', 1 << 20, 100, { ceilingBusBw: 40 }), result('mpi', 1 << 20, 300), result('multirank', 1 << 20, 140, { ceilingBusBw: 20 }),
    result('mpi', 1 << 20, 200), result('multirank', 1 << 20, 120, { ceilingBusBw: 30 }), result('mpi', 1 << 20, 250),
    result('gloo', 4, 500, { nwrong: 2 }), result('multirank', 4, 5),
  ]);
  t.is(rows.length, 2);
  const big = rows[0]!;
  t.like(big.impls.multirank, { timeUs: 120, spreadPct: (40 / 120) * 100, nwrong: 0 });
  t.is(big.impls.multirank!.busBw, (1 << 20) / 120 / 1e3); // factor 1 at 2 ranks
  t.is(big.impls.mpi!.timeUs, 250);
  t.is(big.ceilingBusBw, 30);
  t.is(ratio(big, 'mpi'), 250 / 120);
  t.is(ratio(big, 'gloo'), null);
  t.is(rows[1]!.impls.gloo!.nwrong, 2);
  const table = compareTable(rows, ['multirank', 'mpi', 'gloo'], 3);
  t.regex(table[0]!, /allReduce, 2 ranks.*median of 3/);
  t.regex(table[3]!, /^ +1048576 +120\.00 +250\.00 +N\/A/);
  t.regex(table[3]!, / 2\.08 +N\/A +40$/); // spread: the larger of multirank's 33 % and mpi's 40 %
});

test('the plot: one panel per rank count, a line per implementation, the floor dashed', (t) => {
  const rows = aggregate([
    result('multirank', 1024, 10, { ceilingBusBw: 1 }), result('multirank', 1 << 20, 100, { ceilingBusBw: 20 }), result('mpi', 1024, 20), result('mpi', 1 << 20, 300),
    { ...result('multirank', 1024, 30), ranks: 4 }, { ...result('multirank', 1 << 20, 500), ranks: 4 },
  ]);
  const svg = renderPlot(rows, ['multirank', 'mpi'], 'allReduce', 'caption <&>');
  t.true(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  t.regex(svg, /allReduce, 2 ranks[\s\S]*allReduce, 4 ranks/);
  t.is(svg.match(/<path /g)!.length, 4); // 2 ranks: multirank, mpi, floor; 4 ranks: multirank
  t.is(svg.match(/stroke-dasharray/g)!.length, 2); // the floor's line and its legend entry
  t.true(svg.includes('caption &lt;&amp;&gt;'));
  t.regex(svg, /<text[^>]*>1K<\/text>[\s\S]*<text[^>]*>1M<\/text>/);
});

const { missing } = probeTools();
const reasons = Object.values(missing);
const endToEnd = reasons.length === 0 ? test : test.skip;

endToEnd(`multirank, Open MPI and gloo side by side on 2 and 3 ranks${reasons.length === 0 ? '' : ` (skipped: ${[...new Set(reasons)].join('; ')})`}`, async (t) => {
  const buildDir = mkdtempSync(join(tmpdir(), 'multirank-compare-test-'));
  t.teardown(() => rmSync(buildDir, { recursive: true, force: true }));
  const options = { ops: ['allReduce'], ranks: [2, 3], minBytes: 4, maxBytes: 4096, factor: 32, iters: 5, warmup: 2, rounds: 2, impls: undefined, buildDir };
  const c = await runComparison(options);
  t.deepEqual(c.rows.map((r) => `${r.ranks}/${r.size}`), ['2/4', '2/128', '2/4096', '3/4', '3/128', '3/4096']);
  for (const row of c.rows) {
    const expected = row.ranks === 3 ? ['gloo', 'mpi', 'mpi-yield', 'multirank'] : ['gloo', 'mpi', 'multirank'];
    t.deepEqual(Object.keys(row.impls).sort(), expected, `${row.ranks} ranks, ${row.size} B`);
    for (const [impl, cell] of Object.entries(row.impls)) {
      t.is(cell!.nwrong, 0, `${impl} at ${row.ranks} ranks, ${row.size} B`);
      t.is(cell!.roundsUs.length, 2);
      t.true(cell!.timeUs > 0);
    }
    t.true(ratio(row, 'mpi')! > 0 && ratio(row, 'gloo')! > 0);
  }
  const text = comparisonTables(c).join('\n');
  t.regex(text, /allReduce, 3 ranks[\s\S]*\/mpi-yield/);
  t.regex(comparisonTables(c, true).join('\n'), /\| size \(B\) \| multirank µs \| mpi µs \| mpi-yield µs \| gloo µs/);
});

test('compare options are checked and normalised as multirank bench checks its own', (t) => {
  const o = parseOptions(['--ops', 'all_reduce,allGather', '--ranks', '2,4', '--iters', '7']);
  t.deepEqual([o.ops, o.ranks, o.iters, o.warmup], [['allReduce', 'allGather'], [2, 4], 7, 5]);
  t.throws(() => parseOptions(['--iters', 'x']), { code: 'ERR_MULTIRANK_OUT_OF_RANGE', message: /`--iters` to be an integer, got "x"/ });
  t.throws(() => parseOptions(['--ranks', '2,0']), { message: /--ranks/ });
  t.throws(() => parseOptions(['--ops', 'allreduse']), { message: /allreduse/ });
  t.throws(() => parseOptions(['--impls', 'nccl']), { message: /--impls.*nccl/s });
});
