/**
 * "Still waiting" lines, as NCCL's watchdog prints them: a rank blocked in a wait for longer than a
 * threshold is reported on the driver's stderr, and again at an interval while the wait lasts, with the
 * call it waits in (op, call number, group by name), the ranks it waits for and how long it has waited,
 * and what those ranks are doing (running: computing or awaiting something outside multirank). Without
 * them a rank stuck on a promise showed no sign for the whole deadline (300 s by default).
 *
 * The driver reads every rank's status record (shared memory): a stuck rank need not answer, and an idle
 * rank costs nothing. MULTIRANK_QUIET=1 turns the lines off, as the failure summary.
 */
import { outOfRange } from '../errors.js';
import type { JobView } from './job-view.js';
import { RankState, type RankRecord, type RankSnapshot } from './rank-status.js';
import { describeRank, waitedFor } from './watchdog.js';

/** `FIRST` or `FIRST,EVERY` (ms): when a wait is first reported, then how often; `0` turns the lines off. */
export const STILL_WAITING_ENV = 'MULTIRANK_STILL_WAITING_MS';
export const STILL_WAITING_FIRST_MS = 10_000;
export const STILL_WAITING_EVERY_MS = 30_000;

export interface StillWaitingTimes {
  /** How long a wait lasts before its first line. */
  readonly firstMs: number;
  /** How often its line comes again while it lasts. */
  readonly everyMs: number;
}

/**
 * The thresholds from STILL_WAITING_ENV (the defaults when unset); `undefined` when it is `0` (off).
 * @throws RangeError (ERR_MULTIRANK_OUT_OF_RANGE) on a value that is not one or two positive integers.
 */
export function stillWaitingFromEnv(env: NodeJS.ProcessEnv = process.env): StillWaitingTimes | undefined {
  const raw = env[STILL_WAITING_ENV]?.trim();
  if (raw === undefined || raw === '') return { firstMs: STILL_WAITING_FIRST_MS, everyMs: STILL_WAITING_EVERY_MS };
  if (raw === '0') return undefined;
  const parts = raw.split(',').map((part) => Number(part.trim()));
  if (parts.length > 2 || !parts.every((ms) => Number.isSafeInteger(ms) && ms > 0)) {
    throw outOfRange(`Expected ${STILL_WAITING_ENV} to be FIRST or FIRST,EVERY in milliseconds (positive integers; ` +
      `0 turns the lines off), got ${JSON.stringify(env[STILL_WAITING_ENV])} (string)`);
  }
  return { firstMs: parts[0]!, everyMs: parts[1] ?? parts[0]! * 3 };
}

/** `12 s`, `1.5 s`, `3 min 20 s`. */
export function formatWait(ms: number): string {
  const s = Math.max(0, ms) / 1000;
  if (s < 10) return `${Number(s.toFixed(1))} s`;
  if (s < 120) return `${Math.round(s)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

export class StillWaitingReporter {
  readonly #control: JobView;
  readonly #records: RankRecord[];
  readonly #firstRank: number;
  readonly #times: StillWaitingTimes;
  readonly #write: (text: string) => void;
  /** Per rank, the wait being timed (its progress count) and when its next line is due; none when not blocked. */
  readonly #due: ({ progress: number; atMs: number } | undefined)[];
  #timer: NodeJS.Timeout | undefined;

  /**
   * Reports the ranks `firstRank` .. `firstRank + worldSize - 1` of `control` (this process's block of a job
   * of several processes; the whole job otherwise).
   */
  constructor(
    control: JobView, worldSize: number, times: StillWaitingTimes, write: (text: string) => void, firstRank = 0,
  ) {
    this.#control = control;
    this.#firstRank = firstRank;
    this.#records = Array.from({ length: worldSize }, (_, r) => control.record(firstRank + r));
    this.#times = times;
    this.#write = write;
    this.#due = this.#records.map(() => undefined);
  }

  /** Polls often enough to be on time within a quarter of the first threshold (at most once a second). */
  start(): void {
    const ms = Math.min(1000, Math.max(25, Math.floor(this.#times.firstMs / 4)));
    this.#timer ??= setInterval(() => this.poll(), ms).unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One poll at `nowMs` (Date.now()); returns the text it wrote, if any was due. */
  poll(nowMs = Date.now()): string | undefined {
    if (this.#control.abortValue !== 0) return undefined; // failed or closed: its own report says where ranks were
    const due: RankSnapshot[] = [];
    this.#records.forEach((record, rank) => {
      if (record.state !== RankState.BLOCKED) return void (this.#due[rank] = undefined);
      const progress = record.progress;
      let wait = this.#due[rank];
      if (wait?.progress !== progress) {
        wait = this.#due[rank] = { progress, atMs: record.blockedSinceMs + this.#times.firstMs };
      }
      if (nowMs < wait.atMs) return;
      while (wait.atMs <= nowMs) wait.atMs += this.#times.everyMs;
      due.push(record.snapshot());
    });
    if (due.length === 0) return undefined;
    const text = this.#report(due, nowMs);
    this.#write(text);
    return text;
  }

  /** The due waits, then what each rank they wait for is doing (unless it is one of them). */
  #report(due: RankSnapshot[], nowMs: number): string {
    const lines = due.map((s) => `  ${describeRank(this.#control, s, ` for ${formatWait(nowMs - s.blockedSinceMs)}`)}`);
    const shown = new Set(due.map((s) => s.rank));
    const awaited = [...new Set(due.flatMap((s) => waitedFor(this.#control, s)))].sort((a, b) => a - b);
    for (const rank of awaited) {
      const local = this.#records[rank - this.#firstRank];
      if (shown.has(rank) || local === undefined) continue; // a rank of another process: its own reporter
      const s = local.snapshot();
      const waited = s.state === 'BLOCKED' ? ` for ${formatWait(nowMs - s.blockedSinceMs)}` : '';
      lines.push(`  ${describeRank(this.#control, s, waited)}`);
    }
    return `multirank: still waiting (${STILL_WAITING_ENV} sets when this shows):\n${lines.join('\n')}\n`;
  }
}
