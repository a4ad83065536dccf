/**
 * `MessageQueue`: one writer broadcasts objects to `nReaders` readers through a `ShmRingBuffer`
 * (vLLM's shm_broadcast, on a SharedArrayBuffer with Atomics).
 *
 *   const queue = MessageQueue.create(region, { nReaders: 3, maxChunkBytes: QUEUE_CHUNK_BYTES, maxChunks: QUEUE_CHUNKS });
 *   worker.postMessage(queue.handle);                 // the handle is the region: structured-cloneable
 *   queue.writer().enqueue(obj);                      // writer thread
 *   MessageQueue.attach(handle).reader(i).dequeue();  // reader i's thread; readers attach in any order
 *
 * A message is a byte stream `frame header | main | out-of-band buffers` (see serialize.ts) laid over
 * consecutive chunks: each message starts a fresh chunk (FLAGS has FIRST), fills chunks in turn, and its
 * last chunk has LAST. A message larger than a chunk, or than the whole ring, streams through it: the
 * writer publishes each chunk as soon as it is full and waits for a free one, readers copy each chunk
 * out as soon as it is published. Order is the ring order for every size.
 *
 * Segments (header, main, each out-of-band buffer): each starts at a multiple of SEGMENT_ALIGN_BYTES
 * and chunks carry a multiple of it, so source, ring and destination agree modulo 16 (V8 copies shared
 * memory 8 bytes at a time only when both sides are equally aligned, else byte by byte, 10x slower). A
 * segment that fits in a chunk but not in the rest of the current one starts at the next chunk, so
 * `dequeueWith` can hand out every such buffer as a view of the ring (vLLM's readers likewise unpickle
 * out of the shared chunk). `segmentStart` is the rule; both ends apply it to the same lengths.
 *
 * Frame header, u32 words in host byte order (the threads share one process): [0] FRAME_MAGIC
 * [1] message sequence (low 32 bits) [2] main bytes [3] n = number of out-of-band buffers [4..4+n) their
 * byte lengths. The reader checks the magic and the sequence against its own count (paired assertion
 * with the chunk's MESSAGE and FLAGS words).
 *
 * Every wait goes through `waitFor` (bounded spin, then Atomics.wait slices): it has a timeout, reports
 * a stall every `stallMs` (which readers have not read which chunk, or what the writer is doing), and
 * ends with ClosedError as soon as any thread calls `close()`.
 */
import { ClosedError, ErrorCodes, MultirankError, checkInteger, invalidType, outOfRange } from '../errors.js';
import { DefaultCodec, allocateBuffer, type ObjectCodec } from './serialize.js';
import {
  FIRST_CHUNK, H_CLOSED, H_PUBLISHED, LAP_MAX, LAST_CHUNK, MESSAGE_MASK, M_FLAGS, M_MESSAGE, M_READER_SLEEPERS,
  M_READ_COUNT, M_SIZE, M_WRITER_SLEEPERS, M_WRITTEN, ShmRingBuffer, type RingSizes, type ShmRegion,
} from './ring-buffer.js';
import { createQueueFromGroup, type GroupQueueEnd, type QueueGroup } from './queue-group.js';
import { AdaptiveSpin, DEFAULT_TIMEOUT_MS, SPIN_ITERATIONS_ADAPTIVE_MAX, SPIN_ITERATIONS_MAX, type AbortWord, type WaitOptions, waitFor, wake } from './wait.js';

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
const SMALL_COPY_BYTES = 16;
const FRAME_MAGIC = 0x6d736731; // "msg1"
const FRAME_FIXED_WORDS = 4;

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
  readonly text: string;
}

/** Per-handle options (each thread chooses its own; nothing here is shared). */
export interface QueueHandleOptions {
  /** Deadline of each wait, ms; default DEFAULT_TIMEOUT_MS (pass `timeoutFromEnv()` to honour the env). */
  timeoutMs?: number;
  /** Spin budget before sleeping, 0..SPIN_ITERATIONS_MAX; pass 0 when threads outnumber cores. */
  spinIterations?: number;
  /** Wait this long before `onStall` (and again every as long); default STALL_REPORT_MS. */
  stallMs?: number;
  /** Receives stall reports; default `console.warn(report.text)` (synchronous in the main thread, unlike emitWarning). */
  onStall?: (report: StallReport) => void;
  /** A job-wide abort word that also ends every wait (see wait.ts). */
  abort?: AbortWord;
  /** Object codec; default a new `DefaultCodec`. Writer and readers must use compatible codecs. */
  codec?: ObjectCodec;
}

/** Per-call options of `enqueue` / `dequeue`. */
export interface QueueCallOptions {
  timeoutMs?: number;
}

/** What another thread needs to attach: the region (SharedArrayBuffer and offsets). */
export type MessageQueueHandle = ShmRegion;

function checkTimeout(name: string, value: number): number {
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
    throw outOfRange(`Expected \`${name}\` to be a finite number of ms > 0, got ${String(value)}`);
  }
  return value;
}

/** Segment lengths travel as u32. */
function checkSegment(byteLength: number): number {
  if (byteLength > 0xffffffff) throw outOfRange(`A message part of ${byteLength} bytes is too large (at most ${0xffffffff} bytes per array)`);
  return byteLength;
}

function corrupt(text: string): MultirankError {
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
function chunksNeeded(lengths: readonly number[], capacity: number): number {
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

/** A ring plus the queue protocol. One instance per thread; `writer()` / `reader(i)` give the roles. */
export class MessageQueue {
  readonly ring: ShmRingBuffer;

  /** Region bytes a queue of this shape needs. */
  static bytesNeeded(sizes: RingSizes): number {
    return ShmRingBuffer.bytesNeeded(sizes.nReaders, sizes.maxChunkBytes, sizes.maxChunks);
  }

  /** Formats a queue in `region` (before the region is handed to other threads). */
  static create(region: ShmRegion, sizes: RingSizes): MessageQueue {
    return new MessageQueue(ShmRingBuffer.create(region, sizes));
  }

  /**
   * Collective over `group`: member `writerRank` writes, the others read (vLLM's create_from_process_group).
   * Returns this member's end; `destroy()` closes the queue (and frees the ring on the writer).
   */
  static createFromGroup(group: QueueGroup, maxChunkBytes = QUEUE_CHUNK_BYTES, maxChunks = QUEUE_CHUNKS, writerRank = 0): GroupQueueEnd {
    return createQueueFromGroup(group, maxChunkBytes, maxChunks, writerRank);
  }

  /** Attaches to a queue made by `create`, from its `handle`, in any thread. */
  static attach(handle: MessageQueueHandle): MessageQueue {
    return new MessageQueue(ShmRingBuffer.attach(handle));
  }

  private constructor(ring: ShmRingBuffer) {
    this.ring = ring;
  }

  /** The structured-cloneable handle that `attach` takes. */
  get handle(): MessageQueueHandle {
    return { ...this.ring.region };
  }

  get nReaders(): number {
    return this.ring.nReaders;
  }

  /** Takes the writer role (once per queue, across threads). */
  writer(options: QueueHandleOptions = {}): QueueWriter {
    return new QueueWriter(this.ring, options);
  }

  /** Takes reader `index` (0..nReaders-1; each once per queue, across threads). */
  reader(index: number, options: QueueHandleOptions = {}): QueueReader {
    return new QueueReader(this.ring, index, options);
  }

  /** Closes the queue for every thread: each waiting or later call throws ClosedError. Idempotent. */
  close(): void {
    this.ring.close();
  }

  get closed(): boolean {
    return this.ring.closed;
  }
}

/** State and waiting shared by the writer and the readers: the cursor over chunks and laps. */
abstract class QueueEnd {
  protected readonly ring: ShmRingBuffer;
  protected readonly words: Int32Array;
  protected readonly bytes: Uint8Array;
  protected readonly codec: ObjectCodec;
  protected readonly wait: WaitOptions;
  protected readonly timeoutMs: number;
  protected readonly onStall: (report: StallReport) => void;
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
    this.timeoutMs = checkTimeout('options.timeoutMs', options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    const stallMs = checkTimeout('options.stallMs', options.stallMs ?? STALL_REPORT_MS);
    const spinIterations = checkInteger('options.spinIterations', options.spinIterations ?? SPIN_ITERATIONS_MAX, 0, SPIN_ITERATIONS_MAX);
    if (options.onStall !== undefined && typeof options.onStall !== 'function') {
      throw invalidType('options.onStall', 'a function', options.onStall);
    }
    this.onStall = options.onStall ?? ((report) => console.warn(report.text));
    const closedWord: AbortWord = { flags: ring.words, index: H_CLOSED, error: () => new ClosedError(`${this.describe()}: queue closed`) };
    this.wait = {
      timeoutMs: this.timeoutMs, spinIterations, stallMs,
      // A handle told to spin (its caller found a core for every thread) adapts its budget to its waits.
      ...(options.spinIterations !== undefined && options.spinIterations > 0 ? { adaptiveSpin: new AdaptiveSpin(SPIN_ITERATIONS_ADAPTIVE_MAX) } : {}),
      describe: () => this.describe(),
      onStall: (waitedMs) => this.onStall(this.report(waitedMs)),
      abort: options.abort === undefined ? closedWord : [closedWord, options.abort],
    };
  }

  /** Who waits for what, now (the start of timeout, closed and stall messages). */
  protected abstract describe(): string;
  protected abstract report(waitedMs: number): StallReport;

  protected checkOpen(call: QueueCallOptions | undefined): void {
    if (this.ring.closed) throw new ClosedError(`${this.describe()}: queue closed`);
    this.wait.timeoutMs = call?.timeoutMs === undefined ? this.timeoutMs : checkTimeout('options.timeoutMs', call.timeoutMs);
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

/** The writing end. */
export class QueueWriter extends QueueEnd {
  #header = new Uint32Array(FRAME_FIXED_WORDS + 16);
  #first = true;

  constructor(ring: ShmRingBuffer, options: QueueHandleOptions) {
    super(ring, options);
    ring.claimWriter();
  }

  /**
   * Sends `value` to every reader; returns once it is in the ring (waiting for free chunks as needed).
   * @throws ClosedError (ERR_MULTIRANK_CLOSED), TimeoutError (ERR_MULTIRANK_TIMEOUT), TypeError for values the codec rejects.
   */
  enqueue(value: unknown, options?: QueueCallOptions): void {
    this.checkOpen(options);
    const { main, buffers } = this.codec.encode(value);
    const count = buffers.length;
    if (count > MESSAGE_BUFFERS_MAX) throw outOfRange(`A message may carry at most ${MESSAGE_BUFFERS_MAX} large arrays, got ${count}`);
    if (this.#header.length < FRAME_FIXED_WORDS + count) this.#header = new Uint32Array(FRAME_FIXED_WORDS + count);
    const header = this.#header;
    header[0] = FRAME_MAGIC;
    header[1] = this.message >>> 0;
    header[2] = main.byteLength;
    header[3] = count;
    for (let i = 0; i < count; i++) header[FRAME_FIXED_WORDS + i] = checkSegment(buffers[i]!.byteLength);
    checkSegment(main.byteLength);
    this.#first = true;
    this.#acquire();
    try {
      this.#write(new Uint8Array(header.buffer, 0, 4 * (FRAME_FIXED_WORDS + count)));
      this.#write(main);
      for (const buffer of buffers) this.#write(buffer);
      this.#publish(LAST_CHUNK);
    } catch (error) {
      // Part of the message is out: no later message could be framed, so fail every end at once.
      this.ring.close();
      throw error;
    }
    this.message++;
  }

  /** Writer side of a broadcast: enqueues `value` and returns it. */
  broadcastObject<T>(value: T, options?: QueueCallOptions): T {
    this.enqueue(value, options);
    return value;
  }

  #write(source: Uint8Array): void {
    const chunkBytes = this.capacity;
    this.segment(source.byteLength);
    for (let done = 0; done < source.byteLength;) {
      if (this.pos === chunkBytes) {
        this.#publish(0);
        this.#acquire();
      }
      const n = Math.min(source.byteLength - done, chunkBytes - this.pos);
      const to = this.ring.chunkOffset(this.chunk) + this.pos;
      if (n <= SMALL_COPY_BYTES) for (let i = 0; i < n; i++) this.bytes[to + i] = source[done + i]!;
      else this.bytes.set(source.subarray(done, done + n), to);
      this.pos += n;
      done += n;
    }
  }

  /**
   * Waits until every reader has released every chunk written so far (all messages consumed), so that
   * the queue can be closed and its ring freed without losing a message or a reader still copying.
   * @throws TimeoutError after `timeoutMs` (default: this handle's), naming the readers that lag.
   */
  drain(options?: QueueCallOptions): void {
    this.checkOpen(options);
    for (let chunk = 0; chunk < this.ring.maxChunks; chunk++) {
      const written = Atomics.load(this.words, this.ring.metaIndex(chunk, M_WRITTEN));
      if (written === 0) continue;
      this.wait.sleepersIndex = this.ring.metaIndex(chunk, M_WRITER_SLEEPERS);
      const timeoutMs = options?.timeoutMs ?? this.timeoutMs;
      waitFor(this.words, this.ring.metaIndex(chunk, M_READ_COUNT), this.ring.nReaders, { ...this.wait, timeoutMs });
    }
  }

  #acquire(): void {
    if (!this.wrapped) return;
    const count = this.index(M_READ_COUNT);
    this.wait.sleepersIndex = this.index(M_WRITER_SLEEPERS);
    waitFor(this.words, count, this.ring.nReaders, this.wait);
  }

  #publish(last: number): void {
    const { words } = this;
    words[this.index(M_SIZE)] = this.pos;
    words[this.index(M_MESSAGE)] = this.message & MESSAGE_MASK;
    words[this.index(M_FLAGS)] = last | (this.#first ? FIRST_CHUNK : 0);
    Atomics.store(words, this.index(M_READ_COUNT), 0);
    Atomics.store(words, this.index(M_WRITTEN), this.lap);
    wake(words, this.index(M_WRITTEN), this.index(M_READER_SLEEPERS));
    Atomics.add(words, H_PUBLISHED, 1);
    this.#first = false;
    this.advance();
  }

  protected describe(): string {
    const pending = this.ring.pendingReaders(this.chunk);
    return `MessageQueue writer waiting to reuse chunk ${this.chunk} for message ${this.message}: ` +
      `readers ${this.ring.describeReaders(pending)} have not read it`;
  }

  protected report(waitedMs: number): StallReport {
    const pendingReaders = this.ring.pendingReaders(this.chunk);
    const text = `MessageQueue writer has waited ${Math.round(waitedMs)} ms to reuse chunk ${this.chunk} for message ` +
      `${this.message}: readers ${this.ring.describeReaders(pendingReaders)} have not read it`;
    return { role: 'writer', chunk: this.chunk, message: this.message, waitedMs, pendingReaders, text };
  }
}

/** A reading end. */
export class QueueReader extends QueueEnd {
  /** This reader's index, 0..nReaders-1. */
  readonly readerIndex: number;
  #size = 0;
  #frame = new Uint32Array(FRAME_FIXED_WORDS);
  #frameBytes = new Uint8Array(this.#frame.buffer);
  #lengths = new Uint32Array(16);
  #main = new Uint8Array(256);
  /** `dequeueWith`: the current chunk holds a view; `#held` lists [chunk, lap] pairs kept until `use` returns. */
  #viewed = false;
  #held: number[] = [];

  constructor(ring: ShmRingBuffer, index: number, options: QueueHandleOptions) {
    super(ring, options);
    ring.claimReader(index);
    this.readerIndex = index;
  }

  /**
   * Receives the next message (blocking until the writer publishes it); large arrays are copied out.
   * @throws ClosedError (ERR_MULTIRANK_CLOSED), TimeoutError (ERR_MULTIRANK_TIMEOUT).
   */
  dequeue(options?: QueueCallOptions): unknown {
    return this.#receive(false, (value) => value, options);
  }

  /**
   * Receives the next message and returns `use(value)`, where every out-of-band array that fits in a chunk
   * is a view of the ring, not a copy: valid only until `use` returns (copy what you keep). Until then
   * the writer cannot reuse those chunks. Messages longer than the ring arrive as copies.
   * @throws as `dequeue`, and whatever `use` throws.
   */
  dequeueWith<T>(use: (value: unknown) => T, options?: QueueCallOptions): T {
    if (typeof use !== 'function') throw invalidType('use', 'a function', use);
    return this.#receive(true, use, options);
  }

  /** Reader side of a broadcast: returns the next message. */
  broadcastObject(options?: QueueCallOptions): unknown {
    return this.dequeue(options);
  }

  #receive<T>(inPlace: boolean, use: (value: unknown) => T, options: QueueCallOptions | undefined): T {
    this.checkOpen(options);
    this.#acquire(true);
    let main: Uint8Array, buffers: Uint8Array[];
    try {
      [main, buffers] = this.#readMessage(inPlace);
    } catch (error) {
      // Part of the message is consumed: this reader cannot find the next frame, so fail every end at once.
      this.#releaseHeld();
      this.ring.close();
      throw error;
    }
    this.message++;
    if (this.#held.length === 0) return use(this.codec.decode(main, buffers));
    try {
      return use(this.codec.decode(main, buffers));
    } finally {
      this.#releaseHeld();
    }
  }

  #readMessage(inPlace: boolean): [Uint8Array, Uint8Array[]] {
    const frame = this.#frame;
    this.#read(this.#frameBytes, true);
    if (frame[0] !== FRAME_MAGIC || frame[1] !== this.message >>> 0) {
      throw corrupt(`reader ${this.readerIndex} expected message ${this.message}, found magic ${frame[0]} sequence ${frame[1]}`);
    }
    const mainBytes = frame[2]!, count = frame[3]!;
    if (this.#lengths.length < count) this.#lengths = new Uint32Array(count);
    if (count > 0) this.#read(new Uint8Array(this.#lengths.buffer, 0, 4 * count), false); // same segment as the frame
    const lengths = this.#lengths;
    if (this.#main.byteLength < mainBytes) this.#main = new Uint8Array(Math.max(mainBytes, 2 * this.#main.byteLength));
    const main = this.#main.subarray(0, mainBytes);
    this.#read(main, true);
    const views = inPlace && count > 0 &&
      chunksNeeded([4 * (FRAME_FIXED_WORDS + count), mainBytes, ...lengths.subarray(0, count)], this.capacity) <= this.ring.maxChunks;
    const buffers: Uint8Array[] = new Array(count);
    for (let i = 0; i < count; i++) {
      const length = lengths[i]!;
      if (views && length <= this.capacity) buffers[i] = this.#view(length);
      else this.#read((buffers[i] = allocateBuffer(length)), true);
    }
    const flags = this.words[this.index(M_FLAGS)]!;
    if (this.pos !== this.#size || (flags & LAST_CHUNK) === 0) {
      throw corrupt(`message ${this.message} ends at byte ${this.pos} of chunk ${this.chunk} (size ${this.#size}, flags ${flags})`);
    }
    this.#leave();
    return [main, buffers];
  }

  #read(target: Uint8Array, segment: boolean): void {
    if (segment) this.segment(target.byteLength);
    for (let done = 0; done < target.byteLength;) {
      if (this.pos === this.#size) this.#next();
      const n = Math.min(target.byteLength - done, this.#size - this.pos);
      const from = this.ring.chunkOffset(this.chunk) + this.pos;
      if (n <= SMALL_COPY_BYTES) for (let i = 0; i < n; i++) target[done + i] = this.bytes[from + i]!;
      else target.set(this.bytes.subarray(from, from + n), done);
      this.pos += n;
      done += n;
    }
  }

  /** A view of the next `length` bytes, which the writer placed inside one chunk. */
  #view(length: number): Uint8Array {
    this.segment(length);
    if (length > 0 && this.pos === this.#size) this.#next();
    if (this.pos + length > this.#size) throw corrupt(`array of ${length} bytes crosses the end of chunk ${this.chunk}`);
    const from = this.ring.chunkOffset(this.chunk) + this.pos;
    this.pos += length;
    this.#viewed = true;
    return this.bytes.subarray(from, from + length);
  }

  #next(): void {
    this.#leave();
    this.#acquire(false);
  }

  #acquire(first: boolean): void {
    const { words } = this;
    this.wait.sleepersIndex = this.index(M_READER_SLEEPERS);
    waitFor(words, this.index(M_WRITTEN), this.lap, this.wait);
    this.#size = words[this.index(M_SIZE)]!;
    const flags = words[this.index(M_FLAGS)]!, message = words[this.index(M_MESSAGE)]!;
    if (first !== ((flags & FIRST_CHUNK) !== 0) || message !== (this.message & MESSAGE_MASK) || this.#size > this.capacity) {
      throw corrupt(`reader ${this.readerIndex} at chunk ${this.chunk} expected ${first ? 'the start' : 'more'} of message ` +
        `${this.message}, found message ${message} flags ${flags} size ${this.#size}`);
    }
  }

  /** Done with the current chunk: release it, or keep it while `dequeueWith` hands out views of it. */
  #leave(): void {
    if (this.#viewed) this.#held.push(this.chunk, this.lap);
    else this.#release(this.chunk, this.lap);
    this.#viewed = false;
    this.advance();
  }

  #releaseHeld(): void {
    for (let i = 0; i < this.#held.length; i += 2) this.#release(this.#held[i]!, this.#held[i + 1]!);
    this.#held.length = 0;
    this.#viewed = false;
  }

  #release(chunk: number, lap: number): void {
    const { words } = this;
    Atomics.store(words, this.ring.readLapIndex(chunk, this.readerIndex), lap);
    const count = this.ring.metaIndex(chunk, M_READ_COUNT);
    if (Atomics.add(words, count, 1) + 1 === this.ring.nReaders) wake(words, count, this.ring.metaIndex(chunk, M_WRITER_SLEEPERS));
  }

  protected describe(): string {
    return `MessageQueue reader ${this.readerIndex} waiting for message ${this.message} (chunk ${this.chunk}): ${this.ring.describeWriter()}`;
  }

  protected report(waitedMs: number): StallReport {
    const published = Atomics.load(this.words, H_PUBLISHED) >>> 0;
    const next = published % this.ring.maxChunks;
    const pendingReaders = published >= this.ring.maxChunks ? this.ring.pendingReaders(next) : [];
    const text = `MessageQueue reader ${this.readerIndex} has waited ${Math.round(waitedMs)} ms for message ${this.message} ` +
      `(chunk ${this.chunk}): ${this.ring.describeWriter()}`;
    return { role: 'reader', reader: this.readerIndex, chunk: this.chunk, message: this.message, waitedMs, pendingReaders, text };
  }
}
