/**
 * `ShmRingBuffer`: `maxChunks` chunks of `maxChunkBytes`, one writer, `nReaders` readers, in one shared
 * region `{ buffer, byteOffset, byteLength }` that may live inside a larger SharedArrayBuffer (the arena).
 *
 * Layout (offsets from `byteOffset`; W = 4-byte Int32 words; every block starts on a 64-byte line):
 *
 *   +--------------------+----------------------------+-------------+----------+-----+-----------+--------+
 *   | header             | meta chunk 0 | meta chunk 1 | meta end    | chunk 0  | ... | chunk n-1 | end    |
 *   | (16 + R16) W       | S W          | S W  ...     | 16 W        | C bytes  |     | C bytes   | 64 B   |
 *   +--------------------+----------------------------+-------------+----------+-----+-----------+--------+
 *   R16 = nReaders rounded up to 16; S = 8 + nReaders rounded up to 16; C = maxChunkBytes rounded up to 64.
 *
 *   header [0] MAGIC  [1] LAYOUT_VERSION  [2] nReaders  [3] maxChunkBytes  [4] maxChunks
 *          [5] CLOSED (0 open, 1 closed)  [6] WRITER_CLAIMED  [7] PUBLISHED (chunks published, wraps)
 *          [15] MAGIC_HEADER_END  [16 + k] READER_CLAIMED[k]
 *   meta i [0] WRITTEN (lap of the last publish; 0 never)  [1] READ_COUNT (readers done with that lap)
 *          [2] READER_SLEEPERS (readers asleep on WRITTEN)  [3] WRITER_SLEEPERS (writer asleep on READ_COUNT)
 *          [4] SIZE_BYTES  [5] MESSAGE (sequence, 30 bits)  [6] FLAGS (FIRST | LAST)  [7] MAGIC_META
 *          [8 + k] READ_LAP[k] (lap reader k last released)
 *   meta end [0] MAGIC_META_END;  end [0] MAGIC_END
 *
 * Laps: the n-th use of a chunk (n = 1, 2, ...) has lap n, wrapping from LAP_MAX back to 1. Lap values
 * replace vLLM's 0/1 flags, so the writer never resets per-reader flags and a stale flag is never taken
 * for a fresh one.
 *
 * Invariants: a reader copies chunk i only while WRITTEN(i) == its expected lap and before its release;
 * the writer refills chunk i only when it was never written or READ_COUNT(i) == nReaders. The header and
 * magic words are written once by `create` before the region is handed to anyone; `attach` checks them.
 *
 * Atomics order. Writer: payload (plain stores), SIZE/MESSAGE/FLAGS, READ_COUNT = 0, then WRITTEN = lap
 * (Atomics.store, sequentially consistent: everything before it is visible to a reader that loads the new
 * lap), then wake sleepers. Reader: Atomics.load(WRITTEN) == lap, copy payload, READ_LAP[k] = lap, then
 * Atomics.add(READ_COUNT, 1) (after the copy, so the writer cannot overwrite bytes still being read),
 * then wake the writer when it made the count whole. READ_COUNT is reset before WRITTEN moves on, so no
 * reader adds to a count that is about to be reset.
 *
 * Close: CLOSED = 1, then CLOSED_BIT is or-ed into every WRITTEN and READ_COUNT and all are notified. A
 * waiter sleeps on the value it read; the changed value ends its sleep at once (no lost wake-up), and it
 * then sees CLOSED.
 */
import { checkInteger, invalidType, outOfRange } from '../errors.js';

const LAYOUT_VERSION = 1;
/** Most readers of one ring. */
export const READERS_MAX = 1024;
/** Most chunks of one ring. */
export const CHUNKS_MAX = 4096;
/** Smallest chunk: the message header's fixed part must fit in one chunk. */
export const CHUNK_BYTES_MIN = 64;
/** Largest chunk (1 GiB), so sizes fit the Int32 metadata words. */
export const CHUNK_BYTES_MAX = 2 ** 30;
/** `byteOffset` of a region must be a multiple of this. */
export const REGION_ALIGN_BYTES = 16;
/** The highest lap before it wraps to 1; laps never touch CLOSED_BIT. */
export const LAP_MAX = 0x0fffffff;
/** Or-ed into WRITTEN and READ_COUNT by `close` so every sleeper's value changes. */
export const CLOSED_BIT = 0x40000000;
/** Mask of the message sequence stored in a chunk's MESSAGE word. */
export const MESSAGE_MASK = 0x3fffffff;
/** FLAGS bits: the chunk starts / ends a message. */
export const FIRST_CHUNK = 1;
export const LAST_CHUNK = 2;

const LINE_BYTES = 64;
const LINE_WORDS = 16;
const MAGIC = 0x72696e67; // "ring"
const MAGIC_HEADER_END = 0x68656164; // "head"
const MAGIC_META = 0x6d657461; // "meta"
const MAGIC_META_END = 0x6d656e64; // "mend"
const MAGIC_END = 0x656e6472; // "endr"

export const H_CLOSED = 5, H_WRITER_CLAIMED = 6, H_PUBLISHED = 7;
const H_MAGIC = 0, H_VERSION = 1, H_READERS = 2, H_CHUNK_BYTES = 3, H_CHUNKS = 4, H_MAGIC_END = 15,
  H_READER_CLAIMED = 16;
export const M_WRITTEN = 0, M_READ_COUNT = 1, M_READER_SLEEPERS = 2, M_WRITER_SLEEPERS = 3;
export const M_SIZE = 4, M_MESSAGE = 5, M_FLAGS = 6;
const M_MAGIC = 7, M_READ_LAP = 8;

/** A shared byte range: the ring lives in [byteOffset, byteOffset + bytesNeeded). Structured-cloneable. */
export interface ShmRegion {
  readonly buffer: SharedArrayBuffer;
  readonly byteOffset: number;
  readonly byteLength: number;
}

/** The shape of a ring, fixed at `create`. */
export interface RingSizes {
  readonly nReaders: number;
  readonly maxChunkBytes: number;
  readonly maxChunks: number;
}

interface Layout extends RingSizes {
  headerWords: number;
  metaStrideWords: number;
  wordsBytes: number;
  chunkStrideBytes: number;
  totalBytes: number;
}

const roundUp = (value: number, to: number): number => Math.ceil(value / to) * to;

function layoutOf(nReaders: number, maxChunkBytes: number, maxChunks: number): Layout {
  checkInteger('nReaders', nReaders, 0, READERS_MAX);
  checkInteger('maxChunkBytes', maxChunkBytes, CHUNK_BYTES_MIN, CHUNK_BYTES_MAX);
  checkInteger('maxChunks', maxChunks, 1, CHUNKS_MAX);
  const headerWords = LINE_WORDS + roundUp(nReaders, LINE_WORDS);
  const metaStrideWords = roundUp(M_READ_LAP + nReaders, LINE_WORDS);
  const wordsBytes = 4 * (headerWords + maxChunks * metaStrideWords + LINE_WORDS);
  const chunkStrideBytes = roundUp(maxChunkBytes, LINE_BYTES);
  const totalBytes = wordsBytes + maxChunks * chunkStrideBytes + LINE_BYTES;
  return { nReaders, maxChunkBytes, maxChunks, headerWords, metaStrideWords, wordsBytes, chunkStrideBytes, totalBytes };
}

function checkRegion(region: ShmRegion, neededBytes?: number): void {
  if (region === null || typeof region !== 'object' || !(region.buffer instanceof SharedArrayBuffer)) {
    throw invalidType('region', 'an object { buffer: SharedArrayBuffer, byteOffset, byteLength }', region);
  }
  checkInteger('region.byteOffset', region.byteOffset, 0);
  checkInteger('region.byteLength', region.byteLength, 0);
  if (region.byteOffset % REGION_ALIGN_BYTES !== 0) {
    throw outOfRange(
      `Expected \`region.byteOffset\` to be a multiple of ${REGION_ALIGN_BYTES}, got ${region.byteOffset}`,
    );
  }
  if (region.byteOffset + region.byteLength > region.buffer.byteLength) {
    throw outOfRange(`\`region\` [${region.byteOffset}, ${region.byteOffset + region.byteLength}) lies past the end ` +
      `of its buffer (${region.buffer.byteLength} bytes)`);
  }
  if (neededBytes !== undefined && region.byteLength < neededBytes) {
    throw outOfRange(
      `\`region.byteLength\` (${region.byteLength}) is smaller than the ${neededBytes} bytes this ring needs`,
    );
  }
}

/** The shared layout of one ring plus its claim, close and inspection operations. One instance per thread. */
export class ShmRingBuffer {
  readonly region: ShmRegion;
  readonly nReaders: number;
  readonly maxChunkBytes: number;
  readonly maxChunks: number;
  /** Header and metadata words (indices from `metaIndex`, `readLapIndex` and the `H_*` constants). */
  readonly words: Int32Array;
  /** Every chunk's bytes; chunk i starts at `chunkOffset(i)`. */
  readonly bytes: Uint8Array;
  readonly #layout: Layout;

  /** Bytes of the region a ring of this shape needs. */
  static bytesNeeded(nReaders: number, maxChunkBytes: number, maxChunks: number): number {
    return layoutOf(nReaders, maxChunkBytes, maxChunks).totalBytes;
  }

  /** Formats a ring in `region` (zeroing its metadata) and returns it; do this before handing the region out. */
  static create(region: ShmRegion, sizes: RingSizes): ShmRingBuffer {
    if (sizes === null || typeof sizes !== 'object') {
      throw invalidType('sizes', 'an object { nReaders, maxChunkBytes, maxChunks }', sizes);
    }
    const layout = layoutOf(sizes.nReaders, sizes.maxChunkBytes, sizes.maxChunks);
    checkRegion(region, layout.totalBytes);
    const words = new Int32Array(region.buffer, region.byteOffset, layout.wordsBytes / 4);
    words.fill(0);
    words.set([LAYOUT_VERSION, layout.nReaders, layout.maxChunkBytes, layout.maxChunks], H_VERSION);
    words[H_MAGIC_END] = MAGIC_HEADER_END;
    for (let i = 0; i < layout.maxChunks; i++) {
      words[layout.headerWords + i * layout.metaStrideWords + M_MAGIC] = MAGIC_META;
    }
    words[words.length - LINE_WORDS] = MAGIC_META_END;
    new Int32Array(region.buffer, region.byteOffset + layout.totalBytes - LINE_BYTES, 1)[0] = MAGIC_END;
    Atomics.store(words, H_MAGIC, MAGIC);
    return new ShmRingBuffer(region, layout);
  }

  /** Attaches to a ring that `create` formatted in `region`, checking every magic word. */
  static attach(region: ShmRegion): ShmRingBuffer {
    checkRegion(region);
    if (region.byteLength < 4 * LINE_WORDS) {
      throw outOfRange(`\`region.byteLength\` (${region.byteLength}) is too small to hold a ring`);
    }
    const head = new Int32Array(region.buffer, region.byteOffset, LINE_WORDS);
    if (Atomics.load(head, H_MAGIC) !== MAGIC || head[H_VERSION] !== LAYOUT_VERSION) {
      throw invalidType(
        'region', `a ring formatted by ShmRingBuffer.create (layout ${LAYOUT_VERSION}; magic missing)`, region,
      );
    }
    const layout = layoutOf(head[H_READERS]!, head[H_CHUNK_BYTES]!, head[H_CHUNKS]!);
    checkRegion(region, layout.totalBytes);
    const ring = new ShmRingBuffer(region, layout);
    ring.#checkCanaries();
    return ring;
  }

  private constructor(region: ShmRegion, layout: Layout) {
    this.region = { buffer: region.buffer, byteOffset: region.byteOffset, byteLength: layout.totalBytes };
    this.nReaders = layout.nReaders;
    this.maxChunkBytes = layout.maxChunkBytes;
    this.maxChunks = layout.maxChunks;
    this.#layout = layout;
    this.words = new Int32Array(region.buffer, region.byteOffset, layout.wordsBytes / 4);
    this.bytes = new Uint8Array(
      region.buffer, region.byteOffset + layout.wordsBytes, layout.maxChunks * layout.chunkStrideBytes,
    );
  }

  #checkCanaries(): void {
    const { words } = this;
    const bad: string[] = [];
    if (words[H_MAGIC_END] !== MAGIC_HEADER_END) bad.push('header end');
    for (let i = 0; i < this.maxChunks; i++) {
      if (words[this.metaIndex(i, M_MAGIC)] !== MAGIC_META) bad.push(`meta of chunk ${i}`);
    }
    if (words[words.length - LINE_WORDS] !== MAGIC_META_END) bad.push('meta end');
    const end = new Int32Array(this.region.buffer, this.region.byteOffset + this.#layout.totalBytes - LINE_BYTES, 1);
    if (end[0] !== MAGIC_END) bad.push('region end');
    if (bad.length > 0) {
      throw outOfRange(`\`region\` holds a corrupt ring: magic word overwritten at ${bad.join(', ')}`);
    }
  }

  /** Index in `words` of metadata `field` (an `M_*` constant) of chunk `chunk`. */
  metaIndex(chunk: number, field: number): number {
    return this.#layout.headerWords + chunk * this.#layout.metaStrideWords + field;
  }

  /** Index in `words` of READ_LAP[reader] of chunk `chunk`. */
  readLapIndex(chunk: number, reader: number): number {
    return this.metaIndex(chunk, M_READ_LAP + reader);
  }

  /** Byte offset of chunk `chunk` in `bytes`. */
  chunkOffset(chunk: number): number {
    return chunk * this.#layout.chunkStrideBytes;
  }

  /** Takes the writer role; a second claim on the same ring (from any thread) throws. */
  claimWriter(): void {
    if (Atomics.compareExchange(this.words, H_WRITER_CLAIMED, 0, 1) !== 0) {
      throw outOfRange('The writer of this ring is already claimed (one writer per ring)');
    }
  }

  /** Takes reader `reader` (0..nReaders-1); a second claim of the same index throws. */
  claimReader(reader: number): void {
    checkInteger('reader', reader, 0, this.nReaders - 1);
    if (Atomics.compareExchange(this.words, H_READER_CLAIMED + reader, 0, 1) !== 0) {
      throw outOfRange(`Reader ${reader} of this ring is already claimed (each index by one thread)`);
    }
  }

  /** Whether reader `reader` has been claimed (attached). */
  readerAttached(reader: number): boolean {
    return Atomics.load(this.words, H_READER_CLAIMED + reader) !== 0;
  }

  /** Whether `close` has run, in any thread. */
  get closed(): boolean {
    return Atomics.load(this.words, H_CLOSED) !== 0;
  }

  /** Closes the ring for every thread and wakes every waiter at once (idempotent). */
  close(): void {
    if (Atomics.compareExchange(this.words, H_CLOSED, 0, 1) !== 0) return;
    for (let i = 0; i < this.maxChunks; i++) {
      for (const field of [M_WRITTEN, M_READ_COUNT]) {
        Atomics.or(this.words, this.metaIndex(i, field), CLOSED_BIT);
        Atomics.notify(this.words, this.metaIndex(i, field));
      }
    }
  }

  /** Readers that have not released the lap now in chunk `chunk` (all readers if it was never written). */
  pendingReaders(chunk: number): number[] {
    const lap = Atomics.load(this.words, this.metaIndex(chunk, M_WRITTEN)) & LAP_MAX;
    const pending: number[] = [];
    for (let k = 0; k < this.nReaders; k++) {
      if (lap === 0 || Atomics.load(this.words, this.readLapIndex(chunk, k)) !== lap) pending.push(k);
    }
    return pending;
  }

  /** Names readers for a report: `[1, 3 (not attached)]`. */
  describeReaders(readers: readonly number[]): string {
    return `[${readers.map((k) => (this.readerAttached(k) ? `${k}` : `${k} (not attached)`)).join(', ')}]`;
  }

  /** What the writer is doing, for a reader's stall report. */
  describeWriter(): string {
    if (Atomics.load(this.words, H_WRITER_CLAIMED) === 0) return 'the writer has not attached';
    const published = Atomics.load(this.words, H_PUBLISHED) >>> 0;
    let text = `the writer has published ${published} chunks`;
    if (published >= this.maxChunks) {
      const next = published % this.maxChunks;
      const pending = this.pendingReaders(next);
      if (pending.length > 0) {
        text += `; its next chunk ${next} is still unread by readers ${this.describeReaders(pending)}`;
      }
    }
    return text;
  }
}
