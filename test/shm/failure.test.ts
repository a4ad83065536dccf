import test from 'ava';
import { ErrorCodes } from '../../src/errors.js';
import { MessageQueue } from '../../src/shm/message-queue.js';
import { M_READER_SLEEPERS, M_WRITER_SLEEPERS } from '../../src/shm/ring-buffer.js';
import { guardedRegion, startFixture, waitAsyncUntil } from './helpers.js';

interface Ended { ended: string; name?: string; code?: string; message?: string; elapsedMs: number }

test('close wakes every waiting reader at once with ClosedError', async (t) => {
  const sizes = { nReaders: 3, maxChunkBytes: 40 * 1024, maxChunks: 2 };
  const queue = MessageQueue.create(guardedRegion(MessageQueue.bytesNeeded(sizes)), sizes);
  const control = new Int32Array(new SharedArrayBuffer(8));
  const readers = [0, 1, 2].map((index) => startFixture<Ended>('blocked-reader', { handle: queue.handle, index, control, timeoutMs: 60_000 }));
  await waitAsyncUntil(queue.ring.words, queue.ring.metaIndex(0, M_READER_SLEEPERS), (sleepers) => sleepers === 3);
  const closedAt = performance.now();
  queue.close();
  const results = await Promise.all(readers.map((r) => r.result));
  const releasedMs = performance.now() - closedAt;
  for (const [index, result] of results.entries()) {
    t.like(result, { ended: 'threw', name: 'ClosedError', code: ErrorCodes.CLOSED });
    t.regex(result.message!, new RegExp(`reader ${index} waiting for message 0 .*queue closed`));
  }
  t.true(releasedMs < 5_000, `released ${releasedMs} ms after close (their timeout was 60 s)`);
});

test('close wakes a writer blocked on a full ring', async (t) => {
  const sizes = { nReaders: 1, maxChunkBytes: 64, maxChunks: 1 };
  const queue = MessageQueue.create(guardedRegion(MessageQueue.bytesNeeded(sizes)), sizes);
  const writer = startFixture<{ sent: number; error?: { code: string; message: string } }>('stalled-writer',
    { handle: queue.handle, count: 5, stallMs: 60_000, timeoutMs: 60_000 });
  await waitAsyncUntil(queue.ring.words, queue.ring.metaIndex(0, M_WRITER_SLEEPERS), (sleepers) => sleepers === 1);
  queue.close();
  const result = await writer.result;
  t.is(result.sent, 1);
  t.is(result.error?.code, ErrorCodes.CLOSED);
  t.regex(result.error!.message, /writer waiting to reuse chunk 0 for message 1: readers \[0 \(not attached\)\] have not read it: queue closed/);
});

/** A reader list as the ring writes it (`[1, 2 (not attached)]`) that names reader 1. */
const NAMES_READER_1 = String.raw`\[(?:[^\]]*, )?1(?: \(not attached\))?(?:, [^\]]*)?\]`;

test('a reader that never reads: the writer\'s stall reports and timeout name it, other readers stay correct', async (t) => {
  const sizes = { nReaders: 3, maxChunkBytes: 64, maxChunks: 2 };
  const queue = MessageQueue.create(guardedRegion(MessageQueue.bytesNeeded(sizes)), sizes);
  const control = new Int32Array(new SharedArrayBuffer(8)); // [0] attached, [1] releases the idle reader
  const idle = startFixture<number>('idle-reader', { handle: queue.handle, index: 1, control });
  await waitAsyncUntil(control, 0, (attached) => attached === 1);
  const writer = startFixture<{ sent: number; reports: Array<{ role: string; pendingReaders: number[]; text: string }>;
    error?: { code: string; message: string } }>('stalled-writer', { handle: queue.handle, count: 10, stallMs: 40, timeoutMs: 250 });
  const readers = [0, 2].map((index) => startFixture<Ended>('blocked-reader', { handle: queue.handle, index, control, timeoutMs: 60_000 }));
  const result = await writer.result;
  t.is(result.sent, 2, 'the ring holds two messages, then the writer stalls');
  t.is(result.error?.code, ErrorCodes.TIMEOUT);
  // Reader 1 never reads; readers 0 and 2 read, but on a loaded machine they may start late, so a report
  // may also list them: what is certain is that every report and the timeout name reader 1.
  t.regex(result.error!.message, new RegExp(`writer waiting to reuse chunk 0 for message 2: readers ${NAMES_READER_1} have not read it`));
  t.true(result.reports.length >= 3, `${result.reports.length} stall reports`);
  for (const report of result.reports) {
    t.true(report.pendingReaders.includes(1), `report names reader 1: ${report.text}`);
    t.regex(report.text, new RegExp(`readers ${NAMES_READER_1} have not read it`));
  }
  for (const reader of readers) t.like(await reader.result, { ended: 'returned', value: { sent: 0 } });
  Atomics.store(control, 1, 1);
  Atomics.notify(control, 1);
  t.is(await idle.result, 1);
});
