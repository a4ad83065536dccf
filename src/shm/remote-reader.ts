/**
 * A reader of a MessageQueue in another process than its writer (vLLM's remote reader): it receives each
 * message as a frame over a socket, which this process's relay (launch/queue-relay.ts) reassembles into
 * the codec's parts, each over an ArrayBuffer of its own that the decoded value may keep. It acknowledges
 * each message it consumed, which opens the writer's window (remote-writer.ts). Same surface as a
 * QueueReader's `dequeue` / `broadcastObject`, same deadlines, same ClosedError when the writer closes.
 */
import { ClosedError, ErrorCodes, MultirankError, TimeoutError, checkTimeoutMs } from '../errors.js';
import { DefaultCodec, type ObjectCodec } from './serialize.js';
import { ackBytes } from './remote-frame.js';
import type { RelayChannel } from './relay-channel.js';
import type { QueueCallOptions } from './queue-end.js';
import { DEFAULT_TIMEOUT_MS, throwIfAborted, type AbortWord } from './wait.js';

/** Events the relay posts to a remote reader's channel. */
export type ReaderEvent =
  | { readonly type: 'message'; readonly seq: number; readonly main: Uint8Array; readonly buffers: Uint8Array[] }
  | { readonly type: 'closed'; readonly why: string };

export interface RemoteReaderOptions {
  timeoutMs?: number;
  abort?: AbortWord;
  codec?: ObjectCodec;
  /** Who writes, for messages: `rank 0 (process 0)`. */
  writer?: string;
  /** This reader, for messages: `rank 5 (process 1)`; default its index among the remote readers. */
  name?: string;
  /** A wait that times out closes the connection (the writer then fails naming this reader). */
  closeOnTimeout?: boolean;
}

export class RemoteQueueReader {
  /** This reader's index among the queue's remote readers. */
  readonly readerIndex: number;
  readonly #channel: RelayChannel;
  readonly #codec: ObjectCodec;
  readonly #timeoutMs: number;
  readonly #abort: AbortWord | undefined;
  readonly #writer: string;
  readonly #name: string;
  readonly #closeOnTimeout: boolean;
  #message = 0;
  #failure: Error | undefined;

  constructor(channel: RelayChannel, readerIndex: number, options: RemoteReaderOptions = {}) {
    this.#channel = channel;
    this.readerIndex = readerIndex;
    this.#codec = options.codec ?? new DefaultCodec();
    this.#timeoutMs = checkTimeoutMs('options.timeoutMs', options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    this.#abort = options.abort;
    this.#writer = options.writer ?? 'the writer';
    this.#name = options.name ?? String(readerIndex);
    this.#closeOnTimeout = options.closeOnTimeout === true;
  }

  /**
   * Receives the next message (blocking until it arrives).
   * @throws ClosedError when the writer closed the queue or its connection ended; TimeoutError.
   */
  dequeue(options?: QueueCallOptions): unknown {
    if (this.#failure !== undefined) throw this.#failure;
    throwIfAborted(this.#abort);
    const timeoutMs = options?.timeoutMs === undefined ? this.#timeoutMs
      : checkTimeoutMs('options.timeoutMs', options.timeoutMs);
    const what = (): string => `MessageQueue remote reader ${this.#name} waiting for message ${this.#message} ` +
      `from ${this.#writer}`;
    const event = this.#channel.next<ReaderEvent>(performance.now() + timeoutMs, this.#abort);
    if (event === undefined) {
      const error = new TimeoutError(`${what()}: nothing within ${timeoutMs} ms`);
      if (this.#closeOnTimeout) this.#end(error);
      throw error;
    }
    if (event.type === 'closed') throw this.#end(new ClosedError(`${what()}: queue closed (${event.why})`));
    if (event.seq !== this.#message >>> 0) {
      throw this.#end(new MultirankError(ErrorCodes.MISMATCH,
        `${what()}: the connection delivered message ${event.seq} (a frame was lost or reordered)`));
    }
    this.#message++;
    this.#channel.post({ type: 'ack', bytes: ackBytes(this.#message) });
    return this.#codec.decode(event.main, event.buffers);
  }

  /** Reader side of a broadcast: returns the next message. */
  broadcastObject(options?: QueueCallOptions): unknown {
    return this.dequeue(options);
  }

  /** Closes this reader's connection (the writer then fails naming it); later calls throw ClosedError. Idempotent. */
  close(): void {
    this.#end(new ClosedError(`MessageQueue remote reader ${this.#name}: closed`));
  }

  #end(error: Error): Error {
    this.#failure ??= error;
    this.#channel.close();
    return this.#failure;
  }
}

