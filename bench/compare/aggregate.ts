/**
 * Folding the interleaved rounds of the comparison into one row per (op, ranks, size): each
 * implementation's median time over rounds, its busbw, its spread over rounds (the noise), multirank's
 * memory floor, and the ratios multirank / other (of busbw, so > 1 means multirank is faster). Printed
 * as a text table (nccl-tests style) and as Markdown for docs/BENCHMARKS.md.
 */
import { busBandwidth, opAccounting, type BenchOp } from '../../src/bench/ops.js';
import { median } from '../../src/bench/stats.js';
import { formatFloat } from '../../src/bench/table.js';
import type { Impl, ImplResult } from './impls.js';

/** One implementation's figures in one row. */
export interface ImplCell {
  readonly timeUs: number;
  readonly busBw: number;
  /** (max - min) / median of the rounds' times, in percent. */
  readonly spreadPct: number;
  readonly roundsUs: readonly number[];
  /** Wrong elements summed over rounds (null when not checked). */
  readonly nwrong: number | null;
}

/** One (op, ranks, size) of the comparison. */
export interface CompareRow {
  readonly op: string;
  readonly ranks: number;
  readonly size: number;
  readonly count: number;
  readonly impls: Partial<Record<Impl, ImplCell>>;
  /** multirank's ceiling busbw (median over rounds), or null. */
  readonly ceilingBusBw: number | null;
}

/** multirank's busbw over `other`'s (null when either is missing or zero). */
export function ratio(row: CompareRow, other: Impl): number | null {
  const mine = row.impls.multirank?.busBw, theirs = row.impls[other]?.busBw;
  return mine === undefined || theirs === undefined || !(mine > 0) || !(theirs > 0) ? null : mine / theirs;
}

/** One row per (op, ranks, size), in first-seen order. */
export function aggregate(results: readonly ImplResult[]): CompareRow[] {
  const groups = new Map<string, ImplResult[]>();
  for (const r of results) {
    const key = `${r.op}/${r.ranks}/${r.size}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  return [...groups.values()].map((group) => {
    const first = group[0]!;
    const impls: Partial<Record<Impl, ImplCell>> = {};
    for (const impl of new Set(group.map((r) => r.impl))) {
      const mine = group.filter((r) => r.impl === impl);
      const times = mine.map((r) => r.timeUs);
      const timeUs = median(times);
      const wrongs = mine.map((r) => r.nwrong).filter((w): w is number => w !== null);
      impls[impl] = {
        timeUs, busBw: busBandwidth(first.op as BenchOp, first.size, timeUs, first.ranks),
        spreadPct: timeUs > 0 ? ((Math.max(...times) - Math.min(...times)) / timeUs) * 100 : 0, roundsUs: times,
        nwrong: wrongs.length === 0 ? null : wrongs.reduce((a, b) => a + b, 0),
      };
    }
    const ceilings = group.flatMap((r) => (r.ceilingBusBw === undefined ? [] : [r.ceilingBusBw]));
    return {
      op: first.op, ranks: first.ranks, size: first.size, count: first.count, impls,
      ceilingBusBw: ceilings.length === 0 ? null : median(ceilings),
    };
  });
}

const cell = (value: number | null | undefined, width: number): string => (
  value === null || value === undefined ? 'N/A'.padStart(width) : formatFloat(value, width)
);
const others = (impls: readonly Impl[]): Impl[] => impls.filter((i) => i !== 'multirank');

/** The text table of one (op, ranks) group: time, busbw and ratio column groups under group titles. */
export function compareTable(rows: readonly CompareRow[], impls: readonly Impl[], rounds: number): string[] {
  const r0 = rows[0]!;
  const w = Math.max(9, ...impls.map((i) => i.length + 1));
  const groups: Array<[string, string[]]> = [
    ['time (us)', [...impls]], ['busbw (GB/s)', [...impls, 'floor']], ['ratio', others(impls).map((i) => `/${i}`)],
    ['', ['spread%']],
  ];
  const titles = groups.map(([title, names]) => {
    const width = names.length * (w + 1);
    return title === ''
      ? ' '.repeat(width)
      : ` ${title} `.padStart(Math.floor((width + title.length + 2) / 2), '-').padEnd(width, '-');
  });
  const lines = [
    `# ${r0.op}, ${r0.ranks} ranks, float32${opAccounting(r0.op).reduces ? ' sum' : ''}: median of ${rounds} ` +
      `interleaved round(s); ratio = multirank busbw / other busbw (> 1: multirank faster)`,
    `# ${''.padStart(10)}  ${titles.join(' ').trimEnd()}`,
    `# ${'size'.padStart(10)}  ${groups.map(([, names]) => names.map((n) => n.padStart(w)).join(' ')).join('  ')}`,
  ];
  for (const row of rows) {
    const spread = Math.max(...Object.values(row.impls).map((c) => c!.spreadPct));
    const cells = [
      impls.map((i) => cell(row.impls[i]?.timeUs, w)),
      [...impls.map((i) => cell(row.impls[i]?.busBw, w)), cell(row.ceilingBusBw, w)],
      others(impls).map((i) => cell(ratio(row, i), w)), [spread.toFixed(0).padStart(w)],
    ];
    lines.push(`${String(row.size).padStart(12)}  ${cells.map((c) => c.join(' ')).join('  ')}`);
  }
  return lines;
}

/** The same group as a Markdown table. */
export function compareMarkdown(rows: readonly CompareRow[], impls: readonly Impl[]): string[] {
  const fmt = (v: number | null | undefined, digits = 2): string => (
    v === null || v === undefined ? 'n/a' : v.toFixed(digits)
  );
  const header = [
    'size (B)', ...impls.map((i) => `${i} µs`), ...impls.map((i) => `${i} GB/s`), 'floor GB/s',
    ...others(impls).map((i) => `mr/${i}`), 'spread %',
  ];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---:').join('|')}|`];
  for (const row of rows) {
    const spread = Math.max(...Object.values(row.impls).map((c) => c!.spreadPct));
    lines.push(`| ${[String(row.size), ...impls.map((i) => fmt(row.impls[i]?.timeUs, 1)),
      ...impls.map((i) => fmt(row.impls[i]?.busBw, 3)), fmt(row.ceilingBusBw, 2),
      ...others(impls).map((i) => fmt(ratio(row, i), 2)), spread.toFixed(0)].join(' | ')} |`);
  }
  return lines;
}
