/**
 * Plain-text rendering of a plan: for each kind its groups, then a grid of every rank's coordinates
 * (`r5  tp=1 cp=0 dp=1 pp=0`).
 */
import { describeGroups, toLayoutView } from './layout-view.js';
import type { LayoutView, TopologyPlan } from './layout-view.js';

/** Width the text is wrapped to. */
const TEXT_WIDTH_CHARS = 100;

function wrap(items: readonly string[], indent: string, sep: string): string[] {
  const lines: string[] = [];
  let line = '';
  for (const item of items) {
    const next = line === '' ? item : `${line}${sep}${item}`;
    if (line !== '' && indent.length + next.length > TEXT_WIDTH_CHARS) {
      lines.push(indent + line);
      line = item;
    } else {
      line = next;
    }
  }
  if (line !== '') lines.push(indent + line);
  return lines;
}

/** The coordinate grid: one cell per rank, as many cells per row as fit the width. */
export function renderCoordinateGrid(view: LayoutView): string[] {
  const cells: string[] = [];
  const rankWidth = String(view.rankCount - 1).length + 1;
  for (let r = 0; r < view.rankCount; r++) {
    const c = view.coordinates(r);
    const label = `r${r}`.padEnd(rankWidth);
    cells.push(c === null ? `${label}  (no groups)` : `${label}  ${view.axes.map((a, k) => `${a}=${c[k]}`).join(' ')}`);
  }
  const width = Math.max(...cells.map((c) => c.length));
  const perRow = Math.max(1, Math.floor((TEXT_WIDTH_CHARS - 2) / (width + 3)));
  const lines: string[] = [];
  for (let i = 0; i < cells.length; i += perRow) {
    lines.push(`  ${cells.slice(i, i + perRow).map((c) => c.padEnd(width)).join(' | ')}`.trimEnd());
  }
  return lines;
}

/** The whole text report of a plan. */
export function renderText(plan: TopologyPlan): string {
  const view = toLayoutView(plan);
  const lines = [view.title, ''];
  for (const panel of view.panels) {
    lines.push(`${panel.kind}: ${describeGroups(panel.groups)}`);
    lines.push(...wrap(panel.groups.map((g) => `[${g.join(', ')}]`), '  ', '  '));
  }
  lines.push('', `rank coordinates (${view.axes.join(', ')}: index in that group)`);
  lines.push(...renderCoordinateGrid(view));
  return `${lines.join('\n')}\n`;
}
