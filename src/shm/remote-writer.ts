/**
 * The writer's side of a MessageQueue's remote readers: readers in other processes, which receive each
 * message as a frame over a socket (remote-frame.ts) instead of reading the shared ring, as vLLM's
 * remote readers do. The sockets live in this process's relay (launch/queue-relay.ts); this end, in the
 * writer's thread, posts each message to it and keeps the flow control: a message goes out only while
 * every remote reader is fewer than `window` messages behind (its acknowledgements count what it
 * consumed), so a slow remote reader holds the writer back as a full ring does. Every wait has the
 * writer's deadline; its error names the readers waited for, and a reader whose connection is lost fails
 * the writer at once, naming it.
 */
import { ClosedError, ErrorCodes, MultirankError, TimeoutError } from '../errors.js';
import { frameHeader } from './remote-frame.js';
import type { RelayChannel } from './relay-channel.js';
import type { AbortWord } from './wait.js';

/** Events the relay posts to the writer's channel. */
export type WriterEvent =
  | { readonly type: 'listening'; readonly host: string; readonly port: number }
  | { readonly type: 'connected'; readonly reader: number }
  | { readonly type: 'ack'; readonly reader: number; readonly consumed: number }
  | { readonly type: 'lost'; readonly reader: number; readonly why: string }
  | { readonly type: 'failed'; readonly why: string };

/** How the writer's remote readers are named in errors: `reader 4 (rank 5, process 1)`. */
export type DescribeReader = (reader: number) => string;

export class RemoteReaders {
  /** Number of remote readers; their indices are 0..count-1 in this end (see `describe`). */
  readonly count: number;
  readonly #channel: RelayChannel;
  readonly #window: number;
  readonly #describe: DescribeReader;
  /** Per reader: messages it acknowledged; -1 until it connected. */
  readonly #consumed: number[];
  #sent = 0;
  #failure: Error | undefined;
  /**
   * Readers whose connection ended, and why. One that has read every message sent is no failure yet (its
   * process may have finished): the next message it cannot get is, or a drain that waits for it.
   */
  readonly #lost = new Map<number, string>();

  constructor(channel: RelayChannel, count: number, window: number, describe: DescribeReader) {
    this.#channel = channel;
    this.count = count;
    this.#window = window;
    this.#describe = describe;
    this.#consumed = new Array<number>(count).fill(-1);
  }

  /** Waits for the relay's listening socket: the address remote readers connect to. */
  address(timeoutMs: number, abort?: AbortWord | readonly AbortWord[]): { host: string; port: number } {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const event = this.#channel.next<WriterEvent>(deadline, abort);
      if (event === undefined) {
        throw this.#fail(new TimeoutError(`MessageQueue writer: no listening socket within ${timeoutMs} ms`));
      }
      if (event.type === 'listening') return { host: event.host, port: event.port };
      this.#apply(event);
      if (this.#failure !== undefined) throw this.#failure;
    }
  }

  /** Waits until every remote reader has connected (vLLM's wait_until_ready). */
  waitConnected(timeoutMs: number, abort?: AbortWord | readonly AbortWord[]): void {
    this.#waitUntil(timeoutMs, abort,
      (late) => `MessageQueue writer waiting for remote ${this.#names(late)} to connect`,
      (k) => this.#consumed[k]! < 0, () => true);
  }

  /**
   * Sends message `seq` (the codec's parts) to every remote reader once the window allows it.
   * @throws TimeoutError naming the readers that lag; MultirankError (RANK_FAILED) naming a lost reader.
   */
  send(
    main: Uint8Array, buffers: readonly Uint8Array[], timeoutMs: number, abort?: AbortWord | readonly AbortWord[],
  ): void {
    const seq = this.#sent;
    const behind = (k: number): boolean => seq - this.#consumed[k]! >= this.#window;
    this.#waitUntil(timeoutMs, abort,
      (late) => `MessageQueue writer waiting to send message ${seq}: remote ${this.#names(late)} ` +
        `${late.length === 1 ? 'has' : 'have'} not read message ${seq - this.#window}`, behind, () => true);
    const header = frameHeader(seq, main.byteLength, buffers.map((b) => b.byteLength));
    // The main part is the codec's scratch and the buffers views of the caller's arrays: one exact copy
    // each (a posted view would clone its whole ArrayBuffer), then moved to the relay without another.
    // The header is a fresh exact buffer already; slice() makes each copy over an ArrayBuffer of its own.
    const parts = [header, ...[main, ...buffers].map((part) => part.slice())];
    this.#channel.post({ type: 'send', parts }, parts.map((part) => part.buffer as ArrayBuffer));
    this.#sent++;
  }

  /** Waits until every remote reader consumed every message sent (before the queue closes). */
  drain(timeoutMs: number, abort?: AbortWord | readonly AbortWord[]): void {
    const pending = (k: number): boolean => this.#consumed[k]! < this.#sent;
    this.#waitUntil(timeoutMs, abort,
      (late) => `MessageQueue writer draining ${this.#sent} messages: remote ${this.#names(late)} ` +
        `${late.length === 1 ? 'has' : 'have'} not read them all`,
      pending, pending);
  }

  /** Closes the sockets (remote readers then get ClosedError). Idempotent. */
  close(): void {
    this.#channel.close();
  }

  #names(readers: readonly number[]): string {
    return `${readers.length === 1 ? 'reader' : 'readers'} ${readers.map((k) => this.#describe(k)).join(', ')}`;
  }

  #apply(event: WriterEvent): void {
    switch (event.type) {
      case 'connected':
        this.#consumed[event.reader] = Math.max(0, this.#consumed[event.reader]!);
        return;
      case 'ack': {
        // The count travels as u32: add its difference to what this end knew.
        const known = Math.max(0, this.#consumed[event.reader]!);
        this.#consumed[event.reader] = known + ((event.consumed - known) >>> 0);
        return;
      }
      case 'lost':
        this.#lost.set(event.reader, event.why);
        return;
      case 'failed':
        this.#fail(new ClosedError(`MessageQueue writer's relay failed: ${event.why}`));
        return;
      case 'listening':
        return;
    }
  }

  #fail(error: Error): Error {
    if (this.#failure === undefined) {
      this.#failure = error;
      this.close();
    }
    return this.#failure;
  }

  /**
   * Applies the relay's events until no reader is `late`; fails on a lost reader that the wait `needs`,
   * and on the deadline with `describe(the late readers)`.
   */
  #waitUntil(
    timeoutMs: number, abort: AbortWord | readonly AbortWord[] | undefined,
    describe: (late: number[]) => string, late: (reader: number) => boolean, needs: (reader: number) => boolean,
  ): void {
    const done = (): boolean => !this.#consumed.some((_, k) => late(k));
    const check = (): void => {
      if (this.#failure !== undefined) throw this.#failure;
      for (const [k, why] of this.#lost) {
        if (!needs(k)) continue;
        throw this.#fail(new MultirankError(ErrorCodes.RANK_FAILED,
          `MessageQueue writer lost remote reader ${this.#describe(k)}: ${why}`));
      }
    };
    for (let e = this.#channel.poll<WriterEvent>(); e !== undefined; e = this.#channel.poll<WriterEvent>()) {
      this.#apply(e);
    }
    check();
    const deadline = performance.now() + timeoutMs;
    while (!done()) {
      let event: WriterEvent | undefined;
      try {
        event = this.#channel.next<WriterEvent>(deadline, abort);
      } catch (error) {
        throw this.#fail(error as Error);
      }
      if (event === undefined) {
        const waited = this.#consumed.map((_, k) => k).filter(late);
        throw this.#fail(new TimeoutError(`${describe(waited)} within ${timeoutMs} ms`));
      }
      this.#apply(event);
      check();
    }
  }
}
