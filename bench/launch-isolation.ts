/**
 * What fresh module state costs at launch: milliseconds from launch() to every rank's result, for a job
 * whose ranks return at once (`launch-body.ts`: it imports the package and returns), at each rank count, in
 * four situations:
 *
 * - `keep`: `keepModuleState: true`, threads reused warm from the previous such job (the old default);
 * - `standby`: the default (fresh threads), `--pause-ms` after the previous job, so that the standby pool
 *   started when that job ended has booted (the usual case in a test suite or a training script);
 * - `loop`: the default in a tight loop, each job launched the moment the previous one closed (the third
 *   of three): the standby for a job starts during the job before it, so it has not finished booting;
 * - `cold`: the default with no standby pool (after `shutdown()`): the first job of a size.
 *
 * The situations are interleaved within each round, so that they share the machine's load; the figures
 * are medians over rounds, with close() times beside them.
 *
 *   node dist/bench/launch-isolation.js [--ranks 2,8,16] [--rounds 7] [--pause-ms 3000] [--json FILE]
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { integer } from '../src/bench/args.js';
import { machineInfo } from '../src/bench/machine.js';
import { median } from '../src/bench/stats.js';
import { launch } from '../src/launch/launch.js';
import { shutdown } from '../src/launch/runtime.js';

const MODES = ['keep', 'standby', 'loop', 'cold'] as const;
type Mode = (typeof MODES)[number];
interface Timing {
  readonly launchMs: number;
  readonly closeMs: number;
}

const BODY = new URL('./launch-body.js', import.meta.url);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** One job: milliseconds to its results and to the end of close(). */
async function once(ranks: number, keepModuleState: boolean): Promise<Timing> {
  const start = performance.now();
  const job = await launch({ worldSize: ranks, module: BODY, keepModuleState });
  await job.results;
  const launchMs = performance.now() - start;
  await job.close();
  return { launchMs, closeMs: performance.now() - start - launchMs };
}

/** Every mode once, in an order that rotates with `index`; each mode first sets up its situation. */
async function round(ranks: number, index: number, pauseMs: number): Promise<Record<Mode, Timing>> {
  const out = {} as Record<Mode, Timing>;
  for (const mode of MODES.map((_, i) => MODES[(i + index) % MODES.length]!)) {
    if (mode === 'cold') await shutdown();
    else if (mode === 'keep') await once(ranks, true); // warm again after a `cold` round's shutdown()
    else if (mode === 'loop') for (let i = 0; i < 2; i++) await once(ranks, false);
    else {
      await once(ranks, false); // its close() starts the standby pool
      await sleep(pauseMs);
    }
    out[mode] = await once(ranks, mode === 'keep');
  }
  return out;
}

const fixed = (ms: number, width: number): string => ms.toFixed(1).padStart(width);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      ranks: { type: 'string' }, rounds: { type: 'string' }, 'pause-ms': { type: 'string' }, json: { type: 'string' },
    },
  });
  const rankCounts = (values.ranks ?? '2,8,16').split(',').map((n) => integer('--ranks', n, 0, 1, 256));
  const rounds = integer('--rounds', values.rounds, 7, 1, 1000);
  const pauseMs = integer('--pause-ms', values['pause-ms'], 3000, 0, 60_000);
  await once(2, true); // the arena and the compiled kernels: once per process, not part of any figure
  const rows: Record<string, unknown>[] = [];
  console.log('ranks  mode     launch ms (median)  close ms (median)  launch ms, every round');
  for (const ranks of rankCounts) {
    const samples: Record<Mode, Timing>[] = [];
    for (let i = 0; i < rounds; i++) samples.push(await round(ranks, i, pauseMs));
    for (const mode of MODES) {
      const [launchMs, closeMs] = [samples.map((s) => s[mode].launchMs), samples.map((s) => s[mode].closeMs)];
      const [launchMedian, closeMedian] = [median(launchMs), median(closeMs)];
      rows.push({
        ranks, mode, launch_median_ms: launchMedian, close_median_ms: closeMedian, launch_ms: launchMs,
        close_ms: closeMs,
      });
      const every = launchMs.map((ms) => ms.toFixed(1)).join(' ');
      const medians = `${fixed(launchMedian, 18)}  ${fixed(closeMedian, 17)}`;
      console.log(`${String(ranks).padStart(5)}  ${mode.padEnd(7)}  ${medians}  ${every}`);
    }
  }
  if (values.json !== undefined) {
    const date = new Date().toISOString();
    const doc = { tool: 'bench/launch-isolation', date, machine: machineInfo(), rounds, pause_ms: pauseMs, rows };
    writeFileSync(values.json, JSON.stringify(doc, null, 2) + '\n');
  }
  await shutdown();
}

await main();
