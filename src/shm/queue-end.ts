/**
 * What the two ends of a MessageQueue share (message-queue.ts describes the protocol): the defaults and
 * options, the segment layout rule, and `QueueEnd`, the cursor over chunks and laps with its waiting.
 */
import {
  ClosedError, ErrorCodes, MultirankError, TimeoutError, checkInteger, checkTimeoutMs, invalidType, outOfRange,
} from '../errors.js';
import { DefaultCodec, type ObjectCodec } from './serialize.js';
import { H_CLOSED, LAP_MAX, ShmRingBuffer, type ShmRegion } from './ring-buffer.js';
import {
  AdaptiveSpin, DEFAULT_TIMEOUT_MS, SPIN_ITERATIONS_ADAPTIVE_MAX, SPIN_ITERATIONS_MAX, throwIfAborted, waitFor,
  type AbortWord,
  type WaitCondition, type WaitOptions,
} from './wait.js';


/** Default chunk size for a group's broadcaster (vLLM's mq_broadcaster: 4 MiB x 6). */
export const QUEUE_CHUNK_BYTES = 4 * 1024 * 1024;
/** Default number of chunks for a group's broadcaster. */
export const QUEUE_CHUNKS = 6;
/** Default time a wait lasts before it reports a stall (and again every as long). */
export const STALL_REPORT_MS = 5_000;
/** Most out-of-band buffers in one message. */
export const MESSAGE_BUFFERS_MAX = 1 << 20;
/** Every segment of a message starts at a multiple of this in its chunk (see the file header). */
export const SEGMENT_ALIGN_BYTES = 16;
/** Copies up to this size are done byte by byte: cheaper than TypedArray#set's fixed cost on shared memory. */
export const SMALL_COPY_BYTES = 16;
export const FRAME_MAGIC = 0x6d736731; // "msg1"
export const FRAME_FIXED_WORDS = 4;

/** What a stalled wait reports: who waits, for which chunk and message, and which readers lag. */
export interface StallReport {
  readonly role: 'writer' | 'reader';
  /** The waiting reader's index (readers only). */
  readonly reader?: number;
  readonly chunk: number;
  readonly message: number;
  readonly waitedMs: number;
  /** Readers that have not released the chunk the writer waits for (or that the writer's next chunk waits for). */
  readonly pendingReaders: readonly number[];
  /** Writer only: the message (low 30 bits) in the chunk it waits to reuse, unread by those readers. */
  readonly unreadMessage?: number;
  readonly text: string;
}

/** What a queue's long waits tell a status record (debug/rank-status.ts's RankRecord has both). */
export interface BlockedRecord {
  markBlockedOn(text: string): void;
  clearBlocked(): void;
}

/** `rank 3` or `ranks 1, 2`. */
export function ranksText(ranks: readonly number[]): string {
  return `${ranks.length === 1 ? 'rank' : 'ranks'} ${ranks.join(', ')}`;
}

/**
 * Shows a long wait of a queue end in a status record (`WaitMarker`, given the end's stall report): the
 * deadlock watchdog reads the rank records, and a rank waiting in a queue is as blocked as one in a barrier.
 */
export interface QueueWaitMarker {
  readonly afterMs: number;
  mark(report: StallReport): void;
  clear(): void;
}

/** Per-handle options (each thread chooses its own; nothing here is shared). */
export interface QueueHandleOptions {
  /** Deadline of each wait, ms; default DEFAULT_TIMEOUT_MS (pass `timeoutFromEnv()` to honour the env). */
  timeoutMs?: number;
  /** Spin budget before sleeping, 0..SPIN_ITERATIONS_MAX; pass 0 when threads outnumber cores. */
  spinIterations?: number;
  /** Wait this long before `onStall` (and again every as long); default STALL_REPORT_MS. */
  stallMs?: number;
  /**
   * Receives stall reports; default `console.warn(report.text)` (synchronous in the main thread, unlike emitWarning).
   */
  onStall?: (report: StallReport) => void;
  /** A job-wide abort word that also ends every wait (see wait.ts). */
  abort?: AbortWord;
  /** Object codec; default a new `DefaultCodec`. Writer and readers must use compatible codecs. */
  codec?: ObjectCodec;
  /**
   * For tests only: the lap this end starts at (1..LAP_MAX, default 1), to reach the wrap from LAP_MAX
   * to 1 without 2^28 laps. Every end of a ring must pass the same value.
   */
  firstLap?: number;
  /**
   * A wait that times out closes the queue for every end (default false: the caller may retry). For a
   * queue whose calls pair up across threads, as a group's broadcasts do: once one end gave up on a call,
   * the next call would get the message meant for the last one. This end then rethrows its timeout.
   */
  closeOnTimeout?: boolean;
  /** Marks this end's long waits in a status record (see `QueueWaitMarker`). */
  marker?: QueueWaitMarker;
}

/** Per-call options of `enqueue` / `dequeue`. */
export interface QueueCallOptions {
  timeoutMs?: number;
}

/** What another thread needs to attach: the region (SharedArrayBuffer and offsets). */
export type MessageQueueHandle = ShmRegion;

/** Segment lengths travel as u32. */
export function checkSegment(byteLength: number): number {
  if (byteLength > 0xffffffff) {
    throw outOfRange(`A message part of ${byteLength} bytes is too large (at most ${0xffffffff} bytes per array)`);
  }
  return byteLength;
}

export function corrupt(text: string): MultirankError {
  return new MultirankError(ErrorCodes.MISMATCH, `MessageQueue ring is corrupt: ${text}`);
}

/**
 * Where a segment of `length` bytes starts when the current chunk has `pos` bytes used: the next multiple
 * of SEGMENT_ALIGN_BYTES, or the next chunk (`capacity`) when it fits a chunk but not the rest of this one.
 */
export function segmentStart(pos: number, length: number, capacity: number): number {
  const aligned = Math.ceil(pos / SEGMENT_ALIGN_BYTES) * SEGMENT_ALIGN_BYTES;
  return aligned > 0 && length <= capacity && aligned + length > capacity ? capacity : aligned;
}

/** Chunks a message of these segment lengths occupies (header first), by the writer's rules. */
export function chunksNeeded(lengths: readonly number[], capacity: number): number {
  let chunks = 1, pos = 0;
  for (const length of lengths) {
    pos = segmentStart(pos, length, capacity);
    for (let left = length; left > 0;) {
      if (pos === capacity) { chunks++; pos = 0; }
      const n = Math.min(left, capacity - pos);
      pos += n;
      left -= n;
    }
  }
  return chunks;
}

/** State and waiting shared by the writer and the readers: the cursor over chunks and laps. */
export abstract class QueueEnd {
  protected readonly ring: ShmRingBuffer;
  protected readonly words: Int32Array;
  protected readonly bytes: Uint8Array;
  protected readonly codec: ObjectCodec;
  protected readonly wait: WaitOptions;
  protected readonly timeoutMs: number;
  protected readonly onStall: (report: StallReport) => void;
  readonly #closeOnTimeout: boolean;
  /** The timeout that closed the queue (`closeOnTimeout`), thrown again by every later call of this end. */
  #failure: Error | undefined;
  protected chunk = 0;
  protected lap = 1;
  protected wrapped = false;
  /** Messages finished by this end; the next message's sequence number. */
  protected message = 0;
  /** Bytes used in the current chunk. */
  protected pos = 0;
  /** Bytes of a chunk that messages use: maxChunkBytes rounded down to SEGMENT_ALIGN_BYTES. */
  protected readonly capacity: number;

  constructor(ring: ShmRingBuffer, options: QueueHandleOptions) {
    if (options === null || typeof options !== 'object') throw invalidType('options', 'an object', options);
    this.ring = ring;
    this.words = ring.words;
    this.bytes = ring.bytes;
    this.capacity = ring.maxChunkBytes - (ring.maxChunkBytes % SEGMENT_ALIGN_BYTES);
    this.codec = options.codec ?? new DefaultCodec();
    if (typeof this.codec?.encode !== 'function' || typeof this.codec.decode !== 'function') {
      throw invalidType('options.codec', 'an object with encode() and decode()', options.codec);
    }
    this.timeoutMs = checkTimeoutMs('options.timeoutMs', options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    this.lap = checkInteger('options.firstLap', options.firstLap ?? 1, 1, LAP_MAX);
    const stallMs = checkTimeoutMs('options.stallMs', options.stallMs ?? STALL_REPORT_MS);
    const spinIterations = checkInteger(
      'options.spinIterations', options.spinIterations ?? SPIN_ITERATIONS_MAX, 0, SPIN_ITERATIONS_MAX,
    );
    if (options.onStall !== undefined && typeof options.onStall !== 'function') {
      throw invalidType('options.onStall', 'a function', options.onStall);
    }
    this.onStall = options.onStall ?? ((report) => console.warn(report.text));
    this.#closeOnTimeout = options.closeOnTimeout === true;
    const marker = options.marker;
    const closedWord: AbortWord = {
      flags: ring.words, index: H_CLOSED, error: () => new ClosedError(`${this.describe()}: queue closed`),
    };
    this.wait = {
      timeoutMs: this.timeoutMs, spinIterations, stallMs,
      // A handle told to spin (its caller found a core for every thread) adapts its budget to its waits.
      ...(
        options.spinIterations !== undefined && options.spinIterations > 0
          ? { adaptiveSpin: new AdaptiveSpin(SPIN_ITERATIONS_ADAPTIVE_MAX) }
          : {}
      ),
      describe: () => this.describe(),
      onStall: (waitedMs) => this.onStall(this.report(waitedMs)),
      // The job's word first: when a job failure made an end close the queue, the failure is the cause.
      abort: options.abort === undefined ? closedWord : [options.abort, closedWord],
      ...(marker === undefined ? {} : {
        marker: {
          afterMs: marker.afterMs, mark: (ms: number) => marker.mark(this.report(ms)), clear: () => marker.clear(),
        },
      } satisfies Pick<WaitOptions, 'marker'>),
    };
  }

  /** Who waits for what, now (the start of timeout, closed and stall messages). */
  protected abstract describe(): string;
  protected abstract report(waitedMs: number): StallReport;

  protected checkOpen(call: QueueCallOptions | undefined): void {
    if (this.#failure !== undefined) throw this.#failure;
    throwIfAborted(this.wait.abort); // a closed queue or a failed job, also for a call that would not wait
    this.wait.timeoutMs = call?.timeoutMs === undefined
      ? this.timeoutMs
      : checkTimeoutMs('options.timeoutMs', call.timeoutMs);
  }

  /** `waitFor` on a word of the ring with this end's options (see `closeOnTimeout`). */
  protected waitOn(index: number, condition: WaitCondition): void {
    try {
      waitFor(this.words, index, condition, this.wait);
    } catch (error) {
      if (this.#closeOnTimeout && error instanceof TimeoutError) {
        this.#failure = error;
        this.ring.close();
      }
      throw error;
    }
  }

  protected index(field: number): number {
    return this.ring.metaIndex(this.chunk, field);
  }

  /** Moves `pos` to where a segment of `length` bytes starts (see `segmentStart`). */
  protected segment(length: number): void {
    this.pos = segmentStart(this.pos, length, this.capacity);
  }

  protected advance(): void {
    this.pos = 0;
    if (++this.chunk < this.ring.maxChunks) return;
    this.chunk = 0;
    this.lap = this.lap === LAP_MAX ? 1 : this.lap + 1;
    this.wrapped = true;
  }

  /** Closes the queue for every thread (same as `MessageQueue.close`). */
  close(): void {
    this.ring.close();
  }
}
