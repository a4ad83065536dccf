/** bench/collectives.ts: the goal figures are medians over rounds, and the quick sweep writes its whole document. */
import test from 'ava';
import { goals, runStandardSweep } from '../../bench/collectives.js';
import type { BenchRecord } from '../../src/bench/report.js';

function allReduce(ranks: number, size: number, timeUs: number, busBw: number, pct: number): BenchRecord {
  const stats = { min: timeUs, max: timeUs, avg: timeUs, p50: timeUs, p95: timeUs, p99: timeUs, stdev: 0, cvPct: 0 };
  return {
    op: 'allReduce', ranks, size, count: size / 4, type: 'float32', redop: 'sum', root: -1, iterations: 1, inPlace: null,
    outOfPlace: { timeUs, algBw: busBw, busBw, nwrong: 0, stats },
    ceiling: { copyBw: 1, reduceBw: 1, memBw: 1, floorUs: 1, busBw: 1, outOfPlacePct: pct, inPlacePct: null },
  };
}

test('goals take the median over rounds and compare with the bounds of the threads runtime', (t) => {
  const big = 64 << 20;
  const rounds = [
    [allReduce(2, big, 1, 5, 70), allReduce(2, 4, 0.8, 0, 0), allReduce(8, 4, 30, 0, 0)],
    [allReduce(2, big, 1, 3, 50), allReduce(2, 4, 2, 0, 0), allReduce(8, 4, 10, 0, 0)],
    [allReduce(2, big, 1, 4.6, 65), allReduce(2, 4, 0.9, 0, 0), allReduce(8, 4, 15, 0, 0)],
  ];
  const g = goals(rounds, 12, big);
  t.deepEqual(g.map((x) => [x.value, x.met]), [[4.6, true], [65, true], [0.9, true], [15, true], [12, true]]);
  t.regex(g[0]!.name, /64 MiB, 2 ranks, busbw/);
  t.deepEqual(goals(rounds.slice(1, 2), 60, big).map((x) => x.met), [false, false, false, true, false]);
});

test('the quick sweep measures allReduce rows, every op, the launch, and the goals', async (t) => {
  const lines: string[] = [];
  const doc = await runStandardSweep({ rounds: 1, quick: true, log: (line) => lines.push(line) }) as Record<string, any>;
  t.is(doc.allReduce.length, 1);
  t.deepEqual(doc.allReduce[0].map((r: { size: number }) => r.size), [4, 16, 64, 256, 1024, 4096]);
  t.true(doc.allReduce[0].every((r: any) => r.out_of_place.nwrong === 0 && r.in_place.nwrong === 0 && r.ceiling.mem_bw > 0));
  t.deepEqual([...new Set(doc.allOps.map((r: { op: string }) => r.op))], ['allReduce', 'allGather', 'reduceScatter', 'broadcast', 'reduce', 'allToAll', 'sendRecv', 'barrier']);
  t.is(doc.launch.warm_ms.length, 2);
  t.true(doc.launch.warm_median_ms > 0);
  t.is(doc.goals.length, 5);
  t.true(typeof doc.machine.cpu === 'string');
  t.true(lines.some((l) => l.startsWith('#   8-rank warm launch')));
});
