/**
 * The job control block: one per job, in the arena, attached by the driver and by every rank.
 *
 *   Int32 words at `byteOffset`:
 *   +-------+-------+--------+-------+-------+-------------+----------+--------------------------+-----------------+
 *   | MAGIC | abort | msgLen | world | owner | hash points | reserved | group table              | failure message |
 *   | [0]   | [1]   | [2]    | [3]   | [4]   | [5], [6]    | [7..16)  | [16 .. 16+4*GROUP_SLOTS) | MESSAGE_BYTES   |
 *   +-------+-------+--------+-------+-------+-------------+----------+--------------------------+-----------------+
 *   then one RankRecord per rank (debug/rank-status.ts: status, call site, flight recorder).
 *
 *   abort: 0 while the job runs; `rank + 1` when that rank failed (its message is stored first, then the
 *          word is raised with compareExchange so the first failure wins); CLOSED_BY_DRIVER when the
 *          driver closed the job; DEADLOCK when the driver's watchdog found every live rank blocked. Every wait of
 *          every rank lists this word, so raising it releases them.
 *   hash points: the two points of the job's shape hashes (shape-hash.ts), drawn when the block is made;
 *          every rank of the job reads the same ones.
 *   group table: open addressing on a hash of (member ranks, occurrence); a slot is
 *          [key, key2, state, offset], state 0 empty, 1 being created, 2 ready. The first member to claim
 *          the slot allocates the group block; the others wait until it is ready.
 */
import { ClosedError, ErrorCodes, MultirankError, RankFailedError, outOfRange } from '../../errors.js';
import { RankRecord, RECORD_BYTES, STALL_MS } from '../../debug/rank-status.js';
import type { Arena, ArenaRegion } from '../../shm/arena.js';
import { raiseAbort, waitFor, type AbortWord } from '../../shm/wait.js';
import type { JobView } from '../../debug/job-view.js';
import { readGroupWait } from './group-block.js';
import { drawHashPoints } from './shape-hash.js';

const MAGIC = 0x6a6f6231; // "job1"
const W_MAGIC = 0, W_ABORT = 1, W_MSG_LEN = 2, W_WORLD = 3, W_OWNER = 4, W_HASH_POINTS = 5;
const TABLE_WORD = 16;
/** Group blocks a job can hold (distinct groups created by its ranks). */
export const GROUP_SLOTS = 16384;
const SLOT_WORDS = 4;
const MESSAGE_BYTES = 8192;
const TABLE_BYTES = (TABLE_WORD + GROUP_SLOTS * SLOT_WORDS) * 4;
const RECORDS_OFFSET = TABLE_BYTES + MESSAGE_BYTES;
/** Bytes of the control block of a job of `worldSize` ranks. */
export function jobControlBytes(worldSize: number): number {
  return RECORDS_OFFSET + worldSize * RECORD_BYTES;
}
/** The abort value meaning "the driver closed the job". */
export const CLOSED_BY_DRIVER = 0x7fffffff;
/** The abort value meaning "the watchdog found a deadlock" (the message says where each rank was). */
export const DEADLOCK = 0x7ffffffe;

/** FNV-1a over a string, with a seed so that two independent hashes can be taken. */
export function hashString(text: string, seed = 0x811c9dc5): number {
  let h = seed | 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h | 0;
}

export class JobControl implements JobView {
  readonly arena: Arena;
  readonly byteOffset: number;
  readonly words: Int32Array;
  readonly abortWord: AbortWord;

  /** Formats a new control block in `arena` (driver side). */
  static create(arena: Arena, worldSize: number): JobControl {
    const bytes = jobControlBytes(worldSize);
    const region = arena.alloc(bytes);
    new Uint8Array(arena.buffer(region.byteOffset + bytes), region.byteOffset, bytes).fill(0);
    const control = new JobControl(arena, region.byteOffset, false);
    control.words[W_WORLD] = worldSize;
    control.words[W_OWNER] = arena.newOwner();
    control.words.set(drawHashPoints(), W_HASH_POINTS);
    Atomics.store(control.words, W_MAGIC, MAGIC);
    return control;
  }

  constructor(arena: Arena, byteOffset: number, check = true) {
    this.arena = arena;
    this.byteOffset = byteOffset;
    this.words = new Int32Array(arena.buffer(byteOffset + RECORDS_OFFSET), byteOffset, TABLE_BYTES / 4);
    if (check && Atomics.load(this.words, W_MAGIC) !== MAGIC) {
      throw outOfRange(`No job control block at offset ${byteOffset}`);
    }
    this.abortWord = { flags: this.words, index: W_ABORT, error: (value) => this.errorFor(value) };
  }

  get worldSize(): number {
    return this.words[W_WORLD]!;
  }

  /** The job's two shape-hash points (shape-hash.ts), the same on every rank of the job. */
  get hashPoints(): readonly [number, number] {
    return [this.words[W_HASH_POINTS]!, this.words[W_HASH_POINTS + 1]!];
  }

  /**
   * The tag of the arena regions the job's ranks allocate (group blocks, scratch buffers, mailbox
   * messages, broadcast rings, shared tensors): `free` returns every one of them, including what a rank
   * never freed itself (a group it did not destroy, a message nobody received, a tensor it kept). Unique
   * in the process (`Arena.newOwner`), so that a late release of a tensor of this job frees nothing of a
   * later one.
   */
  get owner(): number {
    return this.words[W_OWNER]! >>> 0;
  }

  /** Releases the block and every region the job owns (driver side, once every rank is gone). */
  free(): void {
    this.arena.freeOwnedBy(this.owner);
    this.arena.free({ byteOffset: this.byteOffset, byteLength: jobControlBytes(this.worldSize) } satisfies ArenaRegion);
  }

  /** Rank `rank`'s status and flight recorder. */
  record(rank: number): RankRecord {
    const end = this.byteOffset + jobControlBytes(this.worldSize);
    return new RankRecord(this.arena.buffer(end), this.byteOffset + RECORDS_OFFSET, rank);
  }

  /** 0 while running; otherwise the abort value. */
  /** The members of the group whose block is at `groupKey`, and who has not reached `phase` of call `seq`. */
  groupWait(groupKey: number, seq: number, phase: 'arrive' | 'finish'): { ranks: number[]; missing: number[] } {
    // Other backends' keys (mpi's are odd) name no shared block here: nothing to read.
    if ((groupKey & 3) !== 0 || groupKey >= this.arena.memory.buffer.byteLength) return { ranks: [], missing: [] };
    return readGroupWait((end) => this.arena.buffer(end), groupKey, seq, phase);
  }

  get abortValue(): number {
    return Atomics.load(this.words, W_ABORT);
  }

  /** Records that `rank` failed with `message` and releases every waiting rank. First failure wins. */
  fail(rank: number, message: string): void {
    this.#raise(rank + 1, message);
  }

  /** Ends the job with a deadlock report (from the driver's watchdog). */
  failDeadlock(message: string): void {
    this.#raise(DEADLOCK, message);
  }

  #raise(value: number, message: string): void {
    if (this.abortValue !== 0) return;
    const bytes = Buffer.from(message, 'utf8').subarray(0, MESSAGE_BYTES);
    // Store the message before raising the word: a released waiter reads it right after seeing the word.
    if (Atomics.compareExchange(this.words, W_MSG_LEN, 0, -1) === 0) {
      new Uint8Array(this.words.buffer, this.byteOffset + TABLE_BYTES, bytes.length).set(bytes);
      Atomics.store(this.words, W_MSG_LEN, bytes.length);
      raiseAbort(this.abortWord, value);
    }
  }

  /** Closes the job from the driver: every waiting rank is released with a ClosedError. */
  close(): void {
    raiseAbort(this.abortWord, CLOSED_BY_DRIVER);
  }

  /** The error a released waiter throws for abort value `value`. */
  errorFor(value: number): Error {
    if (value === CLOSED_BY_DRIVER) return new ClosedError('The job was closed while this rank waited');
    if (value === DEADLOCK) return new MultirankError(ErrorCodes.DEADLOCK, this.failureMessage);
    const rank = value - 1;
    return new RankFailedError(rank, `Rank ${rank} failed, so this rank's wait was released: ${this.failureMessage}`);
  }

  /** The message stored with the first failure ('' when none). */
  get failureMessage(): string {
    const length = Math.max(0, Atomics.load(this.words, W_MSG_LEN));
    return Buffer.from(new Uint8Array(this.words.buffer, this.byteOffset + TABLE_BYTES, length)).toString('utf8');
  }

  /**
   * The group block of the group `key` (a string the members agree on), allocating it with `create` when
   * this caller is the first member to arrive. Returns the block's byte offset.
   */
  groupBlock(key: string, create: () => number, timeoutMs: number, record?: RankRecord): number {
    const marker = record === undefined ? undefined : {
      afterMs: STALL_MS, clear: () => record.clearBlocked(),
      mark: () => record.markBlockedOn(
        `creating the group ${key}: a member claimed it and has not formatted its block`,
      ),
    };
    const k1 = hashString(key), k2 = hashString(key, 0x2545f491) || 1;
    for (let probe = 0; probe < GROUP_SLOTS; probe++) {
      const slot = TABLE_WORD + (((k1 >>> 0) + probe) % GROUP_SLOTS) * SLOT_WORDS;
      const w = this.words;
      if (Atomics.load(w, slot + 1) === 0 && Atomics.compareExchange(w, slot + 2, 0, 1) === 0) {
        w[slot] = k1;
        w[slot + 3] = create();
        Atomics.store(w, slot + 1, k2);
        Atomics.store(w, slot + 2, 2);
        Atomics.notify(w, slot + 2);
        return w[slot + 3]! >>> 0; // an Int32 word holds arena offsets up to 4 GiB
      }
      // Claimed by someone: wait until its key is visible, then compare.
      const describe = (): string => `creating the group ${key}: a member claimed its slot and did not finish`;
      waitFor(
        w, slot + 2, 2, { timeoutMs, abort: this.abortWord, describe, ...(marker === undefined ? {} : { marker }) },
      );
      if (w[slot] === k1 && Atomics.load(w, slot + 1) === k2) return w[slot + 3]! >>> 0;
    }
    throw outOfRange(`The job has more than ${GROUP_SLOTS} groups; destroy groups you no longer use`);
  }
}
