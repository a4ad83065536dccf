/** A reading end of a MessageQueue (message-queue.ts describes the protocol). */
import { ClosedError, invalidType } from '../errors.js';
import { allocateBuffer } from './serialize.js';
import {
  FIRST_CHUNK, H_PUBLISHED, LAST_CHUNK, MESSAGE_MASK, M_FLAGS, M_MESSAGE, M_READER_SLEEPERS, M_READ_COUNT, M_SIZE,
  M_WRITER_SLEEPERS, M_WRITTEN, ShmRingBuffer,
} from './ring-buffer.js';
import { wake } from './wait.js';
import {
  FRAME_FIXED_WORDS, FRAME_MAGIC, QueueEnd, SMALL_COPY_BYTES, chunksNeeded, corrupt, type QueueCallOptions,
  type QueueHandleOptions, type StallReport,
} from './queue-end.js';

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
      throw corrupt(
        `reader ${this.readerIndex} expected message ${this.message}, found magic ${frame[0]} sequence ${frame[1]}`,
      );
    }
    const mainBytes = frame[2]!, count = frame[3]!;
    if (this.#lengths.length < count) this.#lengths = new Uint32Array(count);
    if (count > 0) this.#read(new Uint8Array(this.#lengths.buffer, 0, 4 * count), false); // same segment as the frame
    const lengths = this.#lengths;
    if (this.#main.byteLength < mainBytes) this.#main = new Uint8Array(Math.max(mainBytes, 2 * this.#main.byteLength));
    const main = this.#main.subarray(0, mainBytes);
    this.#read(main, true);
    const views = inPlace && count > 0 &&
      chunksNeeded(
        [4 * (FRAME_FIXED_WORDS + count), mainBytes, ...lengths.subarray(0, count)], this.capacity,
      ) <= this.ring.maxChunks;
    const buffers: Uint8Array[] = new Array(count);
    for (let i = 0; i < count; i++) {
      const length = lengths[i]!;
      if (views && length <= this.capacity) buffers[i] = this.#view(length);
      else this.#read((buffers[i] = allocateBuffer(length)), true);
    }
    const flags = this.words[this.index(M_FLAGS)]!;
    if (this.pos !== this.#size || (flags & LAST_CHUNK) === 0) {
      throw corrupt(
        `message ${this.message} ends at byte ${this.pos} of chunk ${this.chunk} (size ${this.#size}, flags ${flags})`,
      );
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
    if (this.pos + length > this.#size) {
      throw corrupt(`array of ${length} bytes crosses the end of chunk ${this.chunk}`);
    }
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
    const meta = this.index(0);
    this.wait.sleepersIndex = meta + M_READER_SLEEPERS;
    this.waitOn(meta + M_WRITTEN, this.lap);
    this.#size = words[meta + M_SIZE]!;
    const flags = words[meta + M_FLAGS]!, message = words[meta + M_MESSAGE]!;
    if (
      first !== ((flags & FIRST_CHUNK) !== 0) || message !== (this.message & MESSAGE_MASK) || this.#size > this.capacity
    ) {
      throw corrupt(`reader ${this.readerIndex} at chunk ${this.chunk} expected ${first ? 'the start' : 'more'} of ` +
        `message ${this.message}, found message ${message} flags ${flags} size ${this.#size}`);
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
    if (Atomics.add(words, count, 1) + 1 === this.ring.nReaders) {
      wake(words, count, this.ring.metaIndex(chunk, M_WRITER_SLEEPERS));
    }
  }

  protected describe(): string {
    return `MessageQueue reader ${this.readerIndex} waiting for message ${this.message} (chunk ${this.chunk}): ` +
      `${this.ring.describeWriter()}`;
  }

  protected report(waitedMs: number): StallReport {
    const published = Atomics.load(this.words, H_PUBLISHED) >>> 0;
    const next = published % this.ring.maxChunks;
    const pendingReaders = published >= this.ring.maxChunks ? this.ring.pendingReaders(next) : [];
    const text =
      `MessageQueue reader ${this.readerIndex} has waited ${Math.round(waitedMs)} ms for message ${this.message} ` +
      `(chunk ${this.chunk}): ${this.ring.describeWriter()}`;
    return {
      role: 'reader', reader: this.readerIndex, chunk: this.chunk, message: this.message, waitedMs, pendingReaders,
      text,
    };
  }
}
