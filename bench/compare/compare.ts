/**
 * multirank beside Open MPI and torch gloo on the same sizes and rank counts, run interleaved (the order
 * of the implementations rotates every round, so each sees the same machine load on average) and
 * repeated; prints one table per (op, ranks) with medians, ratios and the spread over rounds, and writes
 * JSON, Markdown and the SVG plot.
 *
 *   node dist/bench/compare/compare.js [--ops allReduce] [--ranks 2,4,8] [-b 4] [-e 64M] [-f 4]
 *     [--iters 20] [--warmup 5] [--rounds 3] [--impls multirank,mpi,mpi-yield,gloo]
 *     [--json FILE] [--markdown FILE] [--svg FILE] [--build-dir DIR]
 *
 * Without --impls: multirank, mpi and gloo, plus mpi-yield (mpi_yield_when_idle 1) where ranks exceed
 * the cores. Implementations whose tools are missing are skipped with the reason (see probeTools).
 */
import { writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BENCH_DEFAULTS, BENCH_RANKS_MAX, integer, parseOps, parseSize } from '../../src/bench/args.js';
import { invalidChoice } from '../../src/errors.js';
import { machineInfo } from '../../src/bench/machine.js';
import { aggregate, compareMarkdown, compareTable, ratio, type CompareRow } from './aggregate.js';
import { buildMpiBench, IMPLS, probeTools, runImpl, type Impl, type ImplResult, type Sweep } from './impls.js';
import { renderPlot } from './plot.js';

/** What to compare: ops, rank counts, the size sweep, iterations and rounds. */
export interface CompareOptions {
  readonly ops: readonly string[];
  readonly ranks: readonly number[];
  readonly minBytes: number;
  readonly maxBytes: number;
  readonly factor: number;
  readonly iters: number;
  readonly warmup: number;
  readonly rounds: number;
  /** Explicit implementations, or undefined for the default choice per rank count. */
  readonly impls: readonly Impl[] | undefined;
  readonly buildDir: string;
}

/** A finished comparison: rows, the implementations that ran, those skipped (and why), versions. */
export interface Comparison {
  readonly rows: CompareRow[];
  readonly impls: Impl[];
  readonly skipped: Partial<Record<Impl, string>>;
  readonly versions: Record<string, string>;
  readonly options: CompareOptions;
  readonly date: string;
}

function implsFor(options: CompareOptions, ranks: number, missing: Partial<Record<Impl, string>>): Impl[] {
  const wanted = options.impls ??
    (['multirank', 'mpi', ...(ranks > availableParallelism() ? ['mpi-yield' as const] : []), 'gloo'] as Impl[]);
  return wanted.filter((impl) => missing[impl] === undefined);
}

/** Runs every (op, ranks) sweep `rounds` times, rotating the implementations' order each round. */
export async function runComparison(
  options: CompareOptions, log: (line: string) => void = () => undefined,
): Promise<Comparison> {
  const { missing, versions } = probeTools();
  const mpiBinary = missing.mpi === undefined ? buildMpiBench(options.buildDir) : '';
  const results: ImplResult[] = [];
  for (const op of options.ops) {
    for (const ranks of options.ranks) {
      const impls = implsFor(options, ranks, missing);
      const sweep: Sweep = {
        op, ranks, minBytes: options.minBytes, maxBytes: options.maxBytes, factor: options.factor, iters: options.iters,
        warmup: options.warmup,
      };
      for (let round = 0; round < options.rounds; round++) {
        const order = impls.map((_, i) => impls[(i + round) % impls.length]!);
        for (const impl of order) {
          const started = performance.now();
          results.push(...(await runImpl(impl, sweep, mpiBinary)));
          log(
            `# ${op} ${ranks} ranks, round ${round + 1}/${options.rounds}: ${impl} done in ` +
              `${((performance.now() - started) / 1000).toFixed(1)} s`,
          );
        }
      }
    }
  }
  const used = IMPLS.filter((impl) => results.some((r) => r.impl === impl));
  const skipped = Object.fromEntries(
    Object.entries(missing).filter(([impl]) => (options.impls ?? IMPLS).includes(impl as Impl)),
  );
  return { rows: aggregate(results), impls: used, skipped, versions, options, date: new Date().toISOString() };
}

export function parseOptions(argv: readonly string[]): CompareOptions & {
  json?: string; markdown?: string; svg?: string;
} {
  const { values: v } = parseArgs({
    args: [...argv], strict: true,
    options: {
      ops: { type: 'string' }, ranks: { type: 'string' }, minbytes: { type: 'string', short: 'b' },
      maxbytes: { type: 'string', short: 'e' },
      stepfactor: { type: 'string', short: 'f' }, iters: { type: 'string' }, warmup: { type: 'string', short: 'w' },
      rounds: { type: 'string' },
      impls: { type: 'string' }, json: { type: 'string' }, markdown: { type: 'string' }, svg: { type: 'string' },
      'build-dir': { type: 'string' },
    },
  });
  const impls = v.impls?.split(',').map((name) => {
    if (!(IMPLS as readonly string[]).includes(name)) throw invalidChoice('--impls', IMPLS, name);
    return name as Impl;
  });
  return {
    ops: parseOps(v.ops),
    ranks: (v.ranks ?? '2,4,8').split(',').map((n) => integer('--ranks', n, 0, 1, BENCH_RANKS_MAX)), impls,
    minBytes: v.minbytes === undefined ? 4 : parseSize('-b', v.minbytes),
    maxBytes: v.maxbytes === undefined ? 64 << 20 : parseSize('-e', v.maxbytes),
    factor: integer('-f', v.stepfactor, 4, 2), iters: integer('--iters', v.iters, BENCH_DEFAULTS.iters, 1),
    warmup: integer('-w', v.warmup, BENCH_DEFAULTS.warmup, 0), rounds: integer('--rounds', v.rounds, 3, 1),
    buildDir: v['build-dir'] ?? join(tmpdir(), 'multirank-compare'), json: v.json, markdown: v.markdown, svg: v.svg,
  };
}

/** Every table of a comparison, one per (op, ranks). */
export function comparisonTables(c: Comparison, markdown = false): string[] {
  const lines: string[] = [];
  for (const op of c.options.ops) {
    for (const ranks of c.options.ranks) {
      const rows = c.rows.filter((r) => r.op === op && r.ranks === ranks);
      if (rows.length === 0) continue;
      const impls = c.impls.filter((impl) => rows.some((r) => r.impls[impl] !== undefined));
      if (markdown) lines.push(`#### ${op}, ${ranks} ranks`, '', ...compareMarkdown(rows, impls), '');
      else lines.push(...compareTable(rows, impls, c.options.rounds), '#');
    }
  }
  return lines;
}

function describe(c: Comparison): string {
  const v = c.versions;
  return `${c.date.slice(0, 10)}, ${cpus()[0]?.model.trim() ?? 'CPU'} (${availableParallelism()} cores), Node ` +
    `${v.node}, ${v.mpi ?? 'no MPI'}, torch ${v.torch ?? 'n/a'}`;
}

async function main(argv: readonly string[]): Promise<number> {
  const options = parseOptions(argv);
  const c = await runComparison(options, (line) => console.error(line));
  for (const [impl, reason] of Object.entries(c.skipped)) console.error(`# skipped ${impl}: ${reason}`);
  console.log(`# ${describe(c)}`);
  for (const line of comparisonTables(c)) console.log(line);
  const wrong = c.rows.flatMap((r) => Object.entries(r.impls)).filter(([, cell]) => (cell?.nwrong ?? 0) > 0);
  if (options.json !== undefined) {
    const doc = {
      date: c.date, machine: machineInfo(), versions: c.versions, options: c.options, skipped: c.skipped,
      impls: c.impls, rows: c.rows.map((r) => ({
        ...r, ratios: Object.fromEntries(c.impls.filter((i) => i !== 'multirank').map((i) => [i, ratio(r, i)])),
      })),
    };
    writeFileSync(options.json, JSON.stringify(doc, null, 2) + '\n');
  }
  if (options.markdown !== undefined) {
    writeFileSync(options.markdown, [`Measured ${describe(c)}.`, '', ...comparisonTables(c, true)].join('\n'));
  }
  if (options.svg !== undefined) {
    writeFileSync(
      options.svg,
      renderPlot(
        c.rows, c.impls, c.options.ops[0]!,
        `busbw (GB/s) vs size; ${describe(c)}; median of ${c.options.rounds} interleaved rounds`,
      ),
    );
  }
  if (wrong.length > 0) console.error(`# wrong results: ${wrong.map(([impl]) => impl).join(', ')}`);
  return wrong.length > 0 ? 1 : 0;
}

if (
  process.argv[1] !== undefined && import.meta.url === (await import('node:url')).pathToFileURL(process.argv[1]).href
) {
  process.exitCode = await main(process.argv.slice(2));
}
