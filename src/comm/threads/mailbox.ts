/**
 * Point-to-point mailboxes of a group: one bounded queue per ordered pair (src -> dst) inside the group
 * block. `send` copies the tensor into a fresh arena region and posts it (eager: a send never waits for
 * its recv unless the queue is full, so send/send/recv/recv between two ranks cannot deadlock); `recv`
 * copies the oldest message into a new tensor (or the caller's `out`) and frees its region at once (a
 * region handed to a tensor would wait for garbage collection, which a synchronous loop of recvs never
 * gives it).
 *
 *   Int32 words of a mailbox (MAILBOX_WORDS = 64):
 *   [0] head: messages posted   [1] tail: messages taken   [2..3] reserved
 *   [4 + e*ENTRY_WORDS ...] entry e = seq % DEPTH: [offset, bytes, dtypeCode, numel, shapeHash, ndim]
 *   The sender writes the entry, then stores head (publishing it); the receiver reads it after seeing head,
 *   then stores tail, which frees the entry for the sender.
 */
import { MismatchError } from '../../errors.js';
import type { Arena } from '../../shm/arena.js';
import { waitFor, type WaitOptions } from '../../shm/wait.js';
import { dtypeFromCode, type DType } from '../../tensor/dtype.js';
import { formatShape } from '../../tensor/shape.js';
import { empty, type Tensor } from '../../tensor/tensor.js';
import { MAILBOX_WORDS, type GroupBlock } from './group-block.js';
import type { ArenaCopier } from './scratch.js';
import { STALL_MS, type RankRecord } from '../../debug/rank-status.js';

const HEAD = 0, TAIL = 1, ENTRIES = 4, ENTRY_WORDS = 6;
/** Messages a pair can have in flight before `send` waits. */
export const MAILBOX_DEPTH = Math.floor((MAILBOX_WORDS - ENTRIES) / ENTRY_WORDS);

function shapeHash(shape: readonly number[]): number {
  let h = 0x811c9dc5;
  for (const size of shape) h = Math.imul(h ^ size, 0x01000193);
  return h | 0;
}

export class Mailboxes {
  readonly #block: GroupBlock;
  readonly #arena: Arena;
  /** The arena tag of the job (a message nobody receives is freed with the job). */
  readonly #owner: number;
  readonly #io: ArenaCopier;
  readonly #wait: WaitOptions;
  readonly #record: RankRecord;
  #what = '';
  #op: 'send' | 'recv' = 'send';
  #peer = -1;
  #marked = false;

  constructor(block: GroupBlock, arena: Arena, owner: number, io: ArenaCopier, record: RankRecord, wait: Omit<WaitOptions, 'describe'>) {
    this.#block = block;
    this.#arena = arena;
    this.#owner = owner;
    this.#io = io;
    this.#record = record;
    this.#wait = {
      ...wait, abort: block.abortWords, adaptiveSpin: block.adaptiveSpin, describe: () => this.#what,
      stallMs: STALL_MS, onStall: () => this.#markBlocked(),
    };
  }

  set timeoutMs(value: number) {
    this.#wait.timeoutMs = value;
  }

  #markBlocked(): void {
    if (this.#marked) return;
    this.#marked = true;
    this.#record.markBlocked(this.#op, this.#op, this.#block.byteOffset, 0, this.#peer);
  }

  /** Waits on the mailbox word, marking this rank blocked in the status record if the wait stalls. */
  #waitOn(index: number, ready: (value: number) => boolean, op: 'send' | 'recv', peer: number): void {
    this.#op = op;
    this.#peer = peer;
    this.#block.check();
    try {
      waitFor(this.#block.words, index, ready, this.#wait);
    } catch (error) {
      this.#block.fail(error, op, 0);
      throw error;
    }
    if (this.#marked) {
      this.#marked = false;
      this.#record.clearBlocked();
    }
  }

  #base(src: number, dst: number): number {
    return (this.#block.layout.mailboxOffset >> 2) + (src * this.#block.size + dst) * MAILBOX_WORDS;
  }

  /** Posts a copy of `t` to group member `dst`. */
  send(t: Tensor, dst: number): void {
    const w = this.#block.words, me = this.#block.rankInGroup;
    const base = this.#base(me, dst);
    const head = Atomics.load(w, base + HEAD);
    this.#what = `Rank ${this.#block.ranks[me]} timed out in send to rank ${this.#block.ranks[dst]}: ${MAILBOX_DEPTH} earlier messages were not received`;
    this.#waitOn(base + TAIL, (tail) => head - tail < MAILBOX_DEPTH, 'send', this.#block.ranks[dst]!);
    const region = this.#arena.alloc(t.byteLength, this.#owner);
    this.#io.fromTensor(region.byteOffset, t);
    const e = base + ENTRIES + (head % MAILBOX_DEPTH) * ENTRY_WORDS;
    w[e] = region.byteOffset | 0;
    w[e + 1] = t.byteLength;
    w[e + 2] = t.info.code;
    w[e + 3] = t.numel;
    w[e + 4] = shapeHash(t.shape);
    w[e + 5] = t.ndim;
    Atomics.store(w, base + HEAD, head + 1);
    Atomics.notify(w, base + HEAD);
  }

  /** Whether a message from group member `src` waits to be received (never waits, takes nothing). */
  probe(src: number): boolean {
    const w = this.#block.words, base = this.#base(src, this.#block.rankInGroup);
    return Atomics.load(w, base + HEAD) !== Atomics.load(w, base + TAIL);
  }

  /** Takes the oldest message from group member `src`; it must have `shape` and `dtype`. Writes it into `given` when there is one. */
  recv(shape: readonly number[], dtype: DType, src: number, given?: Tensor): Tensor {
    const w = this.#block.words, me = this.#block.rankInGroup;
    const base = this.#base(src, me);
    const tail = Atomics.load(w, base + TAIL);
    this.#what = `Rank ${this.#block.ranks[me]} timed out in recv from rank ${this.#block.ranks[src]}: nothing was sent`;
    this.#waitOn(base + HEAD, (head) => head !== tail, 'recv', this.#block.ranks[src]!);
    const e = base + ENTRIES + (tail % MAILBOX_DEPTH) * ENTRY_WORDS;
    const region = { byteOffset: w[e]! >>> 0, byteLength: w[e + 1]! };
    const sentDtype = dtypeFromCode(w[e + 2]!) ?? 'unknown';
    // Read the entry before storing tail: from then on the sender may reuse it for its next message.
    const sentNumel = w[e + 3]!, sentNdim = w[e + 5]!;
    const numel = shape.reduce((a, b) => a * b, 1);
    const agrees = sentDtype === dtype && sentNumel === numel && w[e + 4] === shapeHash(shape) && sentNdim === shape.length;
    const out = agrees ? given ?? empty(shape, { dtype }) : undefined;
    if (out !== undefined) this.#io.toTensor(out, 0, region.byteOffset, out.byteLength);
    this.#arena.free(region);
    Atomics.store(w, base + TAIL, tail + 1);
    Atomics.notify(w, base + TAIL);
    if (out === undefined) {
      throw new MismatchError(
        `Rank ${this.#block.ranks[me]} called recv(shape=${formatShape(shape)}, dtype=${dtype}) from rank ${this.#block.ranks[src]}, ` +
          `but that rank sent a tensor of dtype ${sentDtype} with ${sentNumel} elements in ${sentNdim} dims`,
      );
    }
    return out;
  }
}
