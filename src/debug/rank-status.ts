/**
 * Per-rank status and flight recorder, in shared memory so that the driver can read them while ranks are
 * stuck (a watchdog cannot ask a blocked thread anything).
 *
 *   One record per rank, RECORD_BYTES apart, starting at the region's offset:
 *   | status words (Int32, STATUS_WORDS) | call site (utf8, SITE_BYTES) | mismatch call site (SITE_BYTES) |
 *   | flight ring (RING_ENTRIES) | wait text (utf8, TEXT_BYTES) | group name (utf8, NAME_BYTES) |
 *   status: [0] state (RankState)  [1] progress (bumped when a marked wait ends)  [2] op (OPS index, -1 for
 *           a wait told by its text)  [3] group block offset (0: none)  [4] call seq  [5] phase (PHASES
 *           index)  [6] peer (world rank or -1)  [7] call-site length  [8] ring head (entries written)
 *           [9] the state before the mark (restored when the wait ends: a rank that returned from its
 *           entry and waits in an RPC is RETURNED again afterwards)
 *           [10..11] the rank thread's performance.timeOrigin (Float64; entries store performance.now())
 *           [12] wait-text length  [13] group-name length
 *           [14..15] when the current mark began (Float64, Date.now(): the driver compares it with its own clock)
 *   ring entry e (ENTRY_WORDS Int32 + a Float64 start time): [0] seq  [1] op  [2] group block offset
 *           [3] dtype code  [4] numel  [5] state (ENTRY_STATES index)  [6..7] start, ms since the origin (Float64)
 *
 * A rank writes only its own record. A wait marks the rank BLOCKED only after it has waited STALL_MS
 * (waitFor's onStall), so the fast path pays nothing; the mark is cleared (and progress bumped) when the
 * wait ends. The watchdog reads with Atomics loads; a torn call-site string only garbles a message.
 */
import { ownCodeDirs } from '../package-files.js';

/** The flight recorder's clock, kept here: a worker's global `performance` costs a lookup on every call. */
const clock = performance;
const STATUS_WORDS = 16;
const SITE_BYTES = 1024;
const ENTRY_WORDS = 8;
/** Collectives each rank's flight recorder keeps. */
export const RING_ENTRIES = 128;
const RING_BYTES = RING_ENTRIES * ENTRY_WORDS * 4;
/** A wait told by its text (a queue wait: the call, the group, what it waits for) and a group's name. */
const TEXT_BYTES = 512, NAME_BYTES = 64;
export const RECORD_BYTES = STATUS_WORDS * 4 + 2 * SITE_BYTES + RING_BYTES + TEXT_BYTES + NAME_BYTES;
/** How long a wait runs before it marks its rank BLOCKED (and records its call site). */
export const STALL_MS = 50;

export const RankState = { RUNNING: 0, BLOCKED: 1, RETURNED: 2, FAILED: 3 } as const;
/**
 * Every call the records and fingerprints name, by index: the collectives, point to point, group creation,
 * then the object-plane calls whose members agree on the call before they use the group's queue.
 */
export const OPS = [
  'allReduce', 'allGather', 'reduceScatter', 'gather', 'broadcast', 'reduce', 'allToAll', 'barrier', 'send', 'recv',
  'createGroup',
  'broadcastObject', 'broadcastTensorDict', 'scatter', 'allReduceCoalesced', 'allGatherCoalesced', 'scatterObjectList',
] as const;
export type OpName = (typeof OPS)[number];
export const PHASES = ['arrive', 'finish', 'send', 'recv', 'create', 'result'] as const;
export type Phase = (typeof PHASES)[number];
export const ENTRY_STATES = ['started', 'completed', 'failed'] as const;

const S_STATE = 0, S_PROGRESS = 1, S_OP = 2, S_GROUP = 3, S_SEQ = 4, S_PHASE = 5, S_PEER = 6, S_SITE_LEN = 7,
  S_HEAD = 8;
const S_BEFORE = 9, S_TEXT_LEN = 12, S_NAME_LEN = 13;
/** Byte offset in the status words of the time the current mark began (a Float64). */
const BLOCKED_SINCE_BYTE = 56;

/** What the watchdog and the dumps read about one rank. */
export interface RankSnapshot {
  rank: number;
  state: keyof typeof RankState;
  progress: number;
  op: OpName | undefined;
  groupOffset: number;
  seq: number;
  phase: Phase | undefined;
  peer: number;
  callSite: string;
  /** What a wait told by its text waits for ('' for a collective or point-to-point wait). */
  waitText: string;
  /** The name of the group of a blocked collective ('' when it has none). */
  groupName: string;
  /** When the rank's current mark began (Date.now()); meaningful while it is BLOCKED. */
  blockedSinceMs: number;
}

export interface FlightEntry {
  seq: number;
  op: OpName;
  groupOffset: number;
  dtypeCode: number;
  numel: number;
  state: (typeof ENTRY_STATES)[number];
  startMs: number;
}

/** One rank's view of its own record (writer) or the driver's view of any record (reader). */
export class RankRecord {
  readonly rank: number;
  readonly #words: Int32Array;
  readonly #site: Uint8Array;
  /** Written only for a mismatch report, so a peer's later blocked wait cannot overwrite it mid-report. */
  readonly #mismatchSite: Uint8Array;
  readonly #ring: Int32Array;
  readonly #times: Float64Array;
  readonly #text: Uint8Array;
  readonly #name: Uint8Array;
  /** When the current mark began (Date.now()). */
  readonly #blockedSince: Float64Array;

  constructor(buffer: ArrayBufferLike, regionOffset: number, rank: number) {
    const base = regionOffset + rank * RECORD_BYTES;
    this.rank = rank;
    this.#words = new Int32Array(buffer, base, STATUS_WORDS);
    this.#site = new Uint8Array(buffer, base + STATUS_WORDS * 4, SITE_BYTES);
    this.#mismatchSite = new Uint8Array(buffer, base + STATUS_WORDS * 4 + SITE_BYTES, SITE_BYTES);
    const ringOffset = base + STATUS_WORDS * 4 + 2 * SITE_BYTES;
    this.#ring = new Int32Array(buffer, ringOffset, RING_ENTRIES * ENTRY_WORDS);
    this.#times = new Float64Array(buffer, ringOffset, (RING_ENTRIES * ENTRY_WORDS) / 2);
    this.#text = new Uint8Array(buffer, ringOffset + RING_BYTES, TEXT_BYTES);
    this.#name = new Uint8Array(buffer, ringOffset + RING_BYTES + TEXT_BYTES, NAME_BYTES);
    this.#blockedSince = new Float64Array(buffer, base + BLOCKED_SINCE_BYTE, 1);
  }

  /** Stores this thread's time origin (entries hold times relative to it: performance.now() only). */
  setTimeOrigin(): void {
    new Float64Array(this.#words.buffer, this.#words.byteOffset + 40, 1)[0] = performance.timeOrigin;
  }

  setState(state: number): void {
    Atomics.store(this.#words, S_STATE, state);
    Atomics.add(this.#words, S_PROGRESS, 1);
  }

  /** Records the user's call site in the blocked-wait slot. */
  writeCallSite(): void {
    const site = Buffer.from(userCallSite(), 'utf8').subarray(0, SITE_BYTES);
    this.#site.set(site);
    Atomics.store(this.#words, S_SITE_LEN, site.length);
  }

  /** Records the user's call site for a mismatch report (its own slot; see the field). */
  writeMismatchSite(): void {
    const site = Buffer.from(userCallSite(), 'utf8').subarray(0, SITE_BYTES - 1);
    this.#mismatchSite.fill(0);
    this.#mismatchSite.set(site);
  }

  /** The call site of this rank's last mismatch report. */
  mismatchSite(): string {
    return nulTerminated(this.#mismatchSite);
  }

  /**
   * Marks this rank blocked in `op` (called from a wait's stall hook) and records the user's call site;
   * `groupName` tells apart groups with the same members in the watchdog's report.
   */
  markBlocked(op: OpName, phase: Phase, groupOffset: number, seq: number, peer: number, groupName = ''): void {
    const w = this.#words;
    w[S_OP] = OPS.indexOf(op);
    w[S_GROUP] = groupOffset | 0;
    w[S_SEQ] = seq;
    w[S_PHASE] = PHASES.indexOf(phase);
    w[S_PEER] = peer;
    w[S_TEXT_LEN] = 0;
    w[S_NAME_LEN] = writeText(this.#name, groupName);
    this.#block();
  }

  /**
   * Marks this rank blocked in a wait that `text` tells whole: the call, its group and what it waits for
   * (`broadcastObject from root 0 of group tp [0, 1]: reading message #3, waiting for rank 0 to write it`).
   */
  markBlockedOn(text: string): void {
    const w = this.#words;
    w[S_OP] = -1;
    w[S_GROUP] = 0;
    w[S_TEXT_LEN] = writeText(this.#text, text);
    this.#block();
  }

  #block(): void {
    this.writeCallSite();
    const w = this.#words;
    // Remember the state to restore, unless this rank is already marked (a wait inside a marked wait).
    const state = Atomics.load(w, S_STATE);
    if (state !== RankState.BLOCKED) {
      w[S_BEFORE] = state;
      this.#blockedSince[0] = Date.now(); // written before the state's Atomics.store publishes it
    }
    Atomics.store(w, S_STATE, RankState.BLOCKED);
  }

  /** The end of a wait that was marked blocked: the rank is again what it was before (running or returned). */
  clearBlocked(): void {
    Atomics.store(this.#words, S_STATE, this.#words[S_BEFORE]!);
    Atomics.add(this.#words, S_PROGRESS, 1);
  }

  /**
   * Flight recorder: a call starts. The rank's previous call is marked completed (a rank makes one call
   * at a time, so starting one means the last one returned); a call that failed stays `started`.
   */
  recordStart(seq: number, op: number, groupOffset: number, dtypeCode: number, numel: number): void {
    const head = this.#words[S_HEAD]!;
    const r = this.#ring;
    if (head > 0) r[((head - 1) % RING_ENTRIES) * ENTRY_WORDS + 5] = 1;
    const e = (head % RING_ENTRIES) * ENTRY_WORDS;
    r[e] = seq;
    r[e + 1] = op;
    r[e + 2] = groupOffset | 0;
    r[e + 3] = dtypeCode;
    r[e + 4] = numel;
    r[e + 5] = 0;
    this.#times[(e + 6) >> 1] = clock.now();
    this.#words[S_HEAD] = head + 1; // only this thread writes it; a dump reading it mid-update sees one entry less
  }

  /** Marks the last call completed (when the rank returns). */
  recordIdle(): void {
    const head = this.#words[S_HEAD]!;
    if (head > 0) this.#ring[((head - 1) % RING_ENTRIES) * ENTRY_WORDS + 5] = 1;
  }

  snapshot(): RankSnapshot {
    const w = this.#words;
    const state = (Object.keys(RankState) as (keyof typeof RankState)[])[Atomics.load(w, S_STATE)] ?? 'RUNNING';
    const siteLength = Math.min(SITE_BYTES, Math.max(0, w[S_SITE_LEN]!));
    return {
      rank: this.rank, state, progress: Atomics.load(w, S_PROGRESS), op: OPS[w[S_OP]!], groupOffset: w[S_GROUP]! >>> 0,
      seq: w[S_SEQ]!, phase: PHASES[w[S_PHASE]!], peer: w[S_PEER]!,
      callSite: Buffer.from(this.#site.subarray(0, siteLength)).toString('utf8'),
      waitText: readText(this.#text, w[S_TEXT_LEN]!), groupName: readText(this.#name, w[S_NAME_LEN]!),
      blockedSinceMs: this.#blockedSince[0]!,
    };
  }

  /** The flight recorder's entries, oldest first. */
  entries(): FlightEntry[] {
    const origin = new Float64Array(this.#words.buffer, this.#words.byteOffset + 40, 1)[0]!;
    const head = Atomics.load(this.#words, S_HEAD);
    const out: FlightEntry[] = [];
    for (let i = Math.max(0, head - RING_ENTRIES); i < head; i++) {
      const e = (i % RING_ENTRIES) * ENTRY_WORDS;
      const r = this.#ring;
      out.push({
        seq: r[e]!, op: OPS[r[e + 1]!] ?? 'allReduce', groupOffset: r[e + 2]! >>> 0, dtypeCode: r[e + 3]!,
        numel: r[e + 4]!,
        state: ENTRY_STATES[r[e + 5]!] ?? 'started', startMs: origin + this.#times[(e + 6) >> 1]!,
      });
    }
    return out;
  }

  /** The rank's state (a RankState value) and progress count: what the watchdog polls, without a snapshot. */
  get state(): number {
    return Atomics.load(this.#words, S_STATE);
  }

  get progress(): number {
    return Atomics.load(this.#words, S_PROGRESS);
  }

  /** When the rank's current mark began (Date.now()); read after `state` showed BLOCKED. */
  get blockedSinceMs(): number {
    return this.#blockedSince[0]!;
  }
}

/** Writes `text` (utf8, cut to the area) into `area`; returns the bytes written. */
function writeText(area: Uint8Array, text: string): number {
  if (text === '') return 0;
  const bytes = Buffer.from(text, 'utf8').subarray(0, area.byteLength);
  area.set(bytes);
  return bytes.length;
}

/** The UTF-8 text of a fixed-size field: up to its first NUL byte, or all of it when it has none. */
export function nulTerminated(field: Uint8Array): string {
  const end = field.indexOf(0);
  return Buffer.from(field.buffer, field.byteOffset, end < 0 ? field.byteLength : end).toString('utf8');
}

/** A torn read (the rank re-marked meanwhile) only garbles a report, as for the call site. */
function readText(area: Uint8Array, length: number): string {
  return Buffer.from(area.subarray(0, Math.min(area.byteLength, Math.max(0, length)))).toString('utf8');
}

/** How reports name a group: `tp [0, 1]`, or `[0, 1]` for a group without a name. */
export function groupLabel(name: string | undefined, ranks: readonly number[]): string {
  const members = `[${ranks.join(', ')}]`;
  return name === undefined || name === '' || name === 'anonymous' ? members : `${name} ${members}`;
}

/**
 * What a member waiting for `publisher`'s result waits for (a wait's timeout and the deadlock report say
 * it alike): the publisher, and the members it still waits for (`late`, which may include it).
 */
export function resultWaitText(publisher: string, late: readonly string[]): string {
  const others = late.filter((m) => m !== publisher);
  const verb = others.length < late.length ? 'to arrive and give its result' : 'to give its result';
  const rest = others.length === 0 ? '' : `, which waits for ${others.join(', ')} to arrive`;
  return `waiting for ${publisher} ${verb}${rest}`;
}

/** multirank's own code, compiled or (with source maps) as the TypeScript it came from. */
const OWN_DIRS = ownCodeDirs();

/** The first stack frame outside multirank itself: the user's `file:line:column`. */
export function userCallSite(): string {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 64; // the user's frame sits below a dozen of ours
  const stack = new Error().stack ?? '';
  Error.stackTraceLimit = limit;
  for (const line of stack.split('\n').slice(1)) {
    const frame = line.trim();
    if (
      OWN_DIRS.some((dir) => frame.includes(dir)) || frame.includes('node:internal') || frame.includes('/node_modules/')
    ) {
      continue;
    }
    return frame.replace(/^at /, '');
  }
  return '(unknown)';
}
