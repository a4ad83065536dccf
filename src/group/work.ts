/**
 * `Work`: the handle the `...Async` calls, `isend` and `irecv` return, as torch's `Work`. They return at
 * once; the operation runs later, in the order upstream allows:
 * - collectives of a group complete in the order they were issued (every member issues them in the same
 *   order, so every member runs them in the same order). A `wait()` completes every earlier collective of
 *   the group first, and so does any blocking collective issued after them.
 * - `irecv`s complete in issue order per source and tag (messages from one source with one tag match in
 *   order); receives from different sources or with different tags, and point to point against
 *   collectives, complete in any order. `isCompleted()` completes an `irecv` whose message has arrived,
 *   without waiting.
 * - receives from any source (`src: 'any'`) and from a named source match in issue order, as MPI posts
 *   them: a receive from a named source first completes the any-source receives of its tag issued before
 *   it (each of them ends when any message arrives, which that receive would need anyway), and a receive
 *   from any source leaves to the earlier named receives still pending the messages that are theirs (the
 *   next ones from their source with their tag) and takes the first posted message after them.
 * - `isend` posts its message at once (eager, as `send`): it is complete when it returns, unless the
 *   peer has `eagerSendMessages` unread messages, where it waits as `send` does.
 * A collective's Work completes when it is waited on or when a later blocking call of its group needs it;
 * its `isCompleted()` never blocks and says false until then. An operation that failed throws its error
 * from `wait()`, every time.
 */

export interface Work<T> {
  /** Waits for completion (completing what must come first) and returns the result. */
  wait(): T;
  /** True once the operation completed (successfully or not); never blocks. */
  isCompleted(): boolean;
}

/** A Work already complete: the result of a call that finished when it was issued. */
export class CompletedWork<T> implements Work<T> {
  readonly #value: T;

  constructor(value: T) {
    this.#value = value;
  }

  wait(): T {
    return this.#value;
  }

  isCompleted(): boolean {
    return true;
  }
}

type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** One pending operation in a lane. */
class PendingWork<T> implements Work<T> {
  /** When it was issued, among the receives of its member (orders named against any-source receives). */
  readonly seq: number;
  readonly #lane: Lane;
  readonly #run: () => T;
  /** Non-blocking: true when running now would not wait (an irecv whose message is there). */
  readonly #ready: (() => boolean) | undefined;
  #outcome: Outcome<T> | undefined;

  constructor(lane: Lane, seq: number, run: () => T, ready?: () => boolean) {
    this.seq = seq;
    this.#lane = lane;
    this.#run = run;
    this.#ready = ready;
  }

  wait(): T {
    this.#lane.completeThrough(this);
    const outcome = this.#outcome!;
    if (!outcome.ok) throw outcome.error;
    return outcome.value;
  }

  isCompleted(): boolean {
    if (this.#outcome === undefined && this.#lane.isHead(this) && this.readyNow()) this.#lane.completeThrough(this);
    return this.#outcome !== undefined;
  }

  /** Whether running now would not wait (false for operations that cannot tell). */
  readyNow(): boolean {
    return this.#ready !== undefined && this.#ready();
  }

  /** Runs the operation once, keeping its result or its error. */
  complete(): void {
    try {
      this.#outcome = { ok: true, value: this.#run() };
    } catch (error) {
      this.#outcome = { ok: false, error };
    }
  }
}

/** Operations that must complete in issue order (a group's collectives, or its irecvs from one source). */
class Lane {
  readonly #queue: PendingWork<unknown>[] = [];

  get pending(): number {
    return this.#queue.length;
  }

  add<T>(run: () => T, ready?: () => boolean, seq = 0): Work<T> {
    const work = new PendingWork(this, seq, run, ready);
    this.#queue.push(work as PendingWork<unknown>);
    return work;
  }

  /** Whether an operation issued before `seq` is pending. */
  hasBefore(seq: number): boolean {
    return this.#queue.length > 0 && this.#queue[0]!.seq < seq;
  }

  /** How many pending operations were issued before `seq`. */
  countBefore(seq: number): number {
    let n = 0;
    while (n < this.#queue.length && this.#queue[n]!.seq < seq) n++;
    return n;
  }

  /** Completes, in order, the operations issued before `seq`. */
  completeBefore(seq: number): void {
    for (let head = this.#queue[0]; head !== undefined && head.seq < seq; head = this.#queue[0]) {
      this.#queue.shift();
      head.complete();
    }
  }

  isHead(work: PendingWork<unknown>): boolean {
    return this.#queue[0] === work;
  }

  /** Completes the lane's operations in order up to `last` (all of them when absent). */
  completeThrough(last?: PendingWork<unknown>): void {
    if (last !== undefined && !this.#queue.includes(last)) return; // already complete
    for (;;) {
      const head = this.#queue.shift();
      if (head === undefined) return;
      head.complete();
      if (head === last) return;
    }
  }
}

/** The pending operations of one group member. */
export class WorkQueue {
  readonly #collectives = new Lane();
  /** irecvs from a named source, by tag, then by source. */
  readonly #named = new Map<number, Map<number, Lane>>();
  /** irecvs from any source, by tag. */
  readonly #any = new Map<number, Lane>();
  /** Receives issued so far (their `seq`). */
  #issued = 0;
  /** True while a queued operation runs: the blocking call it makes must not drain the queue again. */
  #running = false;

  /** Queues a collective (it runs when waited on, or before the next blocking collective). */
  collective<T>(run: () => T): Work<T> {
    return this.#collectives.add(() => this.#inside(run));
  }

  /** Queues a receive from `src` with `tag`; `ready` says, without waiting, whether its message is there. */
  recv<T>(src: number, tag: number, run: () => T, ready: () => boolean): Work<T> {
    const seq = ++this.#issued;
    let sources = this.#named.get(tag);
    if (sources === undefined) this.#named.set(tag, (sources = new Map()));
    let lane = sources.get(src);
    if (lane === undefined) sources.set(src, (lane = new Lane()));
    const anyFirst = (): Lane | undefined => this.#any.get(tag);
    return lane.add(
      () => {
        anyFirst()?.completeBefore(seq);
        return this.#inside(run);
      },
      () => !(anyFirst()?.hasBefore(seq) ?? false) && ready(),
      seq,
    );
  }

  /**
   * Queues a receive from any source with `tag`. `run` and `ready` get, per group rank, how many of its
   * next messages with that tag belong to named receives issued earlier and still pending.
   */
  recvAny<T>(tag: number, run: (reserved: number[]) => T, ready: (reserved: number[]) => boolean): Work<T> {
    const seq = ++this.#issued;
    let lane = this.#any.get(tag);
    if (lane === undefined) this.#any.set(tag, (lane = new Lane()));
    const reserved = (): number[] => this.#reserved(tag, seq);
    return lane.add(() => this.#inside(() => run(reserved())), () => ready(reserved()), seq);
  }

  /** Per group rank: the pending named receives with `tag` issued before `seq` (their messages come first). */
  #reserved(tag: number, seq: number): number[] {
    const counts: number[] = [];
    const sources = this.#named.get(tag);
    if (sources !== undefined) for (const [src, lane] of sources) counts[src] = lane.countBefore(seq);
    return counts;
  }

  /** Before a blocking collective: completes every queued collective (no-op from inside one). */
  beforeCollective(): void {
    if (this.#running || this.#collectives.pending === 0) return;
    this.#collectives.completeThrough();
  }

  /** Before a blocking receive from `src` with `tag`: completes the queued receives it would come after. */
  beforeRecv(src: number, tag: number): void {
    if (this.#running) return;
    this.#named.get(tag)?.get(src)?.completeThrough();
    this.#any.get(tag)?.completeThrough();
  }

  /**
   * Before a blocking receive from any source with `tag`: completes the queued any-source receives of that
   * tag; returns, per group rank, the messages that pending named receives own (see `#reserved`).
   */
  beforeRecvAny(tag: number): number[] {
    if (!this.#running) this.#any.get(tag)?.completeThrough();
    return this.#reserved(tag, Infinity);
  }

  #inside<T>(run: () => T): T {
    const outer = this.#running;
    this.#running = true;
    try {
      return run();
    } finally {
      this.#running = outer;
    }
  }
}
