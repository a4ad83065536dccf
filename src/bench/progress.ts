/**
 * A one-line progress bar for long runs, on stderr: drawn only once a run has lasted `delayMs` (short
 * runs never show it), redrawn at most every `intervalMs`, and cleared before each table line so that
 * stdout stays clean when both go to a terminal.
 */

/** Runs shorter than this never show a bar. */
export const PROGRESS_DELAY_MS = 1000;
/** Shortest time between two redraws. */
export const PROGRESS_INTERVAL_MS = 100;
const BAR_WIDTH = 24;

/** Where and when a ProgressBar draws. */
export interface ProgressOptions {
  readonly total: number;
  /** Writes raw text (no newline added), e.g. `(s) => process.stderr.write(s)`. */
  readonly write: (text: string) => void;
  readonly enabled: boolean;
  readonly delayMs?: number;
  readonly intervalMs?: number;
  /** Clock in ms (tests pass a fake one). */
  readonly now?: () => number;
}

/** The bar's text for `done` of `total` after `elapsedMs`. */
export function renderProgress(done: number, total: number, elapsedMs: number, label: string): string {
  const fraction = total > 0 ? Math.min(1, done / total) : 1;
  const filled = Math.round(fraction * BAR_WIDTH);
  const left = done > 0 ? (elapsedMs / done) * (total - done) : Number.NaN;
  const eta = Number.isFinite(left) ? `, ~${(left / 1000).toFixed(left < 10_000 ? 1 : 0)} s left` : '';
  return `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${done}/${total} rows ` +
    `${(fraction * 100).toFixed(0)}% (${(elapsedMs / 1000).toFixed(1)} s${eta}) ${label}`;
}

/** The bar of one run (see the file comment). */
export class ProgressBar {
  readonly #options: ProgressOptions;
  readonly #now: () => number;
  readonly #start: number;
  #drawnAt = Number.NEGATIVE_INFINITY;
  #visible = '';
  #last = { done: 0, label: '' };

  constructor(options: ProgressOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
    this.#start = this.#now();
  }

  /** Records progress; draws when enabled, past the delay, and not drawn within the interval. */
  update(done: number, label: string): void {
    this.#last = { done, label };
    const now = this.#now();
    if (!this.#options.enabled || now - this.#start < (this.#options.delayMs ?? PROGRESS_DELAY_MS)) return;
    if (now - this.#drawnAt < (this.#options.intervalMs ?? PROGRESS_INTERVAL_MS) && this.#visible !== '') return;
    this.#draw(now);
  }

  /** Removes the bar from the line (before other output); `update` or `redraw` brings it back. */
  clear(): void {
    if (this.#visible === '') return;
    this.#options.write(`\r${' '.repeat(this.#visible.length)}\r`);
    this.#visible = '';
  }

  /** Draws the last state again if the bar had been shown before. */
  redraw(): void {
    if (this.#drawnAt > Number.NEGATIVE_INFINITY && this.#visible === '') this.#draw(this.#now());
  }

  #draw(now: number): void {
    const text = renderProgress(this.#last.done, this.#options.total, now - this.#start, this.#last.label);
    this.#options.write(`\r${text}${' '.repeat(Math.max(0, this.#visible.length - text.length))}`);
    this.#visible = text;
    this.#drawnAt = now;
  }
}
