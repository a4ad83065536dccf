/**
 * `npm run bench:store`: multirank's TCPStore against torch's, in the same run, on localhost.
 *
 * - Round trip: `set` then `get` of a 1-byte value, N times per round, every client against every
 *   server (multirank's servers, native and TypeScript, each run in a process of their own, as torch's
 *   does); the mean per round, then the median over rounds.
 * - Throughput: 8 clients each `add`ing in a loop for S seconds against each server; multirank's
 *   clients are 8 stores in one Node process, torch's 8 Python processes.
 *
 * Options: --iters N (2000), --rounds R (5), --seconds S (2), --load-rounds L (3), --json FILE. Needs
 * /usr/bin/python3 with torch (bench/store-torch.py); without it only multirank's rows are measured.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { TCPStore } from '../src/index.js';
import { NativeTCPStoreServer } from '../src/store/native-server.js';
import { TCPStoreServer } from '../src/store/server.js';

const PY = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('../../bench/store-torch.py', import.meta.url));
const SELF = fileURLToPath(import.meta.url);
const CLIENTS = 8;

interface Row {
  readonly client: string;
  readonly server: string;
  readonly value: number;
  readonly spread?: number;
}

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Starts a child and resolves with its first stdout line, parsed. */
async function start(command: string, args: string[]): Promise<{
  child: ChildProcess; first: unknown; next: () => Promise<unknown>;
}> {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const next = async (): Promise<unknown> => JSON.parse((await lines.next()).value as string);
  return { child, first: await next(), next };
}

async function ourRtt(port: number, iters: number, rounds: number): Promise<number[]> {
  const store = await TCPStore.create({ port, timeoutMs: 60_000 });
  for (let i = 0; i < iters / 10; i++) {
    await store.set('rtt', 'v');
    await store.get('rtt');
  }
  const out: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    for (let i = 0; i < iters; i++) {
      await store.set('rtt', 'v');
      await store.get('rtt');
    }
    out.push(((performance.now() - t0) / iters) * 1000);
  }
  await store.close();
  return out;
}

async function ourLoad(port: number, seconds: number): Promise<number> {
  const stores = await Promise.all(Array.from({ length: CLIENTS }, () => TCPStore.create({ port, timeoutMs: 60_000 })));
  const end = performance.now() + seconds * 1000;
  const counts = await Promise.all(stores.map(async (store) => {
    let n = 0;
    while (performance.now() < end) {
      await store.add('load', 1);
      n++;
    }
    return n;
  }));
  await Promise.all(stores.map((s) => s.close()));
  return counts.reduce((a, b) => a + b, 0) / seconds;
}

async function torchLoad(port: number, seconds: number, tag: string): Promise<number> {
  const procs = await Promise.all(Array.from({ length: CLIENTS }, () => {
    const args = [SCRIPT, 'load', String(port), String(seconds), tag];
    const child = spawn(PY, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    return { child, result: lines.next().then((l) => JSON.parse(l.value as string) as number) };
  }));
  const go = await TCPStore.create({ port, timeoutMs: 60_000 });
  // the Python processes take seconds to import torch: start once all of them wait for "go/<tag>"
  while (await go.add(`ready/${tag}`, 0) < CLIENTS) await new Promise((resolve) => setTimeout(resolve, 50));
  await new Promise((resolve) => setTimeout(resolve, 200)); // each sent its WAIT after its add
  await go.set(`go/${tag}`, '1');
  const counts = await Promise.all(procs.map((p) => p.result));
  await go.close();
  // Python's exit (torch's teardown) takes CPU: let it end before the next row is measured
  await Promise.all(procs.map((p) => p.child.exitCode !== null ? undefined : once(p.child, 'exit')));
  return counts.reduce((a, b) => a + b, 0) / seconds;
}

async function main(): Promise<void> {
  if (process.argv[2] === '--serve') {
    const listen = process.argv[3] === 'native' ? NativeTCPStoreServer.listen : TCPStoreServer.listen;
    const server = await listen({ host: '127.0.0.1' });
    process.stdout.write(`${JSON.stringify({ port: server.port })}\n`);
    process.stdin.resume().on('end', () => void server.close().then(() => process.exit(0)));
    return;
  }
  const iters = option('iters', 2000), rounds = option('rounds', 5), seconds = option('seconds', 2);
  const loadRounds = option('load-rounds', 3);
  const torch = spawnSync(PY, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
  const hasTorch = torch.status === 0;
  const servers: [string, number, ChildProcess][] = [];
  for (const kind of ['native', 'js']) {
    const ours = await start(process.execPath, [SELF, '--serve', kind]);
    servers.push([`multirank ${kind}`, (ours.first as { port: number }).port, ours.child]);
  }
  if (hasTorch) {
    const theirs = await start(PY, [SCRIPT, 'server']);
    servers.push([`torch ${torch.stdout.trim()}`, (theirs.first as { port: number }).port, theirs.child]);
  } else {
    process.stderr.write(`note: ${PY} cannot import torch: torch's rows are skipped\n`);
  }
  const rtt: Row[] = [], load: Row[] = [];
  for (const [server, port] of servers) {
    rtt.push({ client: 'multirank', server, value: median(await ourRtt(port, iters, rounds)) });
    if (hasTorch) {
      const py = await start(PY, [SCRIPT, 'rtt', String(port), String(iters), String(rounds)]);
      rtt.push({ client: 'torch', server, value: median(py.first as number[]) });
    }
  }
  // throughput rounds interleave the servers, so that a noisy stretch of the machine hits them all
  const samples = new Map<string, { client: string; server: string; values: number[] }>();
  const sample = (client: string, server: string, value: number): void => {
    const key = `${client}|${server}`;
    if (!samples.has(key)) samples.set(key, { client, server, values: [] });
    samples.get(key)!.values.push(value);
  };
  for (let r = 0; r < loadRounds; r++) {
    for (const [server, port] of servers) {
      sample(`multirank x${CLIENTS}`, server, await ourLoad(port, seconds));
      if (hasTorch) sample(`torch x${CLIENTS}`, server, await torchLoad(port, seconds, String(r)));
    }
  }
  for (const { client, server, values } of samples.values()) {
    const value = median(values);
    load.push({ client, server, value, spread: (Math.max(...values) - Math.min(...values)) / value });
  }
  for (const [, , child] of servers) child.stdin!.end();
  const table = [
    `# set + get round trip, 1-byte value (median over ${rounds} rounds of ${iters})`,
    '# client       server              us per set+get',
    ...rtt.map((r) => `  ${r.client.padEnd(12)} ${r.server.padEnd(18)} ${r.value.toFixed(1).padStart(10)}`),
    `# ${CLIENTS} clients adding for ${seconds} s (median of ${loadRounds} rounds, the servers interleaved)`,
    '# clients      server              ops/s   spread',
    ...load.map((r) => `  ${r.client.padEnd(12)} ${r.server.padEnd(18)} `
      + `${Math.round(r.value).toString().padStart(10)}${(100 * r.spread!).toFixed(0).padStart(7)} %`),
  ];
  process.stdout.write(`${table.join('\n')}\n`);
  const json = process.argv.indexOf('--json');
  const record = { rtt, load, iters, rounds, seconds, loadRounds };
  if (json > 0) writeFileSync(process.argv[json + 1]!, JSON.stringify(record, null, 2));
}

await main();
