/**
 * 8 ranks on 2 cores stay quick: small collectives take microseconds to a few hundred microseconds even
 * when ranks outnumber cores, never the 10 ms of a sleep slice (which is what a lost wake-up costs).
 * The bound is loose on purpose (the machine is shared); the medians are logged.
 */
import test from 'ava';
import { withRanks } from '../../src/testing/index.js';

const fixture = new URL('../fixtures/comm-latency.js', import.meta.url);
/** Far below a sleep slice (10 ms) times the few waits of a call, far above what a healthy call takes. */
const MEDIAN_LIMIT_US = 8_000;

for (const n of [2, 8]) {
  test.serial(`small collectives on ${n} ranks take well under a millisecond-scale sleep`, async (t) => {
    const started = performance.now();
    const reports = (await withRanks(n, fixture, { args: { calls: 200 }, timeoutMs: 20_000 })) as Record<string, number>[];
    const ms = performance.now() - started;
    const r = reports[0]!;
    t.log(`${n} ranks: allReduce ${r.allReduceUs!.toFixed(1)} µs, barrier ${r.barrierUs!.toFixed(1)} µs, allGather ${r.allGatherUs!.toFixed(1)} µs (medians); job ${ms.toFixed(0)} ms`);
    for (const report of reports) {
      t.is(report.wrong, 0);
      for (const key of ['allReduceUs', 'barrierUs', 'allGatherUs']) t.true(report[key]! < MEDIAN_LIMIT_US, `${key} = ${report[key]} µs`);
    }
    t.true(ms < 10_000);
  });
}
