/**
 * The comparison's plot as SVG, generated from the aggregated rows (never drawn by hand): busbw against
 * size on log-log axes, one panel per rank count, one line per implementation, and multirank's memory
 * floor as a dashed line. Pure string building, no dependencies.
 */
import type { CompareRow } from './aggregate.js';
import type { Impl } from './impls.js';

const LEGEND_ITEM_W = 200;
const PANEL_W = 420, PANEL_H = 300, MARGIN = { left: 58, right: 16, top: 34, bottom: 44 };
const COLORS: Record<Impl | 'ceiling', string> = {
  multirank: '#d62728', mpi: '#1f77b4', 'mpi-yield': '#17becf', 'mpi-spin': '#9467bd', gloo: '#2ca02c',
  ceiling: '#555555',
};

const escape = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function sizeLabel(bytes: number): string {
  if (bytes >= 1 << 30) return `${bytes / (1 << 30)}G`;
  if (bytes >= 1 << 20) return `${bytes / (1 << 20)}M`;
  if (bytes >= 1 << 10) return `${bytes / (1 << 10)}K`;
  return String(bytes);
}

interface Series {
  readonly name: Impl | 'ceiling';
  readonly points: ReadonlyArray<readonly [number, number]>;
}

function seriesOf(rows: readonly CompareRow[], impls: readonly Impl[]): Series[] {
  const positive = (pts: Array<[number, number | null | undefined]>): Array<[number, number]> =>
    pts.filter((p): p is [number, number] => typeof p[1] === 'number' && p[1] > 0 && p[0] > 0);
  return [
    ...impls.map((impl) => ({ name: impl, points: positive(rows.map((r) => [r.size, r.impls[impl]?.busBw])) })),
    { name: 'ceiling' as const, points: positive(rows.map((r) => [r.size, r.ceilingBusBw])) },
  ].filter((s) => s.points.length > 0);
}

function panel(rows: readonly CompareRow[], impls: readonly Impl[], x0: number, title: string): string {
  const series = seriesOf(rows, impls);
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) return '';
  const [xMin, xMax] = [Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0]))];
  const yLo = Math.floor(Math.log10(Math.min(...all.map((p) => p[1])))),
    yHi = Math.ceil(Math.log10(Math.max(...all.map((p) => p[1]))));
  const w = PANEL_W - MARGIN.left - MARGIN.right, h = PANEL_H - MARGIN.top - MARGIN.bottom;
  const lx = (v: number): number => x0 + MARGIN.left + (
    xMax === xMin ? w / 2 : ((Math.log2(v) - Math.log2(xMin)) / (Math.log2(xMax) - Math.log2(xMin))) * w
  );
  const ly = (v: number): number => MARGIN.top + h - ((Math.log10(v) - yLo) / Math.max(1, yHi - yLo)) * h;
  const parts = [`<text x="${x0 + PANEL_W / 2}" y="20" text-anchor="middle" font-weight="bold">${escape(title)}</text>`,
    `<rect x="${x0 + MARGIN.left}" y="${MARGIN.top}" width="${w}" height="${h}" fill="none" stroke="#999"/>`];
  for (let e = yLo; e <= yHi; e++) {
    const y = ly(10 ** e).toFixed(1);
    parts.push(`<line x1="${x0 + MARGIN.left}" x2="${x0 + MARGIN.left + w}" y1="${y}" y2="${y}" stroke="#e5e5e5"/>`,
      `<text x="${x0 + MARGIN.left - 6}" y="${y}" text-anchor="end" ` +
        `dominant-baseline="middle">${e >= -2 ? Number((10 ** e).toFixed(2)) : `1e${e}`}</text>`);
  }
  const ticks = [...new Set(rows.map((r) => r.size).filter((s) => s > 0))];
  const step = Math.max(1, Math.ceil(ticks.length / 7));
  ticks.filter((_, i) => i % step === 0).forEach(
    (s) => parts.push(
      `<text x="${lx(s).toFixed(1)}" y="${MARGIN.top + h + 16}" text-anchor="middle">${sizeLabel(s)}</text>`,
    ),
  );
  parts.push(`<text x="${x0 + MARGIN.left + w / 2}" y="${PANEL_H - 6}" text-anchor="middle">size (bytes)</text>`,
    `<text transform="translate(${x0 + 14},${MARGIN.top + h / 2}) rotate(-90)" ` +
      `text-anchor="middle">busbw (GB/s)</text>`);
  for (const s of series) {
    const d = s.points.map((p, i) => `${i === 0 ? 'M' : 'L'}${lx(p[0]).toFixed(1)},${ly(p[1]).toFixed(1)}`).join(' ');
    parts.push(
      `<path d="${d}" fill="none" stroke="${COLORS[s.name]}" ` +
        `stroke-width="2"${s.name === 'ceiling' ? ' stroke-dasharray="6 4"' : ''}/>`,
    );
    if (s.name !== 'ceiling') {
      s.points.forEach(
        (p) => parts.push(
          `<circle cx="${lx(p[0]).toFixed(1)}" cy="${ly(p[1]).toFixed(1)}" r="2.5" fill="${COLORS[s.name]}"/>`,
        ),
      );
    }
  }
  return parts.join('\n');
}

/** The whole figure: one panel per rank count of `op`, a shared legend, and a caption line. */
export function renderPlot(rows: readonly CompareRow[], impls: readonly Impl[], op: string, caption: string): string {
  const rankCounts = [...new Set(rows.filter((r) => r.op === op).map((r) => r.ranks))].sort((a, b) => a - b);
  const width = PANEL_W * Math.max(1, rankCounts.length);
  const perLine = Math.max(1, Math.floor((width - 20) / LEGEND_ITEM_W));
  const legendLines = Math.ceil((impls.length + 1) / perLine);
  const height = PANEL_H + 36 + 20 * legendLines;
  const panels = rankCounts.map(
    (n, i) => panel(rows.filter((r) => r.op === op && r.ranks === n), impls, i * PANEL_W, `${op}, ${n} ranks`),
  );
  const legend = [...impls, 'ceiling' as const].map((name, i) => {
    const x = 20 + (i % perLine) * LEGEND_ITEM_W, y = PANEL_H + 22 + 20 * Math.floor(i / perLine);
    const label = name === 'ceiling' ? 'memory floor (multirank --ceiling)' : name;
    return `<line x1="${x}" x2="${x + 24}" y1="${y}" y2="${y}" stroke="${COLORS[name]}" ` +
      `stroke-width="2"${name === 'ceiling' ? ' stroke-dasharray="6 4"' : ''}/>` +
      `<text x="${x + 30}" y="${y}" dominant-baseline="middle">${escape(label)}</text>`;
  });
  return [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ` +
      `${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="white"/>`, ...panels, ...legend,
    `<text x="20" y="${height - 8}" fill="#555">${escape(caption)}</text>`, '</svg>', ''].join('\n');
}
