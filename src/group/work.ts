/**
 * `Work`: the handle the `...Async` calls, `isend` and `irecv` return, as torch's `Work`. They return at
 * once; the operation runs later, in the order upstream allows:
 * - collectives of a group complete in the order they were issued (every member issues them in the same
 *   order, so every member runs them in the same order). A `wait()` completes every earlier collective of
 *   the group first, and so does any blocking collective issued after them.
 * - `irecv`s complete in issue order per source (messages from one source match in order); receives from
 *   different sources, and point to point against collectives, complete in any order. `isCompleted()`
 *   completes an `irecv` whose message has arrived, without waiting.
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
  readonly #lane: Lane;
  readonly #run: () => T;
  /** Non-blocking: true when running now would not wait (an irecv whose message is there). */
  readonly #ready: (() => boolean) | undefined;
  #outcome: Outcome<T> | undefined;

  constructor(lane: Lane, run: () => T, ready?: () => boolean) {
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
    if (this.#outcome === undefined && this.#ready !== undefined && this.#lane.isHead(this) && this.#ready()) {
      this.#lane.completeThrough(this);
    }
    return this.#outcome !== undefined;
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

  add<T>(run: () => T, ready?: () => boolean): Work<T> {
    const work = new PendingWork(this, run, ready);
    this.#queue.push(work as PendingWork<unknown>);
    return work;
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
  readonly #recvs = new Map<number, Lane>();
  /** True while a queued operation runs: the blocking call it makes must not drain the queue again. */
  #running = false;

  /** Queues a collective (it runs when waited on, or before the next blocking collective). */
  collective<T>(run: () => T): Work<T> {
    return this.#collectives.add(() => this.#inside(run));
  }

  /** Queues a receive from `src`; `ready` says, without waiting, whether its message is there. */
  recv<T>(src: number, run: () => T, ready: () => boolean): Work<T> {
    let lane = this.#recvs.get(src);
    if (lane === undefined) {
      lane = new Lane();
      this.#recvs.set(src, lane);
    }
    return lane.add(() => this.#inside(run), ready);
  }

  /** Before a blocking collective: completes every queued collective (no-op from inside one). */
  beforeCollective(): void {
    if (this.#running || this.#collectives.pending === 0) return;
    this.#collectives.completeThrough();
  }

  /** Before a blocking receive from `src`: completes the queued receives from it. */
  beforeRecv(src: number): void {
    if (this.#running) return;
    this.#recvs.get(src)?.completeThrough();
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
