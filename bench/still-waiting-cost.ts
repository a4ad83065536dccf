/**
 * What the "still waiting" lines cost: the process's CPU time (every rank thread and the driver) over a
 * job whose ranks wait `--wait-ms` in an allReduce for the last one (it awaits a timer), with the lines
 * off (`MULTIRANK_STILL_WAITING_MS=0`), at the default (10 s, then every 30 s: the driver polls the
 * records once a second, and prints nothing in a short wait) and at `100,100` (a line per waiting rank
 * every 100 ms). The jobs keep module state, so that thread start-up is not measured; the three settings
 * take turns within each round. Lines go to stderr:
 * redirect it (`2>/dev/null`) so that the terminal's cost is not counted.
 *
 *   node dist/bench/still-waiting-cost.js [--ranks 8] [--rounds 5] [--wait-ms 2000] 2>/dev/null
 */
import { parseArgs } from 'node:util';
import { integer } from '../src/bench/args.js';
import { median } from '../src/bench/stats.js';
import { STILL_WAITING_ENV } from '../src/debug/still-waiting.js';
import { launch } from '../src/launch/launch.js';
import { shutdown } from '../src/launch/runtime.js';

const BODY = new URL('./still-waiting-body.js', import.meta.url);
const SETTINGS = { off: '0', default: '10000,30000', on: '100,100' } as const;
type Mode = keyof typeof SETTINGS;
const MODES = Object.keys(SETTINGS) as Mode[];

/** CPU milliseconds (user + system) of one job, from launch to results. */
async function cpuMs(ranks: number, waitMs: number, setting: string): Promise<number> {
  process.env[STILL_WAITING_ENV] = setting;
  const before = process.cpuUsage();
  const job = await launch({ worldSize: ranks, module: BODY, args: waitMs, keepModuleState: true });
  await job.results;
  const used = process.cpuUsage(before);
  await job.close();
  return (used.user + used.system) / 1000;
}

const options = { ranks: { type: 'string' }, rounds: { type: 'string' }, 'wait-ms': { type: 'string' } } as const;
const { values } = parseArgs({ options });
const ranks = integer('--ranks', values.ranks, 8, 1);
const rounds = integer('--rounds', values.rounds, 5, 1);
const waitMs = integer('--wait-ms', values['wait-ms'], 2000, 1);
await cpuMs(ranks, 10, SETTINGS.off); // warm the pool
const samples: Record<Mode, number[]> = { off: [], default: [], on: [] };
for (let round = 0; round < rounds; round++) {
  for (const mode of MODES.map((_, i) => MODES[(i + round) % MODES.length]!)) {
    samples[mode].push(await cpuMs(ranks, waitMs, SETTINGS[mode]));
  }
}
await shutdown();
const show = (xs: number[]): string => `median ${median(xs).toFixed(0)} ms (${xs.map((x) => x.toFixed(0)).join(', ')})`;
console.log(`${ranks} ranks, ${waitMs} ms wait, CPU per job (user + system):`);
for (const mode of MODES) console.log(`  ${mode.padEnd(7)} (${SETTINGS[mode]}): ${show(samples[mode])}`);
