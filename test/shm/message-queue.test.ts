import v8 from 'node:v8';
import test from 'ava';
import { ErrorCodes } from '../../src/errors.js';
import { MessageQueue, QUEUE_CHUNKS, QUEUE_CHUNK_BYTES, SEGMENT_ALIGN_BYTES, segmentStart, type StallReport } from '../../src/shm/message-queue.js';
import { LAP_MAX, M_MESSAGE, M_WRITTEN } from '../../src/shm/ring-buffer.js';
import type { ObjectCodec } from '../../src/shm/serialize.js';
import { fuzzValue, mulberry32, randomInt } from './fixtures/plan.js';
import { guardedRegion, guardsIntact } from './helpers.js';

const codeOf = (error: unknown) => (error as { code?: string }).code;
const reference = (value: unknown): unknown => v8.deserialize(v8.serialize(value));
const quiet = { onStall: () => {} };

function makeQueue(nReaders: number, maxChunkBytes: number, maxChunks: number) {
  const sizes = { nReaders, maxChunkBytes, maxChunks };
  const region = guardedRegion(MessageQueue.bytesNeeded(sizes));
  return { region, queue: MessageQueue.create(region, sizes) };
}

test('defaults match vLLM\'s group broadcaster (4 MiB x 6)', (t) => {
  t.is(QUEUE_CHUNK_BYTES, 4 * 1024 * 1024);
  t.is(QUEUE_CHUNKS, 6);
});

test('every reader gets every message, in order, across chunk boundaries and lap wraps', (t) => {
  const { region, queue } = makeQueue(3, 64, 8);
  const writer = queue.writer();
  const readers = [0, 1, 2].map((i) => MessageQueue.attach(queue.handle).reader(i));
  const rng = mulberry32(11);
  for (let i = 0; i < 500; i++) {
    const value = fuzzValue(rng, randomInt(rng, 0, 300)); // up to ~6 chunks: fits the 8-chunk ring in one thread
    writer.enqueue(value);
    for (const reader of readers) t.deepEqual(reader.dequeue(), reference(value), `message ${i}`);
  }
  t.true(guardsIntact(region));
});

test('the writer runs ahead by a ring\'s worth of messages; readers drain them in order', (t) => {
  const { queue } = makeQueue(2, 64, 4);
  const writer = queue.writer();
  const readers = [queue.reader(0), queue.reader(1)];
  for (let i = 0; i < 4; i++) writer.enqueue(i);
  t.deepEqual([0, 1, 2, 3].map(() => readers[0]!.dequeue()), [0, 1, 2, 3]);
  t.deepEqual([0, 1, 2, 3].map(() => readers[1]!.dequeue()), [0, 1, 2, 3]);
});

test('the lap wraps from LAP_MAX to 1, not 0 (never written): messages, drain, pending readers', (t) => {
  // A chunk per message, two chunks, from lap LAP_MAX - 1 (the ends' test hook): then LAP_MAX, 1, 2.
  const { queue } = makeQueue(2, 64, 2);
  const { ring } = queue;
  t.is(codeOf(t.throws(() => queue.writer({ firstLap: 0 }))), ErrorCodes.OUT_OF_RANGE);
  const firstLap = LAP_MAX - 1;
  const writer = queue.writer({ firstLap, timeoutMs: 50, spinIterations: 0, ...quiet });
  const readers = [queue.reader(0, { firstLap }), queue.reader(1, { firstLap })];
  const laps: number[] = [];
  for (let i = 0; i < 8; i++) {
    writer.enqueue(i);
    laps.push(ring.words[ring.metaIndex(i % 2, M_WRITTEN)]!);
    t.is(readers[0]!.dequeue(), i);
    if (i === 4) {
      // The first message after the wrap, read by reader 0 only: reader 1 holds drain back.
      t.deepEqual(ring.pendingReaders(0), [1]);
      t.is(codeOf(t.throws(() => writer.drain())), ErrorCodes.TIMEOUT);
    }
    t.is(readers[1]!.dequeue(), i);
    t.deepEqual(ring.pendingReaders(i % 2), [], `message ${i}`);
  }
  t.deepEqual(laps, [LAP_MAX - 1, LAP_MAX - 1, LAP_MAX, LAP_MAX, 1, 1, 2, 2]);
  writer.drain();
});

test('broadcastObject returns the writer\'s object and delivers it to each reader', (t) => {
  const { queue } = makeQueue(2, 256, 2);
  const value = { step: 3, ids: [1, 2] };
  t.is(queue.writer().broadcastObject(value), value);
  t.deepEqual(queue.reader(1).broadcastObject(), value);
  t.deepEqual(queue.reader(0).broadcastObject(), value);
});

test('two queues side by side in one buffer do not touch each other', (t) => {
  const sizes = { nReaders: 1, maxChunkBytes: 64, maxChunks: 2 };
  const bytes = MessageQueue.bytesNeeded(sizes);
  const buffer = new SharedArrayBuffer(2 * bytes + 64);
  const a = MessageQueue.create({ buffer, byteOffset: 0, byteLength: bytes }, sizes);
  const b = MessageQueue.create({ buffer, byteOffset: bytes + 48, byteLength: bytes }, sizes);
  const [wa, wb, ra, rb] = [a.writer(), b.writer(), a.reader(0), b.reader(0)];
  for (let i = 0; i < 50; i++) {
    wa.enqueue(`a${i}`.repeat(i % 7));
    wb.enqueue([i]);
    t.is(ra.dequeue(), `a${i}`.repeat(i % 7));
    t.deepEqual(rb.dequeue(), [i]);
  }
});

test('a reader times out on an empty queue, naming itself and the writer\'s progress; a retry succeeds', (t) => {
  const { queue } = makeQueue(2, 64, 2);
  const writer = queue.writer();
  const reader = queue.reader(1, { timeoutMs: 30, spinIterations: 0 });
  const error = t.throws(() => reader.dequeue());
  t.is(codeOf(error), ErrorCodes.TIMEOUT);
  t.regex(error!.message, /reader 1 waiting for message 0 .*published 0 chunks/);
  t.regex(t.throws(() => reader.dequeue({ timeoutMs: 5 }))!.message, /timeout 5 ms/);
  writer.enqueue('late');
  t.is(reader.dequeue(), 'late');
  t.false(queue.closed, 'a timeout before any byte of a message leaves the queue usable');
});

test('a full ring stalls the writer: reports and the timeout name the readers that have not read', (t) => {
  const { queue } = makeQueue(3, 64, 2);
  const reports: StallReport[] = [];
  const writer = queue.writer({ timeoutMs: 120, stallMs: 25, spinIterations: 0, onStall: (r) => reports.push(r) });
  const [r0, r2] = [queue.reader(0), queue.reader(2)];
  writer.enqueue('a');
  writer.enqueue('b');
  r0.dequeue();
  r2.dequeue();
  const error = t.throws(() => writer.enqueue('c'));
  t.is(codeOf(error), ErrorCodes.TIMEOUT);
  t.regex(error!.message, /writer waiting to reuse chunk 0 for message 2: readers \[1 \(not attached\)\]/);
  t.true(reports.length >= 2, `${reports.length} reports`);
  t.like(reports[0], { role: 'writer', chunk: 0, message: 2, pendingReaders: [1] });
  t.regex(reports[0]!.text, /has waited \d+ ms to reuse chunk 0 .* readers \[1 \(not attached\)\]/);
});

test('a reader\'s stall report says which readers hold the writer back', (t) => {
  const { queue } = makeQueue(2, 64, 1);
  const writer = queue.writer({ timeoutMs: 30, spinIterations: 0, ...quiet });
  const reports: StallReport[] = [];
  const r0 = queue.reader(0, { timeoutMs: 60, stallMs: 20, spinIterations: 0, onStall: (r) => reports.push(r) });
  queue.reader(1);
  writer.enqueue(1);
  t.is(r0.dequeue(), 1);
  t.throws(() => writer.enqueue(2));
  t.throws(() => r0.dequeue());
  t.like(reports[0], { role: 'reader', reader: 0, message: 1, pendingReaders: [1] });
  t.regex(reports[0]!.text, /reader 0 has waited \d+ ms for message 1 .* published 1 chunks; its next chunk 0 is still unread by readers \[1\]/);
});

test('close: every later call throws ClosedError, from any view, and close is idempotent', (t) => {
  const { queue } = makeQueue(1, 64, 2);
  const writer = queue.writer();
  const reader = MessageQueue.attach(queue.handle).reader(0);
  writer.enqueue(1);
  reader.close();
  queue.close();
  t.true(queue.closed);
  for (const call of [() => writer.enqueue(2), () => reader.dequeue()]) {
    const error = t.throws(call);
    t.is(codeOf(error), ErrorCodes.CLOSED);
    t.is(error!.name, 'ClosedError');
    t.regex(error!.message, /queue closed/);
  }
});

test('a writer that fails in the middle of a message closes the queue for everyone', (t) => {
  const { queue } = makeQueue(1, 64, 2);
  const writer = queue.writer({ timeoutMs: 20, spinIterations: 0, ...quiet });
  const reader = queue.reader(0);
  t.is(codeOf(t.throws(() => writer.enqueue('x'.repeat(500)))), ErrorCodes.TIMEOUT); // needs 8+ chunks, ring has 2
  t.true(queue.closed);
  t.is(codeOf(t.throws(() => reader.dequeue())), ErrorCodes.CLOSED);
});

test('a message of the wrong sequence is caught as corruption', (t) => {
  const { queue } = makeQueue(1, 64, 2);
  const writer = queue.writer();
  const reader = queue.reader(0);
  writer.enqueue('ok');
  t.is(reader.dequeue(), 'ok');
  writer.enqueue('tampered');
  queue.ring.words[queue.ring.metaIndex(1, M_MESSAGE)] = 7;
  const error = t.throws(() => reader.dequeue());
  t.is(codeOf(error), ErrorCodes.MISMATCH);
  t.regex(error!.message, /corrupt: reader 0 at chunk 1 expected the start of message 1, found message 7/);
});

test('a queue with no readers never blocks its writer', (t) => {
  const { queue } = makeQueue(0, 64, 1);
  const writer = queue.writer({ timeoutMs: 50 });
  for (let i = 0; i < 100; i++) writer.enqueue({ i, pad: 'y'.repeat(100) });
  t.pass();
});

test('a custom codec is used on both ends', (t) => {
  const json: ObjectCodec = {
    encode: (value) => ({ main: Buffer.from(JSON.stringify(value)), buffers: [] }),
    decode: (main) => ({ decoded: JSON.parse(Buffer.from(main).toString()) }),
  };
  const { queue } = makeQueue(1, 64, 4);
  queue.writer({ codec: json }).enqueue({ a: [1, 'b'] });
  t.deepEqual(queue.reader(0, { codec: json }).dequeue(), { decoded: { a: [1, 'b'] } });
});

test('handle options are checked', (t) => {
  const { queue } = makeQueue(2, 64, 1);
  const cases: Array<[object, string, RegExp]> = [
    [{ timeoutMs: 0 }, ErrorCodes.OUT_OF_RANGE, /options\.timeoutMs/],
    [{ stallMs: -1 }, ErrorCodes.OUT_OF_RANGE, /options\.stallMs/],
    [{ spinIterations: 100_000 }, ErrorCodes.OUT_OF_RANGE, /options\.spinIterations/],
    [{ onStall: 'log' }, ErrorCodes.INVALID_ARG_TYPE, /options\.onStall/],
    [{ codec: {} }, ErrorCodes.INVALID_ARG_TYPE, /options\.codec/],
  ];
  for (const [options, code, pattern] of cases) {
    const error = t.throws(() => queue.reader(0, options as never));
    t.is(codeOf(error), code, JSON.stringify(options));
    t.regex(error!.message, pattern);
  }
  t.is(codeOf(t.throws(() => queue.reader(5))), ErrorCodes.OUT_OF_RANGE);
  t.is(codeOf(t.throws(() => queue.reader(0, null as never))), ErrorCodes.INVALID_ARG_TYPE);
  const reader = queue.reader(0);
  t.is(codeOf(t.throws(() => reader.dequeue({ timeoutMs: Number.NaN }))), ErrorCodes.OUT_OF_RANGE);
});

test('segmentStart: aligned to 16; a segment that fits a chunk never straddles two', (t) => {
  t.is(SEGMENT_ALIGN_BYTES, 16);
  t.is(segmentStart(0, 100, 64), 0, 'a chunk start stays (even for a segment larger than a chunk)');
  t.is(segmentStart(1, 8, 64), 16);
  t.is(segmentStart(16, 48, 64), 16, 'fits exactly');
  t.is(segmentStart(17, 32, 64), 32, 'fits the rest exactly');
  t.is(segmentStart(17, 40, 64), 64, 'does not fit the rest: next chunk');
  t.is(segmentStart(17, 65, 64), 32, 'larger than a chunk: straddles anyway');
  t.is(segmentStart(64, 0, 64), 64);
  t.is(segmentStart(40, 0, 64), 48);
});

test('dequeueWith hands out large arrays as views of the ring until `use` returns', (t) => {
  const { queue } = makeQueue(1, 4096, 3);
  const writer = queue.writer({ timeoutMs: 50, spinIterations: 0, ...quiet });
  const reader = queue.reader(0);
  const big = Float64Array.from({ length: 300 }, (_, i) => i / 2); // 2400 B: out of band, fits a chunk
  const small = Int16Array.of(1, 2, 3);
  writer.enqueue({ big, small, tag: 'x' });
  const seen = reader.dequeueWith((value) => {
    const v = value as { big: Float64Array; small: Int16Array; tag: string };
    t.true(v.big.buffer instanceof SharedArrayBuffer, 'large array: a view of the ring');
    t.false(v.small.buffer instanceof SharedArrayBuffer, 'inline array: a copy');
    t.deepEqual(Array.from(v.big), Array.from(big));
    t.deepEqual([v.small, v.tag], [small, 'x']);
    t.deepEqual(queue.ring.pendingReaders(0), [0], 'the chunk stays unread while `use` runs');
    return v.big.slice();
  });
  t.deepEqual(queue.ring.pendingReaders(0), [], 'released once `use` returned');
  t.deepEqual(Array.from(seen), Array.from(big));
  for (let i = 0; i < 3; i++) writer.enqueue(i); // the third reuses chunk 0: possible only once it was released
  t.deepEqual([0, 1, 2].map(() => reader.dequeue()), [0, 1, 2]);
});

test('dequeueWith: arrays larger than a chunk are copies; an error in `use` still releases the chunks', (t) => {
  const { queue } = makeQueue(1, 2048, 3);
  const writer = queue.writer();
  const reader = queue.reader(0);
  const fits = new Uint8Array(1500).fill(1), larger = new Uint8Array(3000).fill(2);
  writer.enqueue([fits, larger]);
  reader.dequeueWith((value) => {
    const [a, b] = value as Uint8Array[];
    t.true(a!.buffer instanceof SharedArrayBuffer);
    t.false(b!.buffer instanceof SharedArrayBuffer);
    t.deepEqual([a, b], [fits, larger]);
  });
  writer.enqueue(new Uint8Array(1200).fill(9));
  t.is(t.throws(() => reader.dequeueWith(() => { throw new Error('use failed'); }))!.message, 'use failed');
  t.deepEqual([0, 1, 2].map((chunk) => queue.ring.pendingReaders(chunk)), [[], [], []]);
  t.false(queue.closed);
  t.regex(t.throws(() => reader.dequeueWith(42 as never))!.message, /`use`/);
});

test('a job-wide abort word given to a handle ends its waits with the job\'s error', (t) => {
  const { queue } = makeQueue(1, 64, 1);
  const job = new Int32Array(new SharedArrayBuffer(4));
  const abort = { flags: job, index: 0, error: (rank: number) => new Error(`rank ${rank - 1} failed`) };
  const reader = queue.reader(0, { abort, timeoutMs: 5_000, spinIterations: 0 });
  Atomics.store(job, 0, 3 + 1);
  const started = performance.now();
  t.is(t.throws(() => reader.dequeue())!.message, 'rank 3 failed');
  t.true(performance.now() - started < 1_000);
});

test('without onStall, a stall is written to console.warn', (t) => {
  const { queue } = makeQueue(1, 64, 1);
  const reader = queue.reader(0, { timeoutMs: 45, stallMs: 15, spinIterations: 0 });
  const warned: string[] = [];
  const original = console.warn;
  console.warn = (text: string) => warned.push(text);
  try {
    t.throws(() => reader.dequeue());
  } finally {
    console.warn = original;
  }
  t.true(warned.length >= 1);
  t.regex(warned[0]!, /MessageQueue reader 0 has waited \d+ ms for message 0 .*the writer has not attached/);
});

test('a queue holds no timers or handles: nothing stays active after use', (t) => {
  const before = process.getActiveResourcesInfo().length;
  const { queue } = makeQueue(2, 64, 2);
  const writer = queue.writer();
  const readers = [queue.reader(0), queue.reader(1)];
  writer.enqueue({ x: 1 });
  readers.forEach((r) => r.dequeue());
  queue.close();
  t.is(process.getActiveResourcesInfo().length, before);
});
