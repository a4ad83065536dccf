/**
 * SVG rendering of a plan: one panel per group kind, the ranks as boxes on the same grid in every
 * panel, each group of the kind in its own colour. A box shows the rank (large) and `g<group>.<member>`
 * (its group's index and its index in that group); hovering shows the group's members.
 *
 *   <svg>                                   width x height, monospace
 *     <text class="title">                  flavour and sizes
 *     <g class="panel" data-kind="tp">      one per kind (level kinds: one per level)
 *       <rect class="frame"/> <text class="panel-title"/>
 *       <g class="rank" data-rank="5" data-group="2">   one per rank 0 .. rankCount-1
 *         <title/> <rect/> <text/> <text/>
 */
import { describeGroups, toLayoutView } from './layout-view.js';
import type { LayoutPanel, TopologyPlan } from './layout-view.js';

/** Width of one rank's box, in px: wide enough for a 4-digit rank at 13 px. */
const BOX_WIDTH_PX = 50;
/** Height of one rank's box: the rank and the `g<group>.<index>` line. */
const BOX_HEIGHT_PX = 36;
/** Space between boxes. */
const BOX_GAP_PX = 4;
const PANEL_PAD_PX = 12;
const PANEL_TITLE_PX = 28;
const PANEL_GAP_PX = 16;
const HEADER_PX = 40;
/** Panels side by side before the next row. */
const PANELS_PER_ROW = 3;

/** Escapes text for an XML text node or attribute. */
export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** Fill of group `i`: hues spread by the golden angle so neighbouring groups differ. */
export function groupColour(i: number): string {
  return `hsl(${Math.round((i * 137.508) % 360)}, 62%, 72%)`;
}

/** Columns of the rank grid: 8 up to 64 ranks (an 8 x 8 board), then the ceiling of the square root. */
export function gridColumns(rankCount: number): number {
  return rankCount <= 64 ? Math.min(rankCount, 8) : Math.ceil(Math.sqrt(rankCount));
}

function panelSvg(panel: LayoutPanel, rankCount: number, x: number, y: number, width: number, height: number): string {
  const cols = gridColumns(rankCount);
  const where = new Map<number, [number, number]>();
  panel.groups.forEach((g, gi) => g.forEach((r, mi) => where.set(r, [gi, mi])));
  const out = [
    `<g class="panel" data-kind="${escapeXml(panel.kind)}" transform="translate(${x},${y})">`,
    `<rect class="frame" width="${width}" height="${height}" rx="6" fill="#fafafa" stroke="#bbb"/>`,
    `<text class="panel-title" x="${PANEL_PAD_PX}" y="19" font-size="14" font-weight="bold">${escapeXml(panel.kind)}` +
      `<tspan dx="10" font-weight="normal" fill="#555">${escapeXml(describeGroups(panel.groups))}</tspan></text>`,
  ];
  for (let r = 0; r < rankCount; r++) {
    const bx = PANEL_PAD_PX + (r % cols) * (BOX_WIDTH_PX + BOX_GAP_PX);
    const by = PANEL_TITLE_PX + Math.floor(r / cols) * (BOX_HEIGHT_PX + BOX_GAP_PX);
    const at = where.get(r);
    const members = at === undefined ? 'in no group' : `group ${at[0]}: [${panel.groups[at[0]]!.join(', ')}]`;
    out.push(
      `<g class="rank" data-rank="${r}" data-group="${at === undefined ? '' : at[0]}">`,
      `<title>${escapeXml(`${panel.kind}: rank ${r}, ${members}`)}</title>`,
      `<rect x="${bx}" y="${by}" width="${BOX_WIDTH_PX}" height="${BOX_HEIGHT_PX}" rx="3" ` +
        (
          at === undefined
            ? 'fill="#eeeeee" stroke="#999" stroke-dasharray="3 2"/>'
            : `fill="${groupColour(at[0])}" stroke="#444"/>`
        ),
      `<text x="${bx + BOX_WIDTH_PX / 2}" y="${by + 16}" text-anchor="middle" font-size="13" ` +
        `font-weight="bold">${r}</text>`,
      `<text x="${bx + BOX_WIDTH_PX / 2}" y="${by + 30}" text-anchor="middle" font-size="10" fill="#333">` +
        `${at === undefined ? '-' : `g${at[0]}.${at[1]}`}</text>`,
      '</g>',
    );
  }
  out.push('</g>');
  return out.join('\n');
}

/** The SVG document of a plan. */
export function renderSvg(plan: TopologyPlan): string {
  const view = toLayoutView(plan);
  const cols = gridColumns(view.rankCount);
  const rows = Math.ceil(view.rankCount / cols);
  const panelW = 2 * PANEL_PAD_PX + cols * BOX_WIDTH_PX + (cols - 1) * BOX_GAP_PX;
  const panelH = PANEL_TITLE_PX + rows * BOX_HEIGHT_PX + (rows - 1) * BOX_GAP_PX + PANEL_PAD_PX;
  const perRow = Math.min(PANELS_PER_ROW, view.panels.length);
  const panelRows = Math.ceil(view.panels.length / perRow);
  const width = Math.max(PANEL_GAP_PX * 2 + perRow * panelW + (perRow - 1) * PANEL_GAP_PX, 640);
  const height = HEADER_PX + panelRows * panelH + (panelRows - 1) * PANEL_GAP_PX + PANEL_GAP_PX;
  const body = view.panels.map((p, i) =>
    panelSvg(
      p, view.rankCount, PANEL_GAP_PX + (i % perRow) * (panelW + PANEL_GAP_PX),
      HEADER_PX + Math.floor(i / perRow) * (panelH + PANEL_GAP_PX), panelW, panelH,
    ),
  );
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
      'font-family="ui-monospace, SFMono-Regular, Menlo, Consolas, monospace">',
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text class="title" x="${PANEL_GAP_PX}" y="26" font-size="16" font-weight="bold">${escapeXml(view.title)}</text>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}
