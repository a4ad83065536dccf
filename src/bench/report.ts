/**
 * From a row's raw measurements (results-block.ts) to its record: time (median over iterations of the
 * slowest rank), algbw, busbw, #wrong, the per-iteration statistics, and the ceiling — the memory floor
 * of the row at the bandwidth the ranks' kernels reached on the same bytes in the same run.
 */
import { dtypeInfo } from '../tensor/dtype.js';
import { ceilingBytes } from './ceiling-rank.js';
import { algBandwidth, busBandwidth, floorTimeUs } from './ops.js';
import type { BenchCase } from './plan.js';
import type { RowSummary } from './results-block.js';
import { iterStats, median, type IterStats } from './stats.js';

/** One column group (out-of-place or in-place) of a row. */
export interface ModeResult {
  /** Median over iterations of the slowest rank's time, µs. */
  readonly timeUs: number;
  readonly algBw: number;
  readonly busBw: number;
  /** Elements wrong over all ranks; null when not checked. */
  readonly nwrong: number | null;
  readonly stats: IterStats;
}

/** The row's memory floor. Bandwidths in GB/s (bytes read + written per ns, all ranks together). */
export interface CeilingResult {
  readonly copyBw: number;
  readonly reduceBw: number;
  /** The better of copy and reduce: the bandwidth the floor assumes. */
  readonly memBw: number;
  /** The op's floor traffic at memBw, µs. */
  readonly floorUs: number;
  /** The busbw the row would show if it ran at its floor. */
  readonly busBw: number;
  /** busbw as a percentage of the ceiling busbw (= floor time / time x 100); null where the column is N/A. */
  readonly outOfPlacePct: number | null;
  readonly inPlacePct: number | null;
}

/** One row of the table: nccl-tests' columns, both modes, and the ceiling. */
export interface BenchRecord {
  readonly op: BenchCase['op'];
  readonly ranks: number;
  readonly size: number;
  readonly count: number;
  readonly type: string;
  /** The reduce op, or 'none'. */
  readonly redop: string;
  readonly root: number;
  readonly outOfPlace: ModeResult | null;
  readonly inPlace: ModeResult | null;
  readonly ceiling: CeilingResult | null;
  readonly iterations: number;
}

function modeResult(row: BenchCase, ranks: number, iterMaxUs: Float64Array, wrong: number): ModeResult {
  const stats = iterStats(iterMaxUs);
  const timeUs = stats.p50;
  return {
    timeUs, algBw: algBandwidth(row.sizeBytes, timeUs), busBw: busBandwidth(row.op, row.sizeBytes, timeUs, ranks),
    nwrong: wrong < 0 ? null : wrong, stats,
  };
}

/** The ceiling of a row from its median kernel spans; null for empty rows or when nothing was measured. */
export function ceilingResult(
  row: BenchCase, ranks: number, spanNs: readonly ArrayLike<number>[], times: readonly (number | undefined)[],
): CeilingResult | null {
  if (row.sizeBytes === 0 || row.op === 'barrier') return null;
  const item = dtypeInfo(row.dtype).itemBytes;
  const bw = [0, 1].map((kind) => {
    const span = median(spanNs[kind]!);
    return span > 0 ? ceilingBytes(kind, row.sizeBytes, item, ranks) / span : 0;
  });
  const memBw = Math.max(bw[0]!, bw[1]!);
  if (!(memBw > 0)) return null;
  const floorUs = floorTimeUs(row.op, row.sizeBytes, ranks, memBw);
  const pct = (t: number | undefined): number | null => (t === undefined || !(t > 0) ? null : (floorUs / t) * 100);
  return {
    copyBw: bw[0]!, reduceBw: bw[1]!, memBw, floorUs, busBw: busBandwidth(row.op, row.sizeBytes, floorUs, ranks),
    outOfPlacePct: pct(times[0]), inPlacePct: pct(times[1]),
  };
}

/** The record of `row` from its summary. */
export function buildRecord(
  row: BenchCase, ranks: number, iterations: number, summary: RowSummary, ceiling: boolean,
): BenchRecord {
  const outOfPlace = row.outOfPlace ? modeResult(row, ranks, summary.iterMaxUs[0], summary.wrong[0]) : null;
  const inPlace = row.inPlace ? modeResult(row, ranks, summary.iterMaxUs[1], summary.wrong[1]) : null;
  return {
    op: row.op, ranks, size: row.sizeBytes, count: row.counts.paramCount,
    type: row.op === 'barrier' ? 'none' : row.dtype,
    redop: row.redop ?? 'none', root: row.root, outOfPlace, inPlace, iterations,
    ceiling: ceiling ? ceilingResult(row, ranks, summary.ceilingSpanNs, [outOfPlace?.timeUs, inPlace?.timeUs]) : null,
  };
}

/** Elements wrong over all records (nccl-tests' "Out of bounds values"). */
export function totalWrong(records: readonly BenchRecord[]): number {
  return records.reduce((sum, r) => sum + (r.outOfPlace?.nwrong ?? 0) + (r.inPlace?.nwrong ?? 0), 0);
}

/** Mean busbw over every reported column (nccl-tests' "Avg bus bandwidth"). */
export function averageBusBw(records: readonly BenchRecord[]): number {
  const values = records.flatMap((r) => [r.outOfPlace, r.inPlace]).filter((m): m is ModeResult => m !== null)
    .map((m) => m.busBw);
  return values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length;
}
