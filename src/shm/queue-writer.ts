/** The writing end of a MessageQueue (message-queue.ts describes the protocol). */
import { ClosedError, ErrorCodes, notSerializable, outOfRange } from '../errors.js';
import {
  FIRST_CHUNK, H_PUBLISHED, LAST_CHUNK, MESSAGE_MASK, M_FLAGS, M_MESSAGE, M_READER_SLEEPERS, M_READ_COUNT, M_SIZE,
  M_WRITER_SLEEPERS, M_WRITTEN, ShmRingBuffer,
} from './ring-buffer.js';
import { storeAndWake } from './wait.js';
import type { RemoteReaders } from './remote-writer.js';
import {
  FRAME_FIXED_WORDS, FRAME_MAGIC, MESSAGE_BUFFERS_MAX, QueueEnd, SMALL_COPY_BYTES, checkSegment, type QueueCallOptions,
  type QueueHandleOptions, type StallReport,
} from './queue-end.js';

/** The writing end. */
export class QueueWriter extends QueueEnd {
  #header = new Uint32Array(FRAME_FIXED_WORDS + 16);
  #first = true;
  /** Readers in other processes (remote-writer.ts): each message goes to them too, before the ring. */
  readonly #remote: RemoteReaders | undefined;

  constructor(ring: ShmRingBuffer, options: QueueHandleOptions, remote?: RemoteReaders) {
    super(ring, options);
    ring.claimWriter();
    this.#remote = remote;
  }

  /**
   * Sends `value` to every reader; returns once it is in the ring (waiting for free chunks as needed).
   * @throws ClosedError (ERR_MULTIRANK_CLOSED), TimeoutError (ERR_MULTIRANK_TIMEOUT), TypeError for values the codec
   * rejects.
   */
  enqueue(value: unknown, options?: QueueCallOptions, name = 'value'): void {
    this.checkOpen(options);
    const { main, buffers } = this.#encode(value, name);
    const count = buffers.length;
    if (count > MESSAGE_BUFFERS_MAX) {
      throw outOfRange(`A message may carry at most ${MESSAGE_BUFFERS_MAX} large arrays, got ${count}`);
    }
    if (this.#header.length < FRAME_FIXED_WORDS + count) this.#header = new Uint32Array(FRAME_FIXED_WORDS + count);
    const header = this.#header;
    header[0] = FRAME_MAGIC;
    header[1] = this.message >>> 0;
    header[2] = main.byteLength;
    header[3] = count;
    for (let i = 0; i < count; i++) header[FRAME_FIXED_WORDS + i] = checkSegment(buffers[i]!.byteLength);
    checkSegment(main.byteLength);
    if (this.#remote !== undefined) {
      try {
        this.#remote.send(main, buffers, this.wait.timeoutMs, this.wait.abort);
      } catch (error) {
        this.ring.close(); // the remote readers lost this message: no end may go on
        throw error;
      }
      if (this.ring.nReaders === 0) { // no reader in this process: the ring only carries the closed flag
        this.message++;
        return;
      }
    }
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
    this.enqueue(value, options, 'obj');
    return value;
  }

  /** The codec's bytes for `value`; a value it refuses is reported under the caller's argument `name`. */
  #encode(value: unknown, name: string): { main: Uint8Array; buffers: readonly Uint8Array[] } {
    try {
      return this.codec.encode(value);
    } catch (error) {
      const e = error as { code?: unknown; cause?: unknown };
      if (e.code === ErrorCodes.NOT_SERIALIZABLE && name !== 'value') throw notSerializable(name, value, e.cause);
      throw error;
    }
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
      this.waitOn(this.ring.metaIndex(chunk, M_READ_COUNT), this.ring.nReaders); // checkOpen set its deadline
    }
    this.#remote?.drain(this.wait.timeoutMs, this.wait.abort);
  }

  #acquire(): void {
    if (!this.wrapped) return;
    const count = this.index(M_READ_COUNT);
    this.wait.sleepersIndex = this.index(M_WRITER_SLEEPERS);
    this.waitOn(count, this.ring.nReaders);
  }

  #publish(last: number): void {
    const { words } = this;
    const meta = this.index(0);
    words[meta + M_SIZE] = this.pos;
    words[meta + M_MESSAGE] = this.message & MESSAGE_MASK;
    words[meta + M_FLAGS] = last | (this.#first ? FIRST_CHUNK : 0);
    Atomics.store(words, meta + M_READ_COUNT, 0);
    storeAndWake(words, meta + M_WRITTEN, this.lap, meta + M_READER_SLEEPERS);
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
    const unreadMessage = this.words[this.index(M_MESSAGE)]!;
    const text = `MessageQueue writer has waited ${Math.round(waitedMs)} ms to reuse chunk ${this.chunk} for message ` +
      `${this.message}: readers ${this.ring.describeReaders(pendingReaders)} have not read it`;
    return { role: 'writer', chunk: this.chunk, message: this.message, waitedMs, pendingReaders, unreadMessage, text };
  }
}
