/**
 * What the always-on collective fingerprints cost: a 4-byte allReduce at 2 ranks with the checks on and
 * off (MULTIRANK_CHECK_CALLS=0), in alternating jobs of the same process so that machine noise hits both.
 * Prints the medians and the ratio; `--json` prints them as JSON.
 *   node dist/bench/fingerprint-cost.js [--ranks 2] [--jobs 6] [--iterations 20000]
 */
import { parseArgs } from 'node:util';
import { launch } from '../src/launch/launch.js';
import { shutdown } from '../src/launch/runtime.js';

const { values } = parseArgs({ options: { ranks: { type: 'string' }, jobs: { type: 'string' }, iterations: { type: 'string' }, json: { type: 'boolean' } } });
const ranks = Number(values.ranks ?? 2), jobs = Number(values.jobs ?? 6), iterations = Number(values.iterations ?? 20_000);

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function run(checks: boolean): Promise<number[]> {
  const job = await launch({ worldSize: ranks, module: new URL('./fingerprint-body.js', import.meta.url), args: { iterations, rounds: 5 }, checkCalls: checks });
  try {
    const perRank = (await job.results) as number[][];
    return perRank[0]!.map((_, r) => Math.max(...perRank.map((rounds) => rounds[r]!)));
  } finally {
    await job.close();
  }
}

const on: number[] = [], off: number[] = [];
for (let j = 0; j < jobs; j++) {
  on.push(...(await run(true)));
  off.push(...(await run(false)));
}
const result = { ranks, iterations, onUs: median(on), offUs: median(off), cost: median(on) / median(off) - 1 };
if (values.json) console.log(JSON.stringify(result));
else console.log(`4-byte allReduce, ${ranks} ranks: checks on ${result.onUs.toFixed(2)} us, off ${result.offUs.toFixed(2)} us (medians of ${on.length} rounds): cost ${(result.cost * 100).toFixed(1)} %`);
await shutdown();
