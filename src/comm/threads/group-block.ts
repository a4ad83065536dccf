/**
 * The shared block of one group: the members' call slots, the two phase counters every collective uses,
 * the double-buffered inline area of the latency path, and the point-to-point mailboxes.
 *
 *   Int32 words at `byteOffset` (W = group size):
 *   [0] MAGIC  [1] W  [2] arriveCount  [3] arriveGen  [4] doneCount  [5] doneGen  [6] membersHash  [7] MAGIC
 *   [8] mismatch call-site posts, ever growing: every member posts once per mismatch (all members see
 *       each one), so the k-th mismatch of the group is fully posted at k * W (a caught one leaves the
 *       group usable: every member arrived at the failed call and none started its second phase)
 *   [10..13) the group's failure latch (shm/failure-latch.ts): raised by the first member whose wait
 *       timed out, which leaves the counters out of step; every later call of every member throws
 *   [HEADER_WORDS .. +W)               the members' world ranks, in group order (read by the watchdog)
 *   [HEADER_WORDS + r*SLOT_WORDS ...]  member r's slot: [0] last call it arrived at, [1] last call it finished,
 *                                      [2..32) and [32..62): call areas for even and odd calls (fingerprint,
 *                                      input/output offsets, shape; fields in SLOT)
 *   then, 64-aligned: inline area, W x 2 parities x INLINE_STRIDE: a 16-byte header (the call's
 *                     fingerprint, 4 words: fingerprint.ts; on the line a reader fetches anyway) then
 *                     INLINE_BYTES of data
 *   then: mailboxes, W x W of MAILBOX_WORDS (layout: mailbox-format.ts)
 *
 * A collective numbered `seq` (each member counts its own calls on this group) has one or two phases:
 *   arrive: a member writes its slot, then Atomics.add(arriveCount); the member that brings the count to W
 *           resets it to 0 and stores arriveGen = seq (releasing the others, who wait for arriveGen >= seq).
 *           The reset happens before the release, and no member can add for seq+1 before it saw the release,
 *           so the counter is never shared between two collectives.
 *   finish: the same on doneCount/doneGen, after a member has stopped touching its peers' buffers.
 * A reduction at one member (the mpi backend's small hierarchical calls) has one arrival and a result:
 * the other members arrive without waiting (`arriveOnly`), the reducing member waits for every arrival,
 * computes, and stores doneGen = seq (`publishResult`), which the others wait for (`awaitResult`).
 * Inline data of collective seq lives in parity seq & 1. A member writes parity p again at seq + 2, which it
 * reaches only after every member arrived at seq + 1, i.e. after every member finished reading seq.
 */
import { MismatchError, TimeoutError } from '../../errors.js';
import type { Arena } from '../../shm/arena.js';
import {
  AdaptiveSpin, SPIN_ITERATIONS_ADAPTIVE_MAX, throwIfAborted, waitFor, type AbortWord, type WaitOptions,
} from '../../shm/wait.js';
import { FailureLatch, type LatchedFailure } from '../../shm/failure-latch.js';
import { groupLabel, OPS, resultWaitText, STALL_MS, type OpName } from '../../debug/rank-status.js';
import { nowUs, type TraceRecorder } from '../../debug/trace.js';
import type { RankRecord } from '../../debug/rank-status.js';

const MAGIC = 0x67727031; // "grp1"
const W_MAGIC = 0, W_SIZE = 1, W_ARRIVE_COUNT = 2, W_ARRIVE_GEN = 3, W_DONE_COUNT = 4, W_DONE_GEN = 5, W_MEMBERS = 6,
  W_CANARY = 7, W_MISMATCH = 8, W_SLEEPERS = 9, W_FAILED = 10;
/** How long members that found a mismatch wait for each other's call sites before reporting without them. */
const MISMATCH_GATHER_MS = 2000;
const HEADER_WORDS = 16;
export const SLOT_WORDS = 64;
/** Words of one call area; a slot holds two (by the parity of the call's sequence number). */
const CALL_WORDS = 30;
/**
 * Slot fields. SEQ and DONE_SEQ are words of the slot; the others are words of a call area
 * (`callArea(member, seq)`): a member that finished call seq may write call seq + 1 while a slower peer
 * still compares call seq, so the two calls must not share words.
 */
export const SLOT = {
  SEQ: 0, DONE_SEQ: 1,
  OP: 0, DTYPE: 1, NUMEL: 2, ROOT: 3, REDUCE_OP: 4, DIM: 5, DIM2: 6, NDIM: 7, IN_PTR: 8, OUT_PTR: 9, SHAPE: 10,
  SHAPE_MAX: 16,
} as const;
/** Inputs up to this many bytes take the latency path (copied into the inline area: one phase). */
export const INLINE_BYTES = 16384;
/** Bytes of an inline buffer's header (the call's fingerprint, compared whole), before its data. */
export const INLINE_HEADER_BYTES = 16;
// A stride of a whole number of cache lines keeps each buffer's header on the line of its first data.
const INLINE_STRIDE = Math.ceil((INLINE_HEADER_BYTES + INLINE_BYTES) / 64) * 64;
/** Bytes from member m's inline buffer of a call to member m + 1's (two parities per member). */
export const INLINE_MEMBER_STRIDE = 2 * INLINE_STRIDE;
export const MAILBOX_WORDS = 64;

export interface GroupBlockLayout {
  slotsWord: number;
  inlineOffset: number;
  mailboxOffset: number;
  totalBytes: number;
}

export function groupBlockLayout(worldSize: number): GroupBlockLayout {
  const slotsWord = HEADER_WORDS + worldSize;
  const slotsBytes = (slotsWord + worldSize * SLOT_WORDS) * 4;
  const inlineOffset = Math.ceil(slotsBytes / 64) * 64;
  const mailboxOffset = inlineOffset + worldSize * 2 * INLINE_STRIDE;
  return {
    slotsWord, inlineOffset, mailboxOffset, totalBytes: mailboxOffset + worldSize * worldSize * MAILBOX_WORDS * 4,
  };
}

/** Formats a zeroed group block (by the first member to arrive). */
export function formatGroupBlock(
  arena: Arena, byteOffset: number, ranks: readonly number[], membersHash: number,
): void {
  const { totalBytes } = groupBlockLayout(ranks.length);
  new Uint8Array(arena.buffer(byteOffset + totalBytes), byteOffset, totalBytes).fill(0);
  const words = new Int32Array(arena.buffer(), byteOffset, HEADER_WORDS + ranks.length);
  words[W_SIZE] = ranks.length;
  words.set(ranks, HEADER_WORDS);
  words[W_MEMBERS] = membersHash;
  words[W_CANARY] = MAGIC;
  Atomics.store(words, W_MAGIC, MAGIC);
}

/** One member's handle on a group block. */
export class GroupBlock {
  readonly words: Int32Array;
  readonly byteOffset: number;
  readonly layout: GroupBlockLayout;
  readonly size: number;
  readonly rankInGroup: number;
  /** Global ranks of the members, for messages. */
  readonly ranks: readonly number[];
  /** How messages and reports name the group (`tp [0, 1]`). */
  readonly label: string;
  readonly #name: string;
  readonly #latch: FailureLatch;
  readonly #jobAbort: AbortWord;
  #target = 0;
  #phase = 'arrive';
  #what = '';
  #marked = false;
  /** The member whose result `awaitResult` waits for. */
  #publisher = 0;
  readonly #reached = (value: number): boolean => ((value - this.#target) | 0) >= 0;
  readonly #wait: WaitOptions;
  readonly #record: RankRecord;

  readonly #trace: TraceRecorder | undefined;
  readonly #spin: AdaptiveSpin;
  readonly #headerWord0: number;

  constructor(
    arena: Arena, abort: AbortWord, byteOffset: number, ranks: readonly number[], rankInGroup: number,
    membersHash: number,
    timeoutMs: number, spinIterations: number, record: RankRecord, trace?: TraceRecorder, name?: string,
  ) {
    this.#record = record;
    this.#name = name ?? '';
    this.label = groupLabel(name, ranks);
    this.#trace = trace;
    // spinIterations > 0 means every rank has a core: spin adaptively up to the long budget.
    this.#spin = new AdaptiveSpin(spinIterations > 0 ? SPIN_ITERATIONS_ADAPTIVE_MAX : 0);
    this.layout = groupBlockLayout(ranks.length);
    this.#headerWord0 = this.layout.inlineOffset >> 2;
    this.words = new Int32Array(
      arena.buffer(byteOffset + this.layout.totalBytes), byteOffset, this.layout.totalBytes >> 2,
    );
    this.byteOffset = byteOffset;
    this.size = ranks.length;
    this.ranks = ranks;
    this.rankInGroup = rankInGroup;
    if (
      Atomics.load(this.words, W_MAGIC) !== MAGIC || this.words[W_CANARY] !== MAGIC ||
        this.words[W_SIZE] !== ranks.length
    ) {
      throw new MismatchError(`The group block at ${byteOffset} is not formatted for a group of ${ranks.length} ranks`);
    }
    if (this.words[W_MEMBERS] !== membersHash || ranks.some((r, i) => this.words[HEADER_WORDS + i] !== r)) {
      throw new MismatchError(
        `The ranks of group [${ranks.join(', ')}] do not match the ranks its other members gave; every member must ` +
          `create it with the same ranks in the same order`,
      );
    }
    this.#latch = new FailureLatch(this.words, W_FAILED, (f) => this.#failedError(f));
    this.#jobAbort = abort;
    this.#wait = {
      timeoutMs, adaptiveSpin: this.#spin, abort: this.abortWords, describe: () => this.#describeWait(),
      stallMs: STALL_MS, sleepersIndex: W_SLEEPERS,
      onStall: () => this.#markBlocked(),
    };
  }

  /** What ends every wait on this group: the job's abort word and the group's failure latch. */
  get abortWords(): readonly AbortWord[] {
    return [this.#jobAbort, this.#latch.word];
  }

  /** Throws the failure that ended the job or this group: a later call must not mix new and abandoned data. */
  check(): void {
    this.#latch.check();
    throwIfAborted(this.#jobAbort);
  }

  /** A wait of this member timed out in call `seq` of `op`: the group is out of step for every member. */
  fail(error: unknown, op: string, seq: number): void {
    if (!(error instanceof TimeoutError)) return;
    const me = this.ranks[this.rankInGroup]!;
    this.#latch.raise(me, seq, OPS.indexOf(op as OpName), error, [W_ARRIVE_GEN, W_DONE_GEN]);
  }

  #failedError(f: LatchedFailure): TimeoutError {
    const call = `${OPS[f.op] ?? 'a call'} (call #${f.seq})`;
    return new TimeoutError(`Group ${this.label} failed: rank ${f.rank} timed out in ${call} and left it, ` +
      'so the members are out of step: every later call on the group fails');
  }

  /** The spin budget of this member's waits (shared with its mailboxes: same peers, same machine). */
  get adaptiveSpin(): AdaptiveSpin {
    return this.#spin;
  }

  /** The deadline of the following waits (a per-group or per-call timeout). */
  set timeoutMs(value: number) {
    this.#wait.timeoutMs = value;
  }

  get timeoutMs(): number {
    return this.#wait.timeoutMs;
  }

  /**
   * After a mismatch (which every member sees, since all read the same slots): post this member's call
   * site and wait briefly until every member did, so each report can list every call site.
   */
  gatherCallSites(): void {
    this.#record.writeMismatchSite();
    // The counter only grows: a caught mismatch leaves the group usable, so the k-th mismatch (k = 1, 2,
    // ...) of the group is complete at k * W posts, not at W (which would report stale call sites).
    const target = (Math.floor(Atomics.add(this.words, W_MISMATCH, 1) / this.size) + 1) * this.size;
    Atomics.notify(this.words, W_MISMATCH);
    try {
      waitFor(
        this.words, W_MISMATCH, (n) => n >= target,
        { ...this.#wait, timeoutMs: MISMATCH_GATHER_MS, onStall: undefined, stallMs: undefined },
      );
    } catch {
      // A member that does not report in time is listed without its call site.
    }
  }

  #markBlocked(): void {
    if (this.#marked) return;
    this.#marked = true;
    const phase = this.#phase === 'arrive' || this.#phase === 'result' ? this.#phase : 'finish';
    this.#record.markBlocked((this.#what || 'barrier') as OpName, phase, this.byteOffset, this.#target, -1, this.#name);
  }

  /** Word index of field `field` (SEQ or DONE_SEQ) in member `member`'s slot. */
  slot(member: number, field: number): number {
    return this.layout.slotsWord + member * SLOT_WORDS + field;
  }

  /** Word index of member `member`'s call area for call `seq` (add a SLOT call field). */
  callArea(member: number, seq: number): number {
    return this.layout.slotsWord + member * SLOT_WORDS + 2 + (seq & 1) * CALL_WORDS;
  }

  /** Byte offset (in the arena) of member `member`'s inline buffer for collective `seq`. */
  inlineOffset(member: number, seq: number): number {
    return this.byteOffset + this.layout.inlineOffset + (member * 2 + (seq & 1)) * INLINE_STRIDE + INLINE_HEADER_BYTES;
  }

  /** Word index (in `words`) of member `member`'s inline header for call `seq` (its first of 4 words). */
  inlineHeaderWord(member: number, seq: number): number {
    return this.#headerWord0 + (member * 2 + (seq & 1)) * (INLINE_STRIDE >> 2);
  }

  /** After arrival: whether every member stored the same fingerprint (4 words) for call `seq`. */
  sameHeaders(seq: number): boolean {
    const w = this.words;
    const at = this.inlineHeaderWord(this.rankInGroup, seq);
    const w0 = w[at], w1 = w[at + 1], w2 = w[at + 2], w3 = w[at + 3];
    for (let m = 0; m < this.size; m++) {
      const t = this.inlineHeaderWord(m, seq);
      if (w[t] !== w0 || w[t + 1] !== w1 || w[t + 2] !== w2 || w[t + 3] !== w3) return false;
    }
    return true;
  }

  /**
   * Phase 1: publish this member's slot for collective `seq`, wait until every member did. The slot's
   * plain stores are published by the Atomics.add that follows them (a release), and read after the
   * generation word is seen (an acquire).
   */
  arrive(seq: number, what: string): void {
    this.words[this.slot(this.rankInGroup, SLOT.SEQ)] = seq;
    this.#phaseBarrier(W_ARRIVE_COUNT, W_ARRIVE_GEN, seq, 'arrive', what);
  }

  /** Phase 2: say this member no longer touches its peers' buffers for `seq`; wait until every member did. */
  finish(seq: number, what: string): void {
    this.words[this.slot(this.rankInGroup, SLOT.DONE_SEQ)] = seq;
    this.#phaseBarrier(W_DONE_COUNT, W_DONE_GEN, seq, 'finish', what);
  }

  /**
   * Phase 1 without its wait, for a member that next waits for `awaitResult(seq)` only (`publishResult`'s
   * member does the arrival's wait). The counter stays private to one call: this member adds for seq + 1
   * only after it saw the result of seq, which was published after the arrival of seq was released.
   */
  arriveOnly(seq: number): void {
    this.words[this.slot(this.rankInGroup, SLOT.SEQ)] = seq;
    this.check();
    this.#count(W_ARRIVE_COUNT, W_ARRIVE_GEN, seq);
  }

  /**
   * Releases the members waiting in `awaitResult(seq)`: this member's result of `seq` is in place. Its
   * generation word is the finish phase's, which no call of this member waits on for `seq` or earlier.
   */
  publishResult(seq: number): void {
    const w = this.words;
    w[this.slot(this.rankInGroup, SLOT.DONE_SEQ)] = seq;
    Atomics.store(w, W_DONE_GEN, seq);
    if (Atomics.load(w, W_SLEEPERS) > 0) Atomics.notify(w, W_DONE_GEN);
  }

  /**
   * Waits until `member` published its result of call `seq` (`publishResult`). This member's part is done
   * before it waits (its finish word says so), so that a deadlock report names only the publisher and the
   * members it still waits for. The wait may take twice the deadline: `member` has one for the arrivals
   * and one for its step, and this one wait covers both.
   */
  awaitResult(seq: number, member: number, what: string): void {
    this.words[this.slot(this.rankInGroup, SLOT.DONE_SEQ)] = seq;
    this.#publisher = member;
    const wait = this.#wait, deadline = wait.timeoutMs;
    wait.timeoutMs = 2 * deadline;
    try {
      this.#await(W_DONE_GEN, seq, 'result', what);
    } finally {
      wait.timeoutMs = deadline;
    }
  }

  /** Adds this member to the phase's count; the member that completes it releases the phase. */
  #count(countWord: number, genWord: number, seq: number): boolean {
    const w = this.words;
    if (Atomics.add(w, countWord, 1) + 1 !== this.size) return false;
    Atomics.store(w, countWord, 0);
    Atomics.store(w, genWord, seq);
    if (Atomics.load(w, W_SLEEPERS) > 0) Atomics.notify(w, genWord);
    return true;
  }

  #phaseBarrier(countWord: number, genWord: number, seq: number, phase: string, what: string): void {
    this.check(); // also when this member would arrive last: a peer's abandoned arrival must not complete it
    if (!this.#count(countWord, genWord, seq)) this.#await(genWord, seq, phase, what);
  }

  /** Waits until `genWord` reaches `seq` (a phase of call `seq` released), marking this member blocked if long. */
  #await(genWord: number, seq: number, phase: string, what: string): void {
    const w = this.words;
    this.#target = seq;
    this.#phase = phase;
    this.#what = what;
    const start = this.#trace === undefined ? 0 : nowUs();
    try {
      waitFor(w, genWord, this.#reached, this.#wait);
    } catch (error) {
      this.fail(error, what, seq);
      throw error;
    }
    this.#trace?.add(`wait (${phase})`, 'wait', start, { call: what, seq });
    if (this.#marked) {
      this.#marked = false;
      this.#record.clearBlocked();
    }
  }

  #describeWait(): string {
    if (this.#phase === 'result') {
      const publisher = this.#publisher;
      const late = waitingFor(this.words, this.layout.slotsWord, this.size, this.#target, 'arrive')
        .map(([m, at]) => `rank ${this.ranks[m]}${m === publisher ? '' : ` (at call #${at})`}`);
      return `Rank ${this.ranks[this.rankInGroup]} timed out in ${this.#what} (call #${this.#target} of group ` +
        `${this.label}) ${resultWaitText(`rank ${this.ranks[publisher]}`, late)}`;
    }
    const missing = waitingFor(
      this.words, this.layout.slotsWord, this.size, this.#target, this.#phase === 'arrive' ? 'arrive' : 'finish',
    );
    const names = missing.map(([m, at]) => `rank ${this.ranks[m]} (at call #${at})`);
    const verb = this.#phase === 'arrive' ? 'to arrive at' : 'to finish';
    return `Rank ${this.ranks[this.rankInGroup]} timed out in ${this.#what} (call #${this.#target} of group ` +
      `${this.label}) waiting for ${names.join(', ') || 'no rank (all arrived just now)'} ${verb} it`;
  }
}


/** Members (index, last call reached) that have not arrived at / finished call `target`. */
function waitingFor(
  words: Int32Array, slotsWord: number, size: number, target: number, phase: 'arrive' | 'finish',
): [number, number][] {
  const field = phase === 'arrive' ? SLOT.SEQ : SLOT.DONE_SEQ;
  const missing: [number, number][] = [];
  for (let m = 0; m < size; m++) {
    const at = Atomics.load(words, slotsWord + m * SLOT_WORDS + field);
    if (((at - target) | 0) < 0) missing.push([m, at]);
  }
  return missing;
}

/**
 * For the watchdog and the dumps: the world ranks of the group at `byteOffset`, and those not yet at call
 * `seq`'s `phase`. `bufferTo(end)` gives the memory's buffer covering `end` (another thread may have grown
 * the memory since this one last looked, so a cached buffer may be too short for a block made since).
 */
export function readGroupWait(
  bufferTo: (end: number) => ArrayBufferLike, byteOffset: number, seq: number, phase: 'arrive' | 'finish',
): { ranks: number[]; missing: number[] } {
  const none = { ranks: [], missing: [] };
  let buffer = bufferTo(byteOffset + HEADER_WORDS * 4);
  if (byteOffset + HEADER_WORDS * 4 > buffer.byteLength) return none;
  const header = new Int32Array(buffer, byteOffset, HEADER_WORDS);
  if (Atomics.load(header, W_MAGIC) !== MAGIC) return none;
  const size = header[W_SIZE]!;
  const layout = groupBlockLayout(size);
  const wordCount = layout.slotsWord + size * SLOT_WORDS;
  buffer = bufferTo(byteOffset + wordCount * 4);
  if (byteOffset + wordCount * 4 > buffer.byteLength) return none;
  const words = new Int32Array(buffer, byteOffset, wordCount);
  const ranks = Array.from(words.subarray(HEADER_WORDS, HEADER_WORDS + size));
  return { ranks, missing: waitingFor(words, layout.slotsWord, size, seq, phase).map(([m]) => ranks[m]!) };
}
