/**
 * The `mpi` backend against plain Open MPI, interleaved in one run (each round runs every configuration
 * once, in turn, so that load drifts hit them alike): allReduce (float32 sum) of
 * - 2 processes x 1 rank (multirank-mpi, MpiCommunicator calling MPI directly) vs Open MPI np=2, 4 B and
 *   64 MiB;
 * - 2 processes x 4 rank threads (multirank-mpi-x4, hierarchical) vs Open MPI np=8 on the same cores,
 *   4 B .. 64 MiB.
 * Both sides measure alike (mpi-bench.c's way: every rank times each call, the slowest rank per iteration,
 * the median); small sizes run `--iters` iterations after `--warmup` untimed ones, sizes from 1 MiB
 * `--big-iters` after max(2, iters / 8), and the first sizes of each sweep more (see `sweep`). Both sides
 * get the same counts; the warm-up is long because our ranks' JavaScript reaches its optimised code only
 * after some thousands of calls in a fresh process, which the first size of a sweep would otherwise carry
 * (1 MiB took 2.0-2.8x Open MPI's time after 2 untimed calls, 0.5-0.8x after 100; 2 x 4 at 4 B 39-41 us
 * after 5000, 16 us after 20 000, and 16 B 40 us when it came first). Prints a Markdown table (median
 * over rounds of the per-run medians, busbw = size / time x 2 (n - 1) / n) with the load average before
 * and after, and writes every run's lines to `--json`.
 *
 * Our processes get Open MPI's default placement, as its own do (one core each on this 2-core machine), or
 * with `--bind none` every core each.
 *
 *   node dist/bench/compare/mpi-compare.js [--rounds 3] [--iters 1000] [--warmup 5000] [--big-iters 6]
 *     [--bind default|none] [--json out.json]
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildMpiBench } from './impls.js';

interface Line { impl: string; ranks: number; size: number; time_us: number; nwrong: number }
interface Config { name: string; ranks: number; run: (min: number, max: number, iters: number) => Line[] }

const { values: v } = parseArgs({
  options: {
    rounds: { type: 'string' }, iters: { type: 'string' }, warmup: { type: 'string' }, 'big-iters': { type: 'string' },
    json: { type: 'string' }, bind: { type: 'string' },
    max: { type: 'string' },
  },
});
const rounds = Number(v.rounds ?? 3), iters = Number(v.iters ?? 1000), bigIters = Number(v['big-iters'] ?? 6);
const warmup = Number(v.warmup ?? 5000);
// How our processes are placed: Open MPI's default (as its own processes: one core each while there are
// cores enough) or `--bind-to none` (every process on every core).
const bind = v.bind ?? 'default';
if (bind !== 'default' && bind !== 'none') {
  throw new Error(`--bind must be default or none, got ${JSON.stringify(bind)}`);
}
const maxBytes = Number(v.max ?? 64 << 20);
const BIG = 1 << 20;
const root = process.getuid?.() === 0 ? ['--allow-run-as-root'] : [];
const mpiBench = buildMpiBench(join(tmpdir(), 'multirank-compare'));
const ours = fileURLToPath(new URL('./mpi-multirank-bench.js', import.meta.url));

const lines = (text: string): Line[] => text.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Line);
const mpirun = (np: number, extra: string[], argv: string[]): Line[] =>
  lines(execFileSync('mpirun', [...root, '--oversubscribe', ...extra, '-np', String(np), ...argv], {
    encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'inherit'],
  }));
// Large sizes run in processes of their own too: the first of them gets WARMUP_BYTES of untimed calls
// (128 at 1 MiB), which warms our ranks' code, and the later ones at least 2.
const sweep = (min: number, max: number, it: number): string[] => [String(min), String(max), '4', String(it),
  ...(max < BIG ? [String(warmup)] : [String(Math.max(2, it >> 3)), String(128 << 20)])];
const plainMpi = (np: number): Config['run'] => (min, max, it) => mpirun(np, [], [mpiBench, 'allReduce', ...sweep(min, max, it)]);
const multirankMpi = (threads: number): Config['run'] => (min, max, it) => mpirun(
  2, bind === 'none' ? ['--bind-to', 'none'] : [],
  [process.execPath, ours, String(threads), ...sweep(min, max, it)],
);

const pairs: { title: string; sizes: number[]; configs: Config[] }[] = [
  {
    title: '2 processes x 1 rank vs Open MPI np=2', sizes: [4, maxBytes],
    configs: [{ name: 'multirank mpi 2x1', ranks: 2, run: multirankMpi(1) }, { name: 'Open MPI np=2', ranks: 2, run: plainMpi(2) }],
  },
  {
    title: '2 processes x 4 ranks (hierarchical) vs Open MPI np=8', sizes: [],
    configs: [{ name: 'multirank mpi 2x4', ranks: 8, run: multirankMpi(4) }, { name: 'Open MPI np=8', ranks: 8, run: plainMpi(8) }],
  },
];
for (let s = 4; s <= maxBytes; s *= 4) pairs[1]!.sizes.push(s);

const loadBefore = loadavg();
const runs: { round: number; config: string; lines: Line[] }[] = [];
for (let round = 0; round < rounds; round++) {
  for (const pair of pairs) {
    const small = pair.sizes.filter((s) => s < BIG), big = pair.sizes.filter((s) => s >= BIG);
    for (const config of pair.configs) {
      const got: Line[] = [];
      for (const [set, it] of [[small, iters], [big, bigIters]] as const) {
        if (set.length === 0) continue;
        got.push(...config.run(set[0]!, set[set.length - 1]!, it).filter((l) => set.includes(l.size)));
      }
      runs.push({ round, config: config.name, lines: got });
      process.stderr.write(`round ${round + 1}/${rounds} ${config.name}: ${got.length} sizes\n`);
    }
  }
}
const loadAfter = loadavg();

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b), m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const timeOf = (config: string, size: number): { us: number; wrong: number } => {
  const found = runs.filter((r) => r.config === config).flatMap((r) => r.lines.filter((l) => l.size === size));
  return { us: median(found.map((l) => l.time_us)), wrong: found.reduce((a, l) => a + l.nwrong, 0) };
};
const busbw = (size: number, us: number, n: number): number => (size / us / 1e3) * ((2 * (n - 1)) / n);
const human = (b: number): string => (b >= 1 << 20 ? `${b / (1 << 20)} MiB` : b >= 1024 ? `${b / 1024} KiB` : `${b} B`);

const out: string[] = [];
const load = (l: number[]): string => l.map((x) => x.toFixed(1)).join(' / ');
out.push(`load average (1 / 5 / 15 min): ${load(loadBefore)} before, ${load(loadAfter)} after; ${rounds} rounds, ` +
  `${iters} iterations below 1 MiB after ${warmup} untimed, ${bigIters} from 1 MiB; our processes: ` +
  `${bind === 'none' ? '--bind-to none' : "Open MPI's default binding"}`);
for (const pair of pairs) {
  const [a, b] = pair.configs as [Config, Config];
  out.push('', `**${pair.title}** (allReduce, float32 sum; median of ${rounds} interleaved runs)`, '',
    `| size | ${a.name} (us) | ${b.name} (us) | time ratio | ${a.name} busbw (GB/s) | ${b.name} busbw (GB/s) | busbw ratio |`,
    '|---:|---:|---:|---:|---:|---:|---:|');
  for (const size of pair.sizes) {
    const x = timeOf(a.name, size), y = timeOf(b.name, size);
    const wrong = x.wrong + y.wrong === 0 ? '' : ` (wrong elements: ${x.wrong} / ${y.wrong})`;
    out.push(`| ${human(size)} | ${x.us.toFixed(1)} | ${y.us.toFixed(1)} | ${(x.us / y.us).toFixed(2)}x | ` +
      `${busbw(size, x.us, a.ranks).toFixed(3)} | ${busbw(size, y.us, b.ranks).toFixed(3)} | ` +
      `${(busbw(size, x.us, a.ranks) / busbw(size, y.us, b.ranks)).toFixed(2)}x |${wrong}`);
  }
}
console.log(out.join('\n'));
if (v.json !== undefined) writeFileSync(v.json, JSON.stringify({ loadBefore, loadAfter, rounds, iters, bigIters, runs }, null, 1));
