/**
 * Statistics of per-iteration times. A row's time is the median over iterations of the slowest rank's
 * time in that iteration (the max over ranks, since a collective is done when its last rank is done).
 */

/** Per-iteration statistics, in the unit of the input (µs here), as nccl-tests' per-iteration report. */
export interface IterStats {
  readonly min: number;
  readonly max: number;
  readonly avg: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly stdev: number;
  /** Coefficient of variation in percent (stdev / avg x 100). */
  readonly cvPct: number;
}

/** Index of the p-th percentile in a sorted array of n values (nearest rank, as nccl-tests). */
export function percentileIndex(n: number, percentile: number): number {
  return Math.max(0, Math.min(n - 1, Math.ceil((n * percentile) / 100) - 1));
}

/** Median (mean of the two middle values for an even count). NaN for no values. */
export function median(values: ArrayLike<number>): number {
  if (values.length === 0) return Number.NaN;
  const sorted = Array.from(values).sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Statistics of `values` (at least one). */
export function iterStats(values: ArrayLike<number>): IterStats {
  if (values.length === 0) throw new RangeError('iterStats needs at least one value');
  const sorted = Array.from(values).sort((a, b) => a - b);
  const n = sorted.length;
  const avg = sorted.reduce((s, v) => s + v, 0) / n;
  const stdev = Math.sqrt(sorted.reduce((s, v) => s + (v - avg) ** 2, 0) / n);
  return {
    min: sorted[0]!, max: sorted[n - 1]!, avg, p50: median(sorted), p95: sorted[percentileIndex(n, 95)]!,
    p99: sorted[percentileIndex(n, 99)]!, stdev, cvPct: avg > 0 ? (stdev / avg) * 100 : 0,
  };
}

/** For each iteration i, the largest of `perRank[r][i]` over ranks r. */
export function maxOverRanks(perRank: readonly ArrayLike<number>[], iters: number): Float64Array {
  const out = new Float64Array(iters).fill(Number.NEGATIVE_INFINITY);
  for (const times of perRank) for (let i = 0; i < iters; i++) if (times[i]! > out[i]!) out[i] = times[i]!;
  return out;
}

/** For each repetition, the span from the earliest start to the latest end over ranks. */
export function spanOverRanks(
  starts: readonly ArrayLike<number>[], ends: readonly ArrayLike<number>[], reps: number,
): Float64Array {
  const out = new Float64Array(reps);
  for (let i = 0; i < reps; i++) {
    let first = Number.POSITIVE_INFINITY, last = Number.NEGATIVE_INFINITY;
    for (const s of starts) first = Math.min(first, s[i]!);
    for (const e of ends) last = Math.max(last, e[i]!);
    out[i] = last - first;
  }
  return out;
}
