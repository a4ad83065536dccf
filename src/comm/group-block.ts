/**
 * The shared block of one group: the members' call slots, the two phase counters every collective uses,
 * the double-buffered inline area of the latency path, and the point-to-point mailboxes.
 *
 *   Int32 words at `byteOffset` (W = group size):
 *   [0] MAGIC  [1] W  [2] arriveCount  [3] arriveGen  [4] doneCount  [5] doneGen  [6] membersHash  [7] MAGIC
 *   [HEADER_WORDS + r*SLOT_WORDS ...]  member r's slot: [0] last call it arrived at, [1] last call it finished,
 *                                      [2..32) and [32..62): call areas for even and odd calls (fingerprint,
 *                                      input/output offsets, shape; fields in SLOT)
 *   then, 64-aligned: inline area, W x 2 parities x INLINE_BYTES
 *   then: mailboxes, W x W of MAILBOX_WORDS (see mailbox.ts)
 *
 * A collective numbered `seq` (each member counts its own calls on this group) has one or two phases:
 *   arrive: a member writes its slot, then Atomics.add(arriveCount); the member that brings the count to W
 *           resets it to 0 and stores arriveGen = seq (releasing the others, who wait for arriveGen >= seq).
 *           The reset happens before the release, and no member can add for seq+1 before it saw the release,
 *           so the counter is never shared between two collectives.
 *   finish: the same on doneCount/doneGen, after a member has stopped touching its peers' buffers.
 * Inline data of collective seq lives in parity seq & 1. A member writes parity p again at seq + 2, which it
 * reaches only after every member arrived at seq + 1, i.e. after every member finished reading seq.
 */
import { MismatchError } from '../errors.js';
import type { Arena } from '../shm/arena.js';
import { waitFor, type WaitOptions } from '../shm/wait.js';
import type { JobControl } from './job-control.js';

const MAGIC = 0x67727031; // "grp1"
const W_MAGIC = 0, W_SIZE = 1, W_ARRIVE_COUNT = 2, W_ARRIVE_GEN = 3, W_DONE_COUNT = 4, W_DONE_GEN = 5, W_MEMBERS = 6, W_CANARY = 7;
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
  OP: 0, DTYPE: 1, NUMEL: 2, ROOT: 3, REDUCE_OP: 4, DIM: 5, DIM2: 6, NDIM: 7, IN_PTR: 8, OUT_PTR: 9, SHAPE: 10, SHAPE_MAX: 16,
} as const;
/** Inputs up to this many bytes take the latency path (copied into the inline area: one phase). */
export const INLINE_BYTES = 16384;
export const MAILBOX_WORDS = 64;

export interface GroupBlockLayout {
  slotsWord: number;
  inlineOffset: number;
  mailboxOffset: number;
  totalBytes: number;
}

export function groupBlockLayout(worldSize: number): GroupBlockLayout {
  const slotsBytes = (HEADER_WORDS + worldSize * SLOT_WORDS) * 4;
  const inlineOffset = Math.ceil(slotsBytes / 64) * 64;
  const mailboxOffset = inlineOffset + worldSize * 2 * INLINE_BYTES;
  return { slotsWord: HEADER_WORDS, inlineOffset, mailboxOffset, totalBytes: mailboxOffset + worldSize * worldSize * MAILBOX_WORDS * 4 };
}

/** Formats a zeroed group block (by the first member to arrive). */
export function formatGroupBlock(arena: Arena, byteOffset: number, worldSize: number, membersHash: number): void {
  const { totalBytes } = groupBlockLayout(worldSize);
  new Uint8Array(arena.buffer(byteOffset + totalBytes), byteOffset, totalBytes).fill(0);
  const words = new Int32Array(arena.buffer(), byteOffset, HEADER_WORDS);
  words[W_SIZE] = worldSize;
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
  #target = 0;
  #phase = 'arrive';
  #what = '';
  readonly #reached = (value: number): boolean => ((value - this.#target) | 0) >= 0;
  readonly #wait: WaitOptions;

  constructor(arena: Arena, job: JobControl, byteOffset: number, ranks: readonly number[], rankInGroup: number, membersHash: number, timeoutMs: number, spinIterations: number) {
    this.layout = groupBlockLayout(ranks.length);
    this.words = new Int32Array(arena.buffer(byteOffset + this.layout.totalBytes), byteOffset, this.layout.totalBytes >> 2);
    this.byteOffset = byteOffset;
    this.size = ranks.length;
    this.ranks = ranks;
    this.rankInGroup = rankInGroup;
    if (Atomics.load(this.words, W_MAGIC) !== MAGIC || this.words[W_CANARY] !== MAGIC || this.words[W_SIZE] !== ranks.length) {
      throw new MismatchError(`The group block at ${byteOffset} is not formatted for a group of ${ranks.length} ranks`);
    }
    if (this.words[W_MEMBERS] !== membersHash) {
      throw new MismatchError(`The ranks of group [${ranks.join(', ')}] do not match the ranks its other members gave; every member must create it with the same ranks in the same order`);
    }
    this.#wait = { timeoutMs, spinIterations, abort: job.abortWord, describe: () => this.#describeWait() };
  }

  /** Word index of field `field` (SEQ or DONE_SEQ) in member `member`'s slot. */
  slot(member: number, field: number): number {
    return HEADER_WORDS + member * SLOT_WORDS + field;
  }

  /** Word index of member `member`'s call area for call `seq` (add a SLOT call field). */
  callArea(member: number, seq: number): number {
    return HEADER_WORDS + member * SLOT_WORDS + 2 + (seq & 1) * CALL_WORDS;
  }

  /** Byte offset (in the arena) of member `member`'s inline buffer for collective `seq`. */
  inlineOffset(member: number, seq: number): number {
    return this.byteOffset + this.layout.inlineOffset + (member * 2 + (seq & 1)) * INLINE_BYTES;
  }

  /** Phase 1: publish this member's slot for collective `seq`, wait until every member did. */
  arrive(seq: number, what: string): void {
    Atomics.store(this.words, this.slot(this.rankInGroup, SLOT.SEQ), seq);
    this.#phaseBarrier(W_ARRIVE_COUNT, W_ARRIVE_GEN, seq, 'arrive', what);
  }

  /** Phase 2: say this member no longer touches its peers' buffers for `seq`; wait until every member did. */
  finish(seq: number, what: string): void {
    Atomics.store(this.words, this.slot(this.rankInGroup, SLOT.DONE_SEQ), seq);
    this.#phaseBarrier(W_DONE_COUNT, W_DONE_GEN, seq, 'finish', what);
  }

  #phaseBarrier(countWord: number, genWord: number, seq: number, phase: string, what: string): void {
    const w = this.words;
    if (Atomics.add(w, countWord, 1) + 1 === this.size) {
      Atomics.store(w, countWord, 0);
      Atomics.store(w, genWord, seq);
      Atomics.notify(w, genWord);
      return;
    }
    this.#target = seq;
    this.#phase = phase;
    this.#what = what;
    waitFor(w, genWord, this.#reached, this.#wait);
  }

  #describeWait(): string {
    const field = this.#phase === 'arrive' ? SLOT.SEQ : SLOT.DONE_SEQ;
    const missing: string[] = [];
    for (let m = 0; m < this.size; m++) {
      const at = Atomics.load(this.words, this.slot(m, field));
      if (((at - this.#target) | 0) < 0) missing.push(`rank ${this.ranks[m]} (at call #${at})`);
    }
    const verb = this.#phase === 'arrive' ? 'to arrive at' : 'to finish';
    return `Rank ${this.ranks[this.rankInGroup]} timed out in ${this.#what} (call #${this.#target} of group [${this.ranks.join(', ')}]) waiting for ${missing.join(', ') || 'no rank (all arrived just now)'} ${verb} it`;
  }
}

