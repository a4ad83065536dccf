/**
 * The JSON document of a run, shaped as nccl-tests' `-J` output (version, start_time, args, config,
 * results[{size, count, type, redop, root, out_of_place{time, alg_bw, bus_bw, nwrong}, in_place{...},
 * out_of_place_per_iter{min_us, max_us, avg_us, p50_us, p95_us, p99_us, stdev_us, cv_pct}, ...}],
 * out_of_bounds, average_bus_bandwidth, end_time), plus what multirank adds: the op and rank count of
 * each record, its ceiling, and the machine. `time` is the median over iterations of the slowest rank.
 */
import type { BenchConfig } from './args.js';
import type { MachineInfo } from './machine.js';
import type { BenchRecord, ModeResult } from './report.js';
import { averageBusBw, totalWrong } from './report.js';

/** Version of the document's layout. */
export const BENCH_JSON_VERSION = 1;

function mode(m: ModeResult | null): Record<string, number | null> | null {
  return m === null ? null : { time: m.timeUs, alg_bw: m.algBw, bus_bw: m.busBw, nwrong: m.nwrong };
}

function perIter(m: ModeResult | null): Record<string, number> | null {
  if (m === null) return null;
  const s = m.stats;
  return {
    min_us: s.min, max_us: s.max, avg_us: s.avg, p50_us: s.p50, p95_us: s.p95, p99_us: s.p99, stdev_us: s.stdev,
    cv_pct: s.cvPct,
  };
}

/** One result record. */
export function recordJson(r: BenchRecord): Record<string, unknown> {
  const c = r.ceiling;
  return {
    op: r.op, ranks: r.ranks, size: r.size, count: r.count, type: r.type, redop: r.redop, root: r.root,
    out_of_place: mode(r.outOfPlace), in_place: mode(r.inPlace),
    out_of_place_per_iter: perIter(r.outOfPlace), in_place_per_iter: perIter(r.inPlace),
    ceiling: c === null ? null : {
      copy_bw: c.copyBw, reduce_bw: c.reduceBw, mem_bw: c.memBw, floor_time: c.floorUs, bus_bw: c.busBw,
      out_of_place_pct: c.outOfPlacePct, in_place_pct: c.inPlacePct,
    },
    actual_iterations: r.iterations,
  };
}

/** When and where a run happened, and its command line. */
export interface RunInfo {
  readonly args: readonly string[];
  readonly startTime: Date;
  readonly endTime: Date;
  readonly machine: MachineInfo;
}

function config(c: BenchConfig): Record<string, unknown> {
  return {
    ops: c.ops, ranks: c.ranks, backend: c.backend, minimum_bytes: c.minBytes, maximum_bytes: c.maxBytes,
    ...(c.stepFactor > 1 ? { step_factor: c.stepFactor } : { step_bytes: c.stepBytes }),
    warmup_iters: c.warmup, iterations: c.iters, validation: c.check, dtypes: c.dtypes, redops: c.redops, root: c.root,
    ceiling: c.ceiling, seed: c.seed, time: 'median over iterations of the slowest rank',
  };
}

/** The whole document. */
export function benchJson(c: BenchConfig, records: readonly BenchRecord[], run: RunInfo): Record<string, unknown> {
  const wrong = totalWrong(records);
  const m = run.machine;
  return {
    version: BENCH_JSON_VERSION, tool: 'multirank bench', start_time: run.startTime.toISOString(), args: run.args,
    config: config(c),
    machine: {
      cpu: m.cpu, cores: m.cores, memory_bytes: m.memoryBytes, node: m.node, v8: m.v8, platform: m.platform,
      multirank: m.multirank, commit: m.commit,
    },
    results: records.map(recordJson),
    out_of_bounds: { count: wrong, okay: wrong === 0 },
    average_bus_bandwidth: { bandwidth: averageBusBw(records), okay: 'unchecked' },
    end_time: run.endTime.toISOString(),
  };
}
