/**
 * The MessageQueue across processes against the shared-memory ring, in one run: `multirank run -n 4
 * --procs 2` of bench/remote-queue-body (rank 0 writes to rank 1 in its process and to rank 2 in the
 * other, rounds interleaved). Reports, per path and message size, the rate (messages per second streamed
 * back to back) and the one-way latency (half a ping-pong, the pong a small message), medians over the
 * rounds, with the load average.
 *
 *   node dist/bench/remote-queue.js [--rounds 3] [--json FILE]
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
const body = fileURLToPath(new URL('./remote-queue-body.js', import.meta.url));

function run(rounds: number): Promise<Record<string, number[]>> {
  const args = [cli, 'run', '-n', '4', '--procs', '2', body, '--', String(rounds)];
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { timeout: 300_000 }, (error, stdout, stderr) => {
      if (error !== null) return reject(new Error(`multirank run failed: ${stderr}`));
      const all: Record<string, number[]> = {};
      for (const m of stdout.matchAll(/=> (.*)$/gm)) Object.assign(all, (JSON.parse(m[1]!) as { out: object }).out);
      resolve(all);
    });
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rounds: { type: 'string' }, json: { type: 'string' } } });
  const rounds = integer('--rounds', values.rounds, 3, 1);
  const loadBefore = loadavg()[0]!;
  const samples = await run(rounds);
  const loadAfter = loadavg()[0]!;
  const cell = (key: string, digits: number): string => {
    const list = samples[key];
    return list === undefined ? '-' : median(list).toFixed(digits);
  };
  console.log(`load average ${loadBefore.toFixed(1)} before, ${loadAfter.toFixed(1)} after; ${rounds} rounds, medians`);
  console.log('| message | ring msg/s | socket msg/s | ring one-way | socket one-way |\n|---|---:|---:|---:|---:|');
  for (const size of ['small', '1 MiB']) {
    console.log(`| ${size} | ${cell(`ring ${size} msg/s`, 0)} | ${cell(`socket ${size} msg/s`, 0)} | ` +
      `${cell(`ring ${size} one-way us`, 0)} us | ${cell(`socket ${size} one-way us`, 0)} us |`);
  }
  if (values.json !== undefined) {
    const record = { machine: machineInfo(), loadBefore, loadAfter, rounds, samples };
    writeFileSync(values.json, JSON.stringify(record, null, 2));
  }
}

await main();
