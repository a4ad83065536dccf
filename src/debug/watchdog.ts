/**
 * The driver's deadlock watchdog. Every POLL_MS it reads each rank's status record (shared memory, so
 * stuck ranks need not answer). When every live rank is BLOCKED (a rank that returned from its entry is
 * not live, unless the driver has a call on its way to it) and no record changed for QUIET_POLLS polls,
 * no rank can progress: the watchdog ends the job with a report of each rank's pending call, what it
 * waits for, and its call site.
 */
import type { JobView } from './job-view.js';
import { groupLabel, RankState, resultWaitText, type RankRecord, type RankSnapshot } from './rank-status.js';

export const POLL_MS = 100;
export const QUIET_POLLS = 3;

/**
 * One line per rank, e.g. `rank 1: blocked in allReduce (call #3) of group tp [0, 1], waiting for rank 0 to
 * arrive; at f.js:3:9`, or for a wait told by its text (a queue), `rank 1: blocked in <its text>; at ...`.
 * `waited` goes after "blocked" (` for 12 s`).
 */
export function describeRank(control: JobView, s: RankSnapshot, waited = ''): string {
  if (s.state === 'RETURNED') {
    return `rank ${s.rank}: returned from its entry function (it will not join any further call)`;
  }
  if (s.state === 'FAILED') return `rank ${s.rank}: failed`;
  if (s.state === 'RUNNING') {
    return `rank ${s.rank}: running (in no multirank wait: computing, or awaiting something else)`;
  }
  const site = s.callSite === '' ? '' : `; at ${s.callSite}`;
  const blocked = `rank ${s.rank}: blocked${waited} in`;
  if (s.op === undefined && s.waitText !== '') return `${blocked} ${s.waitText}${site}`;
  if (s.op === 'send' || s.op === 'recv') {
    const what = s.op === 'send' ? `send to rank ${s.peer} (its mailbox is full)` : `recv from rank ${s.peer}`;
    return `${blocked} ${what}${site}`;
  }
  // A wait for a result: it comes from the group's first member, once every member arrived.
  const result = s.phase === 'result';
  const { ranks, missing } = control.groupWait(s.groupOffset, s.seq, result ? 'arrive' : slotPhase(s));
  const group = groupLabel(s.groupName, ranks);
  const call = `${blocked} ${s.op ?? 'a collective'} (call #${s.seq}) of group ${group}`;
  if (result) return `${call}, ${resultWaitText(`rank ${ranks[0]}`, missing.map((r) => `rank ${r}`))}${site}`;
  const verb = slotPhase(s) === 'arrive' ? 'to arrive' : 'to finish reading its buffers';
  return `${call}, waiting for rank${missing.length === 1 ? '' : 's'} ${missing.join(', ')} ${verb}${site}`;
}

/** The ranks a blocked rank waits for, where its record says (a wait told by its text says it in words). */
export function waitedFor(control: JobView, s: RankSnapshot): number[] {
  if (s.state !== 'BLOCKED' || (s.op === undefined && s.waitText !== '')) return [];
  if (s.op === 'send' || s.op === 'recv') return s.peer >= 0 ? [s.peer] : [];
  return control.groupWait(s.groupOffset, s.seq, slotPhase(s)).missing;
}

/**
 * Which slot word of the group's members a blocked rank's phase waits on: the finish word also for a
 * wait for a member's result (the member that gives it sets its finish word then; the waiters set theirs
 * before they wait), else the arrival word.
 */
function slotPhase(s: RankSnapshot): 'arrive' | 'finish' {
  return s.phase === 'finish' || s.phase === 'result' ? 'finish' : 'arrive';
}

export class Watchdog {
  readonly #control: JobView;
  /** Every rank's record, made once (the poll reads two words of each). */
  readonly #records: RankRecord[];
  #timer: NodeJS.Timeout | undefined;
  #lastKey = '';
  #quiet = 0;

  /** Whether the driver has a call on its way to a rank (its record may not show it yet). */
  readonly #called: (rank: number) => boolean;
  readonly #firstRank: number;

  /**
   * `called(rank)`: whether the driver has an RPC on its way to `rank`, which makes a rank that returned
   * from its entry live again: it will read the call (a rank waiting for the driver to stream a large
   * call is blocked only as long as the ranks the driver waits for are).
   */
  constructor(control: JobView, worldSize: number, called: (rank: number) => boolean = () => false, firstRank = 0) {
    this.#control = control;
    // In a job of several processes, this process watches its own block of world ranks.
    this.#records = Array.from({ length: worldSize }, (_, r) => control.record(firstRank + r));
    this.#firstRank = firstRank;
    this.#called = called;
  }

  /** A collective wait whose group has every member past the call: the rank is about to run. */
  #released(s: RankSnapshot): boolean {
    if (s.state !== 'BLOCKED' || s.op === undefined || s.op === 'send' || s.op === 'recv') return false;
    const { ranks, missing } = this.#control.groupWait(s.groupOffset, s.seq, slotPhase(s));
    return ranks.length > 0 && missing.length === 0;
  }

  start(): void {
    this.#timer ??= setInterval(() => this.poll(), POLL_MS).unref();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Every rank's snapshot, in rank order. */
  snapshots(): RankSnapshot[] {
    return this.#records.map((record) => record.snapshot());
  }

  /** One poll; returns the deadlock report when it found one (and ended the job with it). */
  poll(): string | undefined {
    if (this.#control.abortValue !== 0) return undefined;
    // Two words per rank while nothing is wrong; full snapshots only for a report.
    let live = 0, blocked = 0, key = '';
    for (const record of this.#records) {
      let state = record.state;
      // A failed rank records its failure (the abort that releases every wait) as it fails: its peers wait
      // for that, not in a deadlock, however long a loaded machine takes to run the thread that records it.
      if (state === RankState.FAILED) {
        this.#quiet = 0;
        return undefined;
      }
      if (state === RankState.RETURNED && this.#called(record.rank - this.#firstRank)) state = RankState.RUNNING;
      if (state === RankState.RUNNING || state === RankState.BLOCKED) live++;
      if (state === RankState.BLOCKED) blocked++;
      key += `${state}:${record.progress},`;
    }
    const stuck = live > 0 && blocked === live;
    this.#quiet = stuck && key === this.#lastKey ? this.#quiet + 1 : 0;
    this.#lastKey = key;
    if (this.#quiet < QUIET_POLLS) return undefined;
    const all = this.snapshots();
    // A rank can be released (every member arrived) and still wait for a core to run on: on a busy
    // machine that takes longer than the quiet polls. It will progress, so this is no deadlock yet.
    if (all.some((s) => this.#released(s))) {
      this.#quiet = 0;
      return undefined;
    }
    const report = 'Deadlock: every live rank of the job is blocked and none can progress:\n' +
      `${all.map((s) => `  ${describeRank(this.#control, s)}`).join('\n')}`;
    this.#control.failDeadlock(report);
    this.stop();
    return report;
  }
}
