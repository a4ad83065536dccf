/**
 * Time from `multirank run` to the job's first collective, a world barrier: 8 ranks in one process (the
 * baseline: threads over shared memory) against 2 processes of 4 ranks (`--procs 2`: an agent, its store,
 * two worker processes, the rendezvous, and a barrier through the store). Each round starts the command
 * (a fresh `node`) and reads every rank's wall clock right after its barrier; the figure is the last rank's
 * time minus the moment the command was spawned, and `exitMs` the time until the command exited. The
 * configurations are interleaved within each round, so that they share the machine's load; medians.
 *
 *   node dist/bench/procs-startup.js [--rounds 5] [--json FILE]
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { integer } from '../src/bench/args.js';
import { machineInfo } from '../src/bench/machine.js';
import { median } from '../src/bench/stats.js';

const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const body = fileURLToPath(new URL('./procs-startup-body.js', import.meta.url));
const CONFIGS = { '1 process x 8 ranks': ['-n', '8'], '2 processes x 4 ranks': ['-n', '8', '--procs', '2'] } as const;
type Config = keyof typeof CONFIGS;

function once(args: readonly string[]): Promise<{ firstMs: number; exitMs: number }> {
  const start = performance.timeOrigin + performance.now();
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [cli, 'run', ...args, body], { timeout: 120_000 }, (error, stdout, stderr) => {
      const end = performance.timeOrigin + performance.now();
      if (error !== null) return reject(new Error(`${args.join(' ')} failed: ${stderr}`));
      const times = [...stdout.matchAll(/=> ([\d.]+)$/gm)].map((m) => Number(m[1]));
      if (times.length !== 8) return reject(new Error(`expected 8 ranks' times, got ${times.length}: ${stdout}`));
      resolve({ firstMs: Math.max(...times) - start, exitMs: end - start });
    });
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rounds: { type: 'string' }, json: { type: 'string' } } });
  const rounds = integer('--rounds', values.rounds, 5, 1);
  const samples = new Map<Config, { firstMs: number; exitMs: number }[]>();
  const loadBefore = loadavg()[0]!;
  for (let round = 0; round < rounds; round++) {
    for (const config of Object.keys(CONFIGS) as Config[]) {
      const list = samples.get(config) ?? [];
      list.push(await once(CONFIGS[config]));
      samples.set(config, list);
    }
  }
  const loadAfter = loadavg()[0]!;
  const rows = [...samples].map(([config, list]) => ({
    config, firstCollectiveMs: median(list.map((s) => s.firstMs)), exitMs: median(list.map((s) => s.exitMs)),
    samples: list,
  }));
  console.log(`load average ${loadBefore.toFixed(1)} before, ${loadAfter.toFixed(1)} after; ${rounds} rounds, medians`);
  console.log('| job | run -> first collective | run -> exit |\n|---|---:|---:|');
  for (const r of rows) {
    console.log(`| ${r.config} | ${r.firstCollectiveMs.toFixed(0)} ms | ${r.exitMs.toFixed(0)} ms |`);
  }
  if (values.json !== undefined) {
    const record = { machine: machineInfo(), loadBefore, loadAfter, rounds, rows };
    writeFileSync(values.json, JSON.stringify(record, null, 2));
  }
}

await main();
