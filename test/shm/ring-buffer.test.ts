import test from 'ava';
import { ErrorCodes } from '../../src/errors.js';
import {
  CHUNK_BYTES_MAX, CHUNK_BYTES_MIN, CHUNKS_MAX, CLOSED_BIT, H_CLOSED, M_READ_COUNT, M_WRITTEN, READERS_MAX, REGION_ALIGN_BYTES,
  ShmRingBuffer,
} from '../../src/shm/ring-buffer.js';
import { guardedRegion, guardsIntact } from './helpers.js';

const codeOf = (error: unknown) => (error as { code?: string }).code;
const up = (value: number, to: number) => Math.ceil(value / to) * to;

// The layout, written out from the header comment of ring-buffer.ts (not from its code).
function expectedBytes(nReaders: number, maxChunkBytes: number, maxChunks: number): number {
  const headerWords = 16 + up(nReaders, 16);
  const metaWords = maxChunks * up(8 + nReaders, 16);
  return 4 * (headerWords + metaWords + 16) + maxChunks * up(maxChunkBytes, 64) + 64;
}

test('bytesNeeded follows the documented layout', (t) => {
  for (const [r, c, n] of [[0, 64, 1], [1, 64, 1], [3, 40 * 1024, 2], [16, 100, 7], [17, 4 << 20, 6], [READERS_MAX, 64, 3]] as const) {
    t.is(ShmRingBuffer.bytesNeeded(r, c, n), expectedBytes(r, c, n), `${r} readers, ${c} B x ${n}`);
  }
});

test('create formats only its own bytes, and attach sees the same ring', (t) => {
  const bytes = ShmRingBuffer.bytesNeeded(3, 100, 5);
  const region = guardedRegion(bytes, 128);
  const ring = ShmRingBuffer.create(region, { nReaders: 3, maxChunkBytes: 100, maxChunks: 5 });
  t.true(guardsIntact(region), 'no byte outside the region changed');
  const other = ShmRingBuffer.attach(region);
  t.deepEqual([other.nReaders, other.maxChunkBytes, other.maxChunks], [3, 100, 5]);
  t.is(other.region.byteLength, bytes);
  ring.words[ring.metaIndex(2, M_WRITTEN)] = 42;
  t.is(other.words[other.metaIndex(2, M_WRITTEN)], 42, 'both views share memory');
  t.is(other.chunkOffset(4) % 64, 0);
  t.true(other.chunkOffset(4) + 100 <= other.bytes.byteLength);
  t.is(other.bytes.byteOffset % 64, 128 % 64);
});

test('a region larger than needed is fine; the ring uses only bytesNeeded of it', (t) => {
  const bytes = ShmRingBuffer.bytesNeeded(1, 64, 1);
  const region = { buffer: new SharedArrayBuffer(bytes + 4096), byteOffset: 16, byteLength: bytes + 1000 };
  const ring = ShmRingBuffer.create(region, { nReaders: 1, maxChunkBytes: 64, maxChunks: 1 });
  t.is(ring.region.byteLength, bytes);
  t.is(ShmRingBuffer.attach(region).region.byteLength, bytes);
});

test('attach refuses a region that no ring was created in', (t) => {
  const error = t.throws(() => ShmRingBuffer.attach({ buffer: new SharedArrayBuffer(4096), byteOffset: 0, byteLength: 4096 }));
  t.is(codeOf(error), ErrorCodes.INVALID_ARG_TYPE);
  t.regex(error!.message, /ShmRingBuffer\.create/);
});

test('attach names each overwritten magic word', (t) => {
  const sizes = { nReaders: 2, maxChunkBytes: 64, maxChunks: 3 };
  const region = guardedRegion(ShmRingBuffer.bytesNeeded(2, 64, 3));
  const ring = ShmRingBuffer.create(region, sizes);
  ring.words[ring.metaIndex(1, 7)] = 0; // chunk 1's meta magic
  const chunk2 = ring.bytes.byteOffset + ring.chunkOffset(2);
  new Uint8Array(region.buffer).fill(1, chunk2, chunk2 + 64 + 16); // chunk 2 written past its end
  const error = t.throws(() => ShmRingBuffer.attach(region));
  t.is(codeOf(error), ErrorCodes.OUT_OF_RANGE);
  t.regex(error!.message, /meta of chunk 1/);
  t.regex(error!.message, /region end/);
  t.notRegex(error!.message, /chunk 0|header end/);
});

test('regions are checked: type, alignment, bounds and size', (t) => {
  const sizes = { nReaders: 1, maxChunkBytes: 64, maxChunks: 1 };
  const need = ShmRingBuffer.bytesNeeded(1, 64, 1);
  const buffer = new SharedArrayBuffer(need + 64);
  t.is(codeOf(t.throws(() => ShmRingBuffer.create({ buffer: new ArrayBuffer(need) as never, byteOffset: 0, byteLength: need }, sizes))), ErrorCodes.INVALID_ARG_TYPE);
  t.is(codeOf(t.throws(() => ShmRingBuffer.create(null as never, sizes))), ErrorCodes.INVALID_ARG_TYPE);
  const misaligned = t.throws(() => ShmRingBuffer.create({ buffer, byteOffset: REGION_ALIGN_BYTES / 2, byteLength: need }, sizes));
  t.is(codeOf(misaligned), ErrorCodes.OUT_OF_RANGE);
  t.regex(misaligned!.message, /region\.byteOffset/);
  const past = t.throws(() => ShmRingBuffer.create({ buffer, byteOffset: 128, byteLength: need }, sizes));
  t.regex(past!.message, /past the end/);
  const small = t.throws(() => ShmRingBuffer.create({ buffer, byteOffset: 0, byteLength: need - 1 }, sizes));
  t.regex(small!.message, new RegExp(`smaller than the ${need} bytes`));
});

test('sizes are checked with their names and limits', (t) => {
  const region = guardedRegion(1 << 16);
  const cases: Array<[object, string, RegExp]> = [
    [{ nReaders: -1, maxChunkBytes: 64, maxChunks: 1 }, ErrorCodes.OUT_OF_RANGE, /nReaders/],
    [{ nReaders: READERS_MAX + 1, maxChunkBytes: 64, maxChunks: 1 }, ErrorCodes.OUT_OF_RANGE, /nReaders/],
    [{ nReaders: 1.5, maxChunkBytes: 64, maxChunks: 1 }, ErrorCodes.INVALID_ARG_TYPE, /nReaders/],
    [{ nReaders: 1, maxChunkBytes: CHUNK_BYTES_MIN - 1, maxChunks: 1 }, ErrorCodes.OUT_OF_RANGE, /maxChunkBytes/],
    [{ nReaders: 1, maxChunkBytes: CHUNK_BYTES_MAX + 1, maxChunks: 1 }, ErrorCodes.OUT_OF_RANGE, /maxChunkBytes/],
    [{ nReaders: 1, maxChunkBytes: 64, maxChunks: 0 }, ErrorCodes.OUT_OF_RANGE, /maxChunks/],
    [{ nReaders: 1, maxChunkBytes: 64, maxChunks: CHUNKS_MAX + 1 }, ErrorCodes.OUT_OF_RANGE, /maxChunks/],
  ];
  for (const [sizes, code, pattern] of cases) {
    const error = t.throws(() => ShmRingBuffer.create(region, sizes as never));
    t.is(codeOf(error), code, JSON.stringify(sizes));
    t.regex(error!.message, pattern);
  }
  t.is(codeOf(t.throws(() => ShmRingBuffer.create(region, undefined as never))), ErrorCodes.INVALID_ARG_TYPE);
});

test('each role is claimed once across all views of a ring', (t) => {
  const region = guardedRegion(ShmRingBuffer.bytesNeeded(2, 64, 1));
  const a = ShmRingBuffer.create(region, { nReaders: 2, maxChunkBytes: 64, maxChunks: 1 });
  const b = ShmRingBuffer.attach(region);
  a.claimWriter();
  t.regex(t.throws(() => b.claimWriter())!.message, /writer .* already claimed/);
  t.false(a.readerAttached(1));
  b.claimReader(1);
  t.true(a.readerAttached(1));
  t.regex(t.throws(() => a.claimReader(1))!.message, /Reader 1 .* already claimed/);
  t.is(codeOf(t.throws(() => a.claimReader(2))), ErrorCodes.OUT_OF_RANGE);
});

test('close sets the closed word and changes every word a waiter may sleep on', (t) => {
  const region = guardedRegion(ShmRingBuffer.bytesNeeded(1, 64, 2));
  const ring = ShmRingBuffer.create(region, { nReaders: 1, maxChunkBytes: 64, maxChunks: 2 });
  ring.words[ring.metaIndex(1, M_WRITTEN)] = 3;
  t.false(ring.closed);
  ring.close();
  ring.close();
  t.true(ShmRingBuffer.attach(region).closed);
  t.is(ring.words[H_CLOSED], 1);
  t.is(ring.words[ring.metaIndex(1, M_WRITTEN)], 3 | CLOSED_BIT);
  for (const chunk of [0, 1]) t.is(ring.words[ring.metaIndex(chunk, M_READ_COUNT)], CLOSED_BIT);
});

test('pendingReaders lists readers that have not released the chunk\'s lap', (t) => {
  const region = guardedRegion(ShmRingBuffer.bytesNeeded(3, 64, 2));
  const ring = ShmRingBuffer.create(region, { nReaders: 3, maxChunkBytes: 64, maxChunks: 2 });
  t.deepEqual(ring.pendingReaders(0), [0, 1, 2], 'never written: everyone');
  ring.words[ring.metaIndex(0, M_WRITTEN)] = 2;
  ring.words[ring.readLapIndex(0, 1)] = 2;
  ring.words[ring.readLapIndex(0, 2)] = 1;
  t.deepEqual(ring.pendingReaders(0), [0, 2]);
  ring.claimReader(2);
  t.is(ring.describeReaders([0, 2]), '[0 (not attached), 2]');
  t.is(ring.describeWriter(), 'the writer has not attached');
});
