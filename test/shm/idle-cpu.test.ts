/**
 * A waiting reader or writer sleeps in Atomics.wait: over 1 s the whole process (main thread idle in a
 * timer, two waiters in workers) must use <= 1 % of a core per waiter. A busy worker is the control that
 * shows the measurement sees worker threads at all. Serial: nothing else may run in this process meanwhile.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'ava';
import { MessageQueue } from '../../src/shm/message-queue.js';
import { M_READER_SLEEPERS, M_WRITER_SLEEPERS } from '../../src/shm/ring-buffer.js';
import { guardedRegion, startFixture, waitAsyncUntil } from './helpers.js';

function cpuMsOver(ms: number): Promise<number> {
  const before = process.cpuUsage();
  return sleep(ms).then(() => {
    const used = process.cpuUsage(before);
    return (used.user + used.system) / 1000;
  });
}

test.serial('an idle waiting reader and a writer blocked on a full ring use <= 1 % of a core each', async (t) => {
  const sizes = { nReaders: 1, maxChunkBytes: 64, maxChunks: 1 };
  const empty = MessageQueue.create(guardedRegion(MessageQueue.bytesNeeded(sizes)), sizes);
  const full = MessageQueue.create(guardedRegion(MessageQueue.bytesNeeded(sizes)), sizes);
  const control = new Int32Array(new SharedArrayBuffer(8));
  const reader = startFixture('blocked-reader', { handle: empty.handle, index: 0, control, timeoutMs: 60_000 });
  const writer = startFixture('stalled-writer', { handle: full.handle, count: 2, stallMs: 60_000, timeoutMs: 60_000 });
  await waitAsyncUntil(empty.ring.words, empty.ring.metaIndex(0, M_READER_SLEEPERS), (n) => n === 1);
  await waitAsyncUntil(full.ring.words, full.ring.metaIndex(0, M_WRITER_SLEEPERS), (n) => n === 1);
  await sleep(100); // let worker start-up work (compilation, GC) settle
  const cpuMs = await cpuMsOver(1000);
  t.log(`process CPU over 1 s with two waiters: ${cpuMs.toFixed(2)} ms`);
  empty.close();
  full.close();
  await Promise.all([reader.result, writer.result]);
  t.true(cpuMs <= 20, `two waiters used ${cpuMs} ms of CPU in 1 s`);
});

test.serial('control: a spinning worker shows up in the same measurement', async (t) => {
  const busy = startFixture('busy', { ms: 400 });
  const cpuMs = await cpuMsOver(300);
  await busy.result;
  t.log(`process CPU over 300 ms with a busy worker: ${cpuMs.toFixed(1)} ms`);
  t.true(cpuMs >= 50, `a busy worker showed ${cpuMs} ms (5x the idle budget; the machine may be shared)`);
});
