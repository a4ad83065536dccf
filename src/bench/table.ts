/**
 * nccl-tests' table, printed the same way (same columns, widths and number format), with an optional
 * block of ceiling columns at the right, and the CSV form of the same records.
 */
import type { BenchRecord, ModeResult } from './report.js';
import { averageBusBw, totalWrong } from './report.js';

/** nccl-tests' number format: as many decimals as fit in `width` (2, 1, 0), else exponent notation. */
export function formatFloat(value: number, width: number): string {
  if (!Number.isFinite(value)) return String(value).padStart(width);
  let power = 0;
  for (let v = 1; value >= v; v *= 10) power++;
  let text: string;
  if (power < width - 2) text = value.toFixed(2);
  else if (power < width - 1) text = value.toFixed(1);
  else if (power < width + 1) text = value.toFixed(0);
  else text = value.toExponential(width >= 7 ? 1 : 0).replace(/e([+-])(\d)$/, 'e$10$2');
  return text.padStart(width);
}

const PREFIX = ['size', 'count', 'type', 'redop', 'root'];
const PREFIX_WIDTHS = [10, 12, 8, 6, 6];
const MODE_WIDTHS = [7, 6, 6, 6];
const CEILING_WIDTHS = [6, 6, 5, 5];

function cells(values: readonly string[], widths: readonly number[]): string {
  return values.map((v, i) => `  ${v.padStart(widths[i]!)}`).join('');
}

/** The three header lines (with the ceiling block when `ceiling`). */
export function tableHeader(ceiling: boolean): string[] {
  const prefix = (values: string[]): string =>
    `# ${values[0]!.padStart(PREFIX_WIDTHS[0]!)}${cells(values.slice(1), PREFIX_WIDTHS.slice(1))}`;
  const mode = (values: string[]): string => cells(values, MODE_WIDTHS);
  const ceil = (values: string[]): string => (ceiling ? cells(values, CEILING_WIDTHS) : '');
  const blank = ['', '', '', '', ''];
  const titles = `${prefix(blank)}           out-of-place                       in-place          ` +
    `${ceiling ? '        memory floor' : ''}`;
  return [
    titles.trimEnd(),
    prefix(PREFIX) + mode(['time', 'algbw', 'busbw', '#wrong']) + mode(['time', 'algbw', 'busbw', '#wrong']) +
      ceil(['membw', 'busbw', '%oop', '%ip']),
    (prefix(['(B)', '(elements)', '', '', '']) + mode(['(us)', '(GB/s)', '(GB/s)', '']) +
      mode(['(us)', '(GB/s)', '(GB/s)', '']) + ceil(['(GB/s)', '(GB/s)', '', ''])).trimEnd(),
  ];
}

function modeCells(m: ModeResult | null): string {
  if (m === null) return cells(['N/A', 'N/A', 'N/A', 'N/A'], MODE_WIDTHS);
  return cells([
    formatFloat(m.timeUs, 7), formatFloat(m.algBw, 6), formatFloat(m.busBw, 6),
    m.nwrong === null ? 'N/A' : String(m.nwrong),
  ], MODE_WIDTHS);
}

/** One table line for `record`. */
export function tableRow(record: BenchRecord, ceiling: boolean): string {
  const head = `${String(record.size).padStart(12)}` +
    `${cells([String(record.count), record.type, record.redop, String(record.root)], PREFIX_WIDTHS.slice(1))}`;
  let line = head + modeCells(record.outOfPlace) + modeCells(record.inPlace);
  if (ceiling) {
    const c = record.ceiling;
    const pct = (v: number | null | undefined): string => (v === null || v === undefined ? 'N/A' : v.toFixed(0));
    line += c === null ? cells(['N/A', 'N/A', 'N/A', 'N/A'], CEILING_WIDTHS)
      : cells([formatFloat(c.memBw, 6), formatFloat(c.busBw, 6), pct(c.outOfPlacePct), pct(c.inPlacePct)],
        CEILING_WIDTHS);
  }
  return line;
}

/** nccl-tests' footer: out-of-bounds count (FAILED when any) and the average busbw. */
export function tableFooter(records: readonly BenchRecord[]): string[] {
  const wrong = totalWrong(records);
  return [
    `# ${'Out of bounds values'.padEnd(20)} : ${wrong} ${wrong > 0 ? 'FAILED' : 'OK'}`,
    `# ${'Avg bus bandwidth'.padEnd(20)} : ${Number(averageBusBw(records).toPrecision(6))} `.trimEnd(),
    '#',
  ];
}

const CSV_COLUMNS = [
  'op', 'ranks', 'size', 'count', 'type', 'redop', 'root',
  'oop_time_us', 'oop_algbw', 'oop_busbw', 'oop_nwrong', 'oop_time_min_us', 'oop_time_max_us', 'oop_time_p99_us',
  'ip_time_us', 'ip_algbw', 'ip_busbw', 'ip_nwrong', 'ip_time_min_us', 'ip_time_max_us', 'ip_time_p99_us',
  'mem_bw', 'copy_bw', 'reduce_bw', 'floor_us', 'ceil_busbw', 'oop_pct_ceil', 'ip_pct_ceil',
] as const;

function modeCsv(m: ModeResult | null): (number | string)[] {
  return m === null
    ? ['', '', '', '', '', '', '']
    : [m.timeUs, m.algBw, m.busBw, m.nwrong ?? '', m.stats.min, m.stats.max, m.stats.p99];
}

/** The records as CSV (header line first; empty cells where nccl-tests prints N/A). */
export function toCsv(records: readonly BenchRecord[]): string {
  const lines = records.map((r) => {
    const c = r.ceiling;
    const ceil = c === null
      ? ['', '', '', '', '', '', '']
      : [c.memBw, c.copyBw, c.reduceBw, c.floorUs, c.busBw, c.outOfPlacePct ?? '', c.inPlacePct ?? ''];
    return [
      r.op, r.ranks, r.size, r.count, r.type, r.redop, r.root, ...modeCsv(r.outOfPlace), ...modeCsv(r.inPlace), ...ceil,
    ].join(',');
  });
  return [CSV_COLUMNS.join(','), ...lines].join('\n') + '\n';
}
