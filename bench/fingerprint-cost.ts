/**
 * What the always-on collective fingerprints cost: a 4-byte allReduce on two groups of the same ranks in
 * one job, one checked and one not (GroupCoordinator's checkCalls: false), in alternating rounds. The
 * cost is the median over rounds of checked / unchecked - 1.
 *   node dist/bench/fingerprint-cost.js [--ranks 2] [--rounds 21] [--iterations 20000] [--json] [--control]
 * `--control` runs both groups unchecked: the cost it prints is the method's own noise (about +-4 %).
 */
import { parseArgs } from 'node:util';
import { launch } from '../src/launch/launch.js';
import { shutdown } from '../src/launch/runtime.js';

const { values } = parseArgs({ options: { ranks: { type: 'string' }, rounds: { type: 'string' }, iterations: { type: 'string' }, json: { type: 'boolean' }, control: { type: 'boolean' } } });
const ranks = Number(values.ranks ?? 2), rounds = Number(values.rounds ?? 21), iterations = Number(values.iterations ?? 20_000);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const job = await launch({ worldSize: ranks, module: new URL('./fingerprint-body.js', import.meta.url), args: { iterations, rounds, control: values.control === true } });
const perRank = (await job.results) as [number, number][][];
await job.close();
// Each round's time is the slowest rank's.
const pairs = perRank[0]!.map((_, r) => [Math.max(...perRank.map((x) => x[r]![0])), Math.max(...perRank.map((x) => x[r]![1]))] as const);
const result = {
  ranks, iterations, rounds,
  checkedUs: median(pairs.map(([c]) => c)), uncheckedUs: median(pairs.map(([, u]) => u)),
  cost: median(pairs.map(([c, u]) => c / u - 1)),
};
if (values.json) console.log(JSON.stringify(result));
else console.log(`4-byte allReduce, ${ranks} ranks: checked ${result.checkedUs.toFixed(3)} us, unchecked ${result.uncheckedUs.toFixed(3)} us (medians of ${rounds} alternating rounds); cost ${(result.cost * 100).toFixed(1)} % (median of the per-round ratios)`);
await shutdown();
