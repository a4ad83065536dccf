/**
 * What a TypeScript rank module costs at start-up: milliseconds from launch() to every rank's result and
 * the process's peak memory (max RSS), for a job whose ranks import the package and return at once, as
 * `.js` (`return-body.ts`, compiled) and as `.ts` (`ts-modules/startup-body.ts`, transpiled by the driver
 * at launch), launched from the bundle (the package users import, which the `.ts` module imports by
 * name). Each measurement is a fresh process (a cold first job: its peak memory is its own), the kinds
 * interleaved within each round; the figures are medians over rounds.
 *
 *   node dist/bench/ts-startup.js [--ranks 8,16] [--rounds 3] [--json FILE]
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { integer } from '../src/bench/args.js';
import { machineInfo } from '../src/bench/machine.js';
import { median } from '../src/bench/stats.js';
import { libraryUrl, loadLibrary } from './build.js';

const MODULES = {
  js: new URL('./return-body.js', import.meta.url).href,
  ts: new URL('../../bench/ts-modules/startup-body.ts', import.meta.url).href,
} as const;
type Kind = keyof typeof MODULES;
interface Sample { launchMs: number; maxRssMB: number }

async function child(worldSize: number, module: string): Promise<void> {
  const started = performance.now();
  const { launch } = await loadLibrary('bundle');
  const job = await launch({ worldSize, module, args: { lib: libraryUrl('bundle') } });
  await job.results;
  const launchMs = performance.now() - started;
  await job.close();
  const sample: Sample = { launchMs, maxRssMB: process.resourceUsage().maxRSS / 1024 };
  process.stdout.write(`${JSON.stringify(sample)}\n`);
  process.exit(0); // the standby pool is not part of what is measured
}

function measure(worldSize: number, kind: Kind): Sample {
  const self = fileURLToPath(import.meta.url);
  const run = spawnSync(process.execPath, [self, '--child', String(worldSize), MODULES[kind]], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`${kind} on ${worldSize} ranks failed: ${run.stderr}`);
  return JSON.parse(run.stdout.trim().split('\n').at(-1)!) as Sample;
}

if (process.argv[2] === '--child') {
  await child(Number(process.argv[3]), process.argv[4]!);
} else {
  const { values } = parseArgs({
    options: { ranks: { type: 'string' }, rounds: { type: 'string' }, json: { type: 'string' } },
  });
  const ranks = (values.ranks ?? '8,16').split(',').map((r) => integer('--ranks', r, 8, 1));
  const rounds = integer('--rounds', values.rounds, 3, 1);
  const loadBefore = loadavg()[0]!;
  const rows: { ranks: number; kind: Kind; launchMs: number; maxRssMB: number }[] = [];
  for (const worldSize of ranks) {
    const samples: Record<Kind, Sample[]> = { js: [], ts: [] };
    for (let round = 0; round < rounds; round++) {
      for (const kind of ['js', 'ts'] as const) samples[kind].push(measure(worldSize, kind));
    }
    for (const kind of ['js', 'ts'] as const) {
      const s = samples[kind];
      rows.push({
        ranks: worldSize, kind, launchMs: median(s.map((x) => x.launchMs)), maxRssMB: median(s.map((x) => x.maxRssMB)),
      });
    }
  }
  const load = `load average ${loadBefore.toFixed(1)} before, ${loadavg()[0]!.toFixed(1)} after`;
  console.log(`# ranks  module  launch->results (ms)  max RSS (MB)   (medians of ${rounds}; ${load})`);
  for (const r of rows) {
    console.log(
      `${String(r.ranks).padStart(7)}  ${r.kind.padEnd(6)}  ${r.launchMs.toFixed(0).padStart(20)}  ` +
        `${r.maxRssMB.toFixed(0).padStart(12)}`,
    );
  }
  if (values.json !== undefined) {
    writeFileSync(values.json, JSON.stringify({ machine: machineInfo(), load, rows }, null, 2));
  }
}
