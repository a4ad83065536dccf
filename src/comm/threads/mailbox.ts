/**
 * Point-to-point mailboxes of a group: one bounded queue per ordered pair (src -> dst) inside the group
 * block. `send` copies the tensor into a fresh arena region and posts it with its tag (eager: a send never
 * waits for its recv unless the queue is full, so send/send/recv/recv between two ranks cannot deadlock);
 * `recv` copies the message into a new tensor (or the caller's `out`) and frees its region at once (a
 * region handed to a tensor would wait for garbage collection, which a synchronous loop of recvs never
 * gives it).
 *
 * Matching (MPI's and torch's): a recv takes the oldest message from `src` whose tag is its tag; messages
 * from one source with one tag are received in the order sent. A recv that finds another tag first moves
 * that message out of the shared queue into this receiver's held list (its bytes stay in their arena
 * region, owned by the job), so the sender's queue keeps moving; later recvs look there first.
 * A recv from any source takes, among every other member's first matching message (past the ones that
 * earlier receives still pending own: `reserved`), the one that was posted first (the receiver's arrival
 * stamp, taken by each send before it publishes).
 *
 * The layout of a mailbox and of its entries is in mailbox-format.ts.
 */
import { MismatchError } from '../../errors.js';
import type { Arena } from '../../shm/arena.js';
import { waitFor, type WaitOptions } from '../../shm/wait.js';
import { dtypeFromCode, dtypeInfo, type DType } from '../../tensor/dtype.js';
import { formatShape } from '../../tensor/shape.js';
import { empty, type Tensor } from '../../tensor/tensor.js';
import { MAILBOX_WORDS, type GroupBlock } from './group-block.js';
import {
  ARRIVALS, dimsOffset, DOORBELL, entryIndex, HEAD, MAILBOX_DEPTH, messageRegionBytes, readEntry, TAIL,
  writeEntry,
  type Message,
} from './mailbox-format.js';
import type { ArenaCopier } from './scratch.js';
import { STALL_MS, type RankRecord } from '../../debug/rank-status.js';
import type { Received } from '../types.js';

const tagText = (tag: number): string => (tag === 0 ? '' : ` (tag ${tag})`);

export class Mailboxes {
  readonly #block: GroupBlock;
  readonly #arena: Arena;
  #float64View: Float64Array;
  /** The arena tag of the job (a message nobody receives is freed with the job). */
  readonly #owner: number;
  readonly #io: ArenaCopier;
  readonly #wait: WaitOptions;
  readonly #record: RankRecord;
  /** Per source (group rank): messages taken off the queue by a recv that looked for another tag, oldest first. */
  readonly #held: Message[][];
  #timeoutMs: number;
  /** Says what the current wait waits for (read when it times out: the held lists may have grown). */
  #what: () => string = () => '';
  #blockedText = '';
  #peer = -1;
  #op: 'send' | 'recv' = 'send';
  #marked = false;

  constructor(
    block: GroupBlock, arena: Arena, owner: number, io: ArenaCopier, record: RankRecord,
    wait: Omit<WaitOptions, 'describe'>,
  ) {
    this.#block = block;
    this.#arena = arena;
    this.#float64View = new Float64Array(arena.buffer());
    this.#owner = owner;
    this.#io = io;
    this.#record = record;
    this.#held = Array.from({ length: block.size }, () => []);
    this.#timeoutMs = wait.timeoutMs;
    this.#wait = {
      ...wait, abort: block.abortWords, adaptiveSpin: block.adaptiveSpin, describe: () => this.#what(),
      stallMs: STALL_MS, onStall: () => this.#markBlocked(),
    };
  }

  set timeoutMs(value: number) {
    this.#timeoutMs = value;
    this.#wait.timeoutMs = value;
  }

  #markBlocked(): void {
    if (this.#marked) return;
    this.#marked = true;
    if (this.#blockedText !== '') this.#record.markBlockedOn(this.#blockedText);
    else this.#record.markBlocked(this.#op, this.#op, this.#block.byteOffset, 0, this.#peer);
  }

  /**
   * Waits until `flags[index]` differs from `seen`, within what is left of the call's deadline (a recv
   * that skips messages of other tags waits several times), marking this rank blocked if the wait stalls.
   */
  #waitChange(index: number, seen: number, deadline: number): void {
    this.#block.check();
    this.#wait.timeoutMs = Math.max(1, deadline - performance.now());
    try {
      waitFor(this.#block.words, index, (value) => value !== seen, this.#wait);
    } catch (error) {
      this.#block.fail(error, this.#op, 0);
      throw error;
    } finally {
      this.#wait.timeoutMs = this.#timeoutMs;
    }
  }

  #clearBlocked(): void {
    if (!this.#marked) return;
    this.#marked = false;
    this.#record.clearBlocked();
  }

  #base(src: number, dst: number): number {
    return (this.#block.layout.mailboxOffset >> 2) + (src * this.#block.size + dst) * MAILBOX_WORDS;
  }

  /** Posts a copy of `t` with `tag` to group member `dst`. */
  send(t: Tensor, dst: number, tag = 0): void {
    const w = this.#block.words, me = this.#block.rankInGroup;
    const base = this.#base(me, dst);
    const head = Atomics.load(w, base + HEAD);
    if (head - Atomics.load(w, base + TAIL) >= MAILBOX_DEPTH) {
      this.#op = 'send';
      this.#peer = this.#block.ranks[dst]!;
      this.#blockedText = '';
      this.#what = () => `Rank ${this.#block.ranks[me]} timed out in send to rank ${this.#peer}${tagText(tag)}: ` +
        `${MAILBOX_DEPTH} earlier messages were not received`;
      const deadline = performance.now() + this.#timeoutMs;
      for (let tail = Atomics.load(w, base + TAIL); head - tail >= MAILBOX_DEPTH; tail = Atomics.load(w, base + TAIL)) {
        this.#waitChange(base + TAIL, tail, deadline);
      }
      this.#clearBlocked();
    }
    const region = this.#arena.alloc(messageRegionBytes(t.byteLength, t.ndim), this.#owner);
    this.#io.fromTensor(region.byteOffset, t);
    const dimsAt = region.byteOffset + dimsOffset(t.byteLength), dims = this.#float64(dimsAt + 8 * t.ndim);
    for (let d = 0; d < t.ndim; d++) dims[(dimsAt >> 3) + d] = t.shape[d]!;
    const inbox = this.#base(dst, dst);
    writeEntry(w, entryIndex(base, head), region.byteOffset, t, tag, Atomics.add(w, inbox + ARRIVALS, 1));
    Atomics.store(w, base + HEAD, head + 1);
    Atomics.notify(w, base + HEAD);
    Atomics.add(w, inbox + DOORBELL, 1);
    Atomics.notify(w, inbox + DOORBELL);
  }

  /**
   * The oldest message from `src` with `tag` after the first `skip` of them, moving the messages before it
   * to the held list (which keeps their order); takes nothing.
   */
  #next(src: number, tag: number, skip = 0): Message | undefined {
    const held = this.#held[src]!;
    let seen = 0;
    for (const m of held) if (m.tag === tag && seen++ === skip) return m;
    const w = this.#block.words, base = this.#base(src, this.#block.rankInGroup);
    for (;;) {
      const tail = Atomics.load(w, base + TAIL);
      if (Atomics.load(w, base + HEAD) === tail) return undefined;
      const m = readEntry(w, entryIndex(base, tail), src);
      if (m.tag === tag && seen++ === skip) return m;
      // Another tag, or one that an earlier receive owns: hold it here, which frees its entry for the sender.
      m.queued = false;
      held.push(m);
      this.#advance(base, tail);
    }
  }

  #advance(base: number, tail: number): void {
    const w = this.#block.words;
    Atomics.store(w, base + TAIL, tail + 1);
    Atomics.notify(w, base + TAIL);
  }

  /**
   * Whether a message with `tag` from group member `src` (or from any member, past the ones `reserved` for
   * earlier receives) waits to be received. Never waits, takes nothing.
   */
  probe(src: number | 'any', tag = 0, reserved: readonly number[] = []): boolean {
    if (src !== 'any') return this.#next(src, tag) !== undefined;
    return this.#first(tag, reserved) !== undefined;
  }

  /** Among the other members' first matching messages (past those reserved), the one posted first. */
  #first(tag: number, reserved: readonly number[]): Message | undefined {
    let best: Message | undefined;
    for (let src = 0; src < this.#block.size; src++) {
      if (src === this.#block.rankInGroup) continue;
      const m = this.#next(src, tag, reserved[src] ?? 0);
      if (m !== undefined && (best === undefined || ((m.stamp - best.stamp) | 0) < 0)) best = m;
    }
    return best;
  }

  /**
   * Takes the oldest message with `tag` from group member `src`; it must have `shape` and `dtype`. Writes
   * it into `given` when there is one.
   */
  recv(shape: readonly number[], dtype: DType, src: number, tag = 0, given?: Tensor): Tensor {
    const me = this.#block.rankInGroup, base = this.#base(src, me);
    let m = this.#next(src, tag);
    if (m === undefined) {
      this.#op = 'recv';
      this.#peer = this.#block.ranks[src]!;
      this.#blockedText = tag === 0 ? '' : `recv from rank ${this.#peer} (tag ${tag})`;
      this.#what = () => `Rank ${this.#block.ranks[me]} timed out in recv from rank ${this.#peer}${tagText(tag)}: ` +
        `nothing was sent${tag === 0 ? '' : ` with tag ${tag}`}${this.#heldTags([src], tag)}`;
      const deadline = performance.now() + this.#timeoutMs;
      const w = this.#block.words;
      for (let head = Atomics.load(w, base + HEAD); ; head = Atomics.load(w, base + HEAD)) {
        m = this.#next(src, tag);
        if (m !== undefined) break;
        this.#waitChange(base + HEAD, head, deadline);
      }
      this.#clearBlocked();
    }
    return this.#take(m, shape, dtype, given);
  }

  /**
   * Takes the first posted message with `tag` from any member but this one (past the ones `reserved` for
   * earlier receives); it must have `shape` and `dtype`. Returns it with its sender.
   */
  recvAny(
    shape: readonly number[], dtype: DType, tag = 0, reserved: readonly number[] = [], given?: Tensor,
  ): Received {
    const w = this.#block.words, me = this.#block.rankInGroup, doorbell = this.#base(me, me) + DOORBELL;
    let m = this.#first(tag, reserved);
    if (m === undefined) {
      const members = this.#block.ranks.filter((_, g) => g !== me);
      const listened = Array.from({ length: this.#block.size }, (_, g) => g).filter((g) => g !== me);
      this.#op = 'recv';
      this.#peer = -1;
      this.#blockedText = `recv from any of ranks ${members.join(', ')} (tag ${tag})`;
      this.#what = () => `Rank ${this.#block.ranks[me]} timed out in recv from any source (tag ${tag}) of group ` +
        `[${this.#block.ranks.join(', ')}]: waited for ranks ${members.join(', ')}; ` +
        `none sent a message with tag ${tag}` +
        this.#heldTags(listened, tag);
      const deadline = performance.now() + this.#timeoutMs;
      for (let rung = Atomics.load(w, doorbell); ; rung = Atomics.load(w, doorbell)) {
        m = this.#first(tag, reserved);
        if (m !== undefined) break;
        this.#waitChange(doorbell, rung, deadline);
      }
      this.#clearBlocked();
    }
    return { tensor: this.#take(m, shape, dtype, given), src: m.src };
  }

  /** The tags other than `tag` that `sources` sent and nobody took yet (for a timeout message). */
  #heldTags(sources: readonly number[], tag: number): string {
    const others = (s: number): number[] => this.#held[s]!.filter((m) => m.tag !== tag).map((m) => m.tag);
    const parts = sources.filter((s) => others(s).length > 0)
      .map((s) => `rank ${this.#block.ranks[s]}: ${others(s).join(', ')}`);
    return parts.length === 0 ? '' : ` (messages with other tags arrived, held: ${parts.join('; ')})`;
  }

  /** Receives `m` (consuming it), checking its dtype and exact shape against what the caller expects. */
  #take(m: Message, shape: readonly number[], dtype: DType, given?: Tensor): Tensor {
    const sentDtype = dtypeFromCode(m.dtypeCode);
    // the sender wrote its dims after its bytes: m.numel elements of its own dtype
    const dimsAt = sentDtype === undefined ? -1
      : m.offset + dimsOffset(m.numel * dtypeInfo(sentDtype).itemBytes);
    const dims = dimsAt < 0 ? undefined : this.#float64(dimsAt + 8 * m.ndim), first = dimsAt >> 3;
    const agrees = sentDtype === dtype && dims !== undefined && sameDims(dims, first, m.ndim, shape);
    if (!agrees) {
      // read before the region is freed
      const sent = dims === undefined ? `of unknown dtype code ${m.dtypeCode}`
        : `of dtype ${sentDtype} and shape ${formatShape(Array.from(dims.subarray(first, first + m.ndim)))}`;
      this.#release(m);
      const me = this.#block.ranks[this.#block.rankInGroup], from = this.#block.ranks[m.src];
      throw new MismatchError(
        `Rank ${me} called recv(shape=${formatShape(shape)}, dtype=${dtype}${m.tag === 0 ? '' : `, tag=${m.tag}`}) ` +
          `from rank ${from}, but that rank sent a tensor ${sent}`,
      );
    }
    const out = given ?? empty(shape, { dtype });
    this.#io.toTensor(out, 0, m.offset, out.byteLength);
    this.#release(m);
    return out;
  }

  /**
   * The arena as float64s, covering byte `end` (a message's dims, 8-aligned since regions start
   * 64-aligned, are at index byte >> 3): one view, made again only after the arena grew.
   */
  #float64(end: number): Float64Array {
    if (end > this.#float64View.byteLength) this.#float64View = new Float64Array(this.#arena.buffer(end));
    return this.#float64View;
  }

  /** Frees `m`'s region and takes it off its queue or its held list. */
  #release(m: Message): void {
    this.#arena.free({ byteOffset: m.offset, byteLength: 0 }); // the allocator reads the length from its header
    if (m.queued) {
      const base = this.#base(m.src, this.#block.rankInGroup);
      this.#advance(base, Atomics.load(this.#block.words, base + TAIL));
    } else {
      const held = this.#held[m.src]!;
      held.splice(held.indexOf(m), 1);
    }
  }

  /** Frees the regions of held messages nobody received (the group is destroyed). */
  discard(): void {
    for (const held of this.#held) {
      for (const m of held.splice(0)) this.#arena.free({ byteOffset: m.offset, byteLength: 0 });
    }
  }
}

/** Whether the `ndim` dims a sender wrote at `dims[at]` are exactly `shape`. */
function sameDims(dims: Float64Array, at: number, ndim: number, shape: readonly number[]): boolean {
  if (ndim !== shape.length) return false;
  for (let i = 0; i < ndim; i++) if (dims[at + i] !== shape[i]) return false;
  return true;
}
