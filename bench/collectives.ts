/**
 * The standard collective sweep (nccl-tests style, with the machine's ceiling in the same run) and the
 * figures of the threads runtime's performance goals, written as JSON with CPU, Node and commit.
 *
 *   node dist/bench/collectives.js [--rounds 3] [--json FILE] [--quick]
 *
 * - allReduce float32 sum at 2, 4 and 8 ranks, 4 B .. 64 MiB (x4), --ceiling, `rounds` times: the rank
 *   counts are interleaved within each round, and the goal figures are medians over rounds;
 * - every op at 2 and 8 ranks, 4 B .. 16 MiB (x16), once;
 * - launch: an 8-rank job whose ranks return at once, cold and then warm (`keepModuleState`: the threads of
 *   the previous job; median of LAUNCHES). What the default's fresh threads cost: bench/launch-isolation.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { benchConfig, type BenchConfig } from '../src/bench/args.js';
import { machineInfo } from '../src/bench/machine.js';
import { recordJson } from '../src/bench/json.js';
import { BENCH_OPS } from '../src/bench/ops.js';
import type { BenchRecord } from '../src/bench/report.js';
import { runBench } from '../src/bench/run.js';
import { median } from '../src/bench/stats.js';
import { tableHeader, tableRow } from '../src/bench/table.js';
import { launch } from '../src/launch/launch.js';
import { shutdown } from '../src/launch/runtime.js';

const MIB = 1 << 20;
const LAUNCHES = 10;

/** Options of the standard sweep. */
export interface SweepOptions {
  readonly rounds: number;
  readonly quick: boolean;
  readonly log: (line: string) => void;
}

/** One goal: the measured figure, the bound, and whether it is met. */
export interface Goal {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly bound: string;
  readonly met: boolean;
}

async function sweep(config: BenchConfig, log: (line: string) => void): Promise<BenchRecord[]> {
  log(`#\n# ${config.ops.join(', ')} on ${config.ranks} ranks`);
  for (const line of tableHeader(config.ceiling)) log(line);
  return runBench(config, { onRecord: (record) => log(tableRow(record, config.ceiling)) });
}

/** Milliseconds from launch() to every rank's result, for a cold start, then `count` warm ones (same threads). */
export async function launchTimes(ranks: number, count: number): Promise<{ coldMs: number; warmMs: number[] }> {
  const once = async (): Promise<number> => {
    const start = performance.now();
    const module = new URL('../src/bench/rank.js', import.meta.url);
    const job = await launch({ worldSize: ranks, module, exportName: 'noop', keepModuleState: true });
    await job.results;
    const ms = performance.now() - start;
    await job.close();
    return ms;
  };
  const coldMs = await once();
  const warmMs: number[] = [];
  for (let i = 0; i < count; i++) warmMs.push(await once());
  return { coldMs, warmMs };
}

const find = (records: readonly BenchRecord[], ranks: number, size: number): BenchRecord | undefined =>
  records.find((r) => r.op === 'allReduce' && r.ranks === ranks && r.size === size);

/** The goals of the threads runtime (issue 5) from the allReduce rounds and the launch times. */
export function goals(rounds: readonly (readonly BenchRecord[])[], warmLaunchMs: number, bigBytes: number): Goal[] {
  const med = (pick: (rs: readonly BenchRecord[]) => number | undefined): number => median(
    rounds.map(pick).filter((v): v is number => v !== undefined),
  );
  const bus = med((rs) => find(rs, 2, bigBytes)?.outOfPlace?.busBw);
  const pct = med((rs) => find(rs, 2, bigBytes)?.ceiling?.outOfPlacePct ?? undefined);
  const small2 = med((rs) => find(rs, 2, 4)?.outOfPlace?.timeUs);
  const small8 = med((rs) => find(rs, 8, 4)?.outOfPlace?.timeUs);
  const mib = bigBytes / MIB;
  return [
    { name: `allReduce f32 ${mib} MiB, 2 ranks, busbw`, value: bus, unit: 'GB/s', bound: '>= 4.5', met: bus >= 4.5 },
    {
      name: `allReduce f32 ${mib} MiB, 2 ranks, % of memory floor`, value: pct, unit: '%', bound: '>= 60',
      met: pct >= 60,
    },
    { name: 'allReduce 4 B, 2 ranks, time', value: small2, unit: 'µs', bound: '<= 1', met: small2 <= 1 },
    { name: 'allReduce 4 B, 8 ranks, time', value: small8, unit: 'µs', bound: '<= 20', met: small8 <= 20 },
    { name: '8-rank warm launch', value: warmLaunchMs, unit: 'ms', bound: '<= 50', met: warmLaunchMs <= 50 },
  ];
}

/** Runs the whole sweep; returns the JSON document. */
export async function runStandardSweep(options: SweepOptions): Promise<Record<string, unknown>> {
  const { log, quick } = options;
  const bigBytes = quick ? 4096 : 64 * MIB;
  const allReduceRanks = quick ? [2] : [2, 4, 8];
  const base = { iters: quick ? 3 : 20, warmup: quick ? 1 : 5, check: 1, ceiling: true };
  const rounds: BenchRecord[][] = [];
  for (let round = 0; round < options.rounds; round++) {
    const records: BenchRecord[] = [];
    const order = allReduceRanks.map((_, i) => allReduceRanks[(i + round) % allReduceRanks.length]!);
    for (const ranks of order) {
      records.push(...(await sweep(
        benchConfig({ ...base, ops: ['allReduce'], ranks, minBytes: 4, maxBytes: bigBytes, stepFactor: 4 }), log)));
    }
    rounds.push(records);
  }
  const allOps: BenchRecord[] = [];
  for (const ranks of quick ? [2] : [2, 8]) {
    allOps.push(...(await sweep(benchConfig({
      ...base, ops: [...BENCH_OPS], ranks, minBytes: 4, maxBytes: quick ? 1024 : 16 * MIB, stepFactor: 16,
    }), log)));
  }
  const launches = await launchTimes(8, quick ? 2 : LAUNCHES);
  const warmLaunchMs = median(launches.warmMs);
  log(
    `#\n# 8-rank launch: cold ${launches.coldMs.toFixed(1)} ms, warm median ${warmLaunchMs.toFixed(1)} ms ` +
      `[${launches.warmMs.map((m) => m.toFixed(1)).join(', ')}]`,
  );
  const goalList = goals(rounds, warmLaunchMs, bigBytes);
  log('#\n# goals (medians over rounds)');
  for (const g of goalList) {
    log(`#   ${g.name}: ${g.value.toFixed(2)} ${g.unit} (goal ${g.bound}) ${g.met ? 'met' : 'MISSED'}`);
  }
  return {
    tool: 'bench/collectives', date: new Date().toISOString(), machine: machineInfo(), rounds: options.rounds,
    allReduce: rounds.map((records) => records.map(recordJson)), allOps: allOps.map(recordJson),
    launch: { ranks: 8, cold_ms: launches.coldMs, warm_ms: launches.warmMs, warm_median_ms: warmLaunchMs },
    goals: goalList,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { rounds: { type: 'string' }, json: { type: 'string' }, quick: { type: 'boolean' } },
  });
  const rounds = values.rounds === undefined ? 3 : Number.parseInt(values.rounds, 10);
  if (!(rounds >= 1)) {
    throw new RangeError(`Expected \`--rounds\` to be a positive integer, got ${JSON.stringify(values.rounds)}`);
  }
  const doc = await runStandardSweep({ rounds, quick: values.quick === true, log: (line) => console.log(line) });
  if (values.json !== undefined) writeFileSync(values.json, JSON.stringify(doc, null, 2) + '\n');
  await shutdown();
}

if (
  process.argv[1] !== undefined && import.meta.url === (await import('node:url')).pathToFileURL(process.argv[1]).href
) {
  await main();
}
