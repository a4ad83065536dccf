/**
 * What the always-on collective fingerprints cost: a 4-byte allReduce on two groups of the same ranks in
 * one job, made the same way except that one checks calls and the other does not (GroupCoordinator's
 * checkCalls: false), timed in many short alternating rounds. A run's cost is the median over rounds of
 * checked / unchecked - 1. Within a run that figure is stable to a few tenths of a percent, but it moves
 * from run to run by a few percent (thread placement, where the group blocks land), so the bench launches
 * several jobs, trading the two groups' blocks in every other one, and reports the median run with the range.
 *   node dist/bench/fingerprint-cost.js [--ranks 2] [--runs 11] [--rounds 4001] [--iterations 250] [--json] [--control]
 * `--control` makes both groups unchecked: what it prints is the method's own error.
 */
import { parseArgs } from 'node:util';
import { launch } from '../src/launch/launch.js';
import { shutdown } from '../src/launch/runtime.js';

const { values } = parseArgs({
  options: {
    ranks: { type: 'string' }, runs: { type: 'string' }, rounds: { type: 'string' }, iterations: { type: 'string' },
    json: { type: 'boolean' }, control: { type: 'boolean' },
  },
});
const ranks = Number(values.ranks ?? 2), runs = Number(values.runs ?? 11), rounds = Number(values.rounds ?? 4001),
  iterations = Number(values.iterations ?? 250);
const control = values.control === true;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Run { checkedUs: number; uncheckedUs: number; cost: number }

async function oneRun(swap: boolean): Promise<Run> {
  const job = await launch({
    worldSize: ranks, module: new URL('./fingerprint-body.js', import.meta.url),
    args: { iterations, rounds, control, swap },
  });
  const perRank = (await job.results) as [number, number][][];
  await job.close();
  // Each round's time is the slowest rank's.
  const pairs = perRank[0]!.map(
    (_, r) => [Math.max(...perRank.map((x) => x[r]![0])), Math.max(...perRank.map((x) => x[r]![1]))] as const,
  );
  return {
    checkedUs: median(pairs.map(([c]) => c)), uncheckedUs: median(pairs.map(([, u]) => u)),
    cost: median(pairs.map(([c, u]) => c / u - 1)),
  };
}

const all: Run[] = [];
for (let i = 0; i < runs; i++) all.push(await oneRun(i % 2 === 1));
const costs = all.map((r) => r.cost);
const mid = all.find((r) => r.cost === median(costs))!;
const result = {
  ranks, runs, rounds, iterations, control,
  cost: mid.cost, costMin: Math.min(...costs), costMax: Math.max(...costs), costs,
  checkedUs: mid.checkedUs, uncheckedUs: mid.uncheckedUs,
};
const pct = (x: number): string => `${(x * 100).toFixed(1)} %`;
if (values.json) console.log(JSON.stringify(result));
else {
  console.log(`4-byte allReduce, ${ranks} ranks${control ? ' (control: both groups unchecked)' : ''}: fingerprint ` +
    `cost ${pct(result.cost)} (median of ${runs} runs; range ${pct(result.costMin)} to ${pct(result.costMax)}); ` +
    `median run: checked ${mid.checkedUs.toFixed(3)} us, unchecked ${mid.uncheckedUs.toFixed(3)} us per call`);
}
await shutdown();
