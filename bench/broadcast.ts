/**
 * Benchmark of the shared-memory MessageQueue against postMessage, in one run on the same machine:
 *   bulk   4 MiB Float32Array messages, 1 writer -> 3 readers (GB/s per reader), queue 4 MiB x 6 chunks;
 *          readers copy each array out into fresh memory (`dequeue`), copy it into a buffer they reuse, or
 *          read it in place (`dequeueWith`); fresh memory costs page faults, which dominate on a VM
 *   rtt    a small object, enqueue -> all 3 readers done, at 4 ranks (µs: median, p99)
 *   stream small objects back to back: µs per message once the pipeline is full (slowest reader)
 *   idle   process CPU over 1 s while one reader waits on an empty queue (ms, of 1000)
 * Every participant is a worker thread (this file, re-entered); the main thread only coordinates. The
 * queue's threads wait as rank threads do (polling with yields first; MULTIRANK_WAIT_YIELD=0: not).
 * Usage: node dist/bench/broadcast.js [--json out.json] [--quick]
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { MessageChannel, type MessagePort, Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { MessageQueue, QUEUE_CHUNKS, QUEUE_CHUNK_BYTES, type MessageQueueHandle } from '../src/shm/message-queue.js';
import { M_READER_SLEEPERS } from '../src/shm/ring-buffer.js';
import { SPIN_ITERATIONS_MAX, spinIterationsFor, waitFor, wake } from '../src/shm/wait.js';
import { setThreadYield, waitYieldFromEnv } from '../src/shm/wait.js';
import { tryNativeAddon } from '../src/native/addon.js';

const BULK_BYTES = 4 * 1024 * 1024;
const READERS = 3;
const WINDOW_MESSAGES = 3; // postMessage flow control: as many 4 MiB messages in flight as the ring holds
const SMALL = { op: 'step', step: 0, ids: [1, 2, 3, 4], sampling: { temperature: 0.7, topP: 0.9 } };
// control words: [0] ready, [1] go, [2] acks (rtt), [3] sleepers on acks
const READY = 0, GO = 1, ACKS = 2, ACK_SLEEPERS = 3;

type Kind = 'bulk' | 'bulkInto' | 'bulkInPlace' | 'rtt' | 'stream';
interface Job {
  kind: Kind; role: 'writer' | 'reader'; index: number; count: number; spin: number; readers: number;
  control: Int32Array; handle?: MessageQueueHandle; ports?: MessagePort[];
}

function startLine(control: Int32Array): void {
  Atomics.add(control, READY, 1);
  Atomics.notify(control, READY);
  waitFor(control, GO, 1, { timeoutMs: 60_000, describe: () => 'bench worker waiting for go' });
}

const waitOptions = (spinIterations: number) => ({
  timeoutMs: 60_000, spinIterations, sleepersIndex: ACK_SLEEPERS, describe: () => 'bench writer waiting for acks',
});

/** Queue roles; returns the elapsed ms (bulk: per reader) or the round-trip samples in µs (rtt writer). */
function queueRole(job: Job): number | number[] {
  const queue = MessageQueue.attach(job.handle!);
  const options = { spinIterations: job.spin, timeoutMs: 60_000 };
  const end = job.role === 'writer' ? queue.writer(options) : queue.reader(job.index, options);
  const payload = job.kind.startsWith('bulk') ? new Float32Array(BULK_BYTES / 4).fill(1.5) : SMALL;
  const last = (value: unknown) => (value as Float32Array)[BULK_BYTES / 4 - 1];
  startLine(job.control);
  const started = performance.now();
  if (job.kind !== 'rtt' && 'enqueue' in end) for (let i = 0; i < job.count; i++) end.enqueue(payload);
  if (job.kind === 'stream' && 'dequeue' in end) for (let i = 0; i < job.count; i++) end.dequeue();
  if (job.kind === 'bulk' && 'dequeue' in end) {
    for (let i = 0; i < job.count; i++) if (last(end.dequeue()) !== 1.5) throw new Error('bad payload');
  }
  if (job.kind === 'bulkInPlace' && 'dequeue' in end) {
    for (let i = 0; i < job.count; i++) if (end.dequeueWith(last) !== 1.5) throw new Error('bad payload');
  }
  if (job.kind === 'bulkInto' && 'dequeue' in end) {
    const own = new Float32Array(BULK_BYTES / 4); // the reader's buffer, reused: no fresh pages per message
    for (let i = 0; i < job.count; i++) {
      if (end.dequeueWith((v) => (own.set(v as Float32Array), last(own))) !== 1.5) throw new Error('bad payload');
    }
  }
  if (job.kind === 'rtt' && 'dequeue' in end) {
    for (let i = 0; i < job.count; i++) {
      end.dequeue();
      Atomics.add(job.control, ACKS, 1);
      wake(job.control, ACKS, ACK_SLEEPERS);
    }
  }
  if (job.kind === 'rtt' && 'enqueue' in end) {
    const samples: number[] = [];
    const wait = waitOptions(job.spin);
    for (let i = 1; i <= job.count; i++) {
      const t0 = performance.now();
      end.enqueue(SMALL);
      waitFor(job.control, ACKS, (acks) => acks >= job.readers * i, wait);
      samples.push((performance.now() - t0) * 1000);
    }
    return samples;
  }
  return performance.now() - started;
}

/** postMessage roles over MessageChannels: the writer posts to each reader, readers ack each message. */
async function postRole(job: Job): Promise<number | number[]> {
  const ports = job.ports!;
  const payload = job.kind === 'bulk' ? new Float32Array(BULK_BYTES / 4).fill(1.5) : SMALL;
  startLine(job.control);
  const started = performance.now();
  if (job.role === 'reader') {
    await new Promise<void>((resolve) => {
      let got = 0;
      ports[0]!.on('message', (value: Float32Array | typeof SMALL) => {
        if (job.kind === 'bulk' && (value as Float32Array)[BULK_BYTES / 4 - 1] !== 1.5) throw new Error('bad payload');
        ports[0]!.postMessage(got);
        if (++got === job.count) resolve();
      });
    });
    ports[0]!.close();
    return performance.now() - started;
  }
  const acked = ports.map(() => 0);
  let notify: (() => void) | undefined;
  ports.forEach((port, r) => port.on('message', () => { acked[r]!++; notify?.(); }));
  const until = (n: number) => new Promise<void>((resolve) => {
    const check = () => (Math.min(...acked) >= n ? resolve() : (notify = check));
    check();
  });
  const samples: number[] = [];
  for (let i = 1; i <= job.count; i++) {
    const t0 = performance.now();
    if (job.kind === 'bulk') await until(i - WINDOW_MESSAGES);
    for (const port of ports) port.postMessage(payload);
    if (job.kind === 'rtt') {
      await until(i);
      samples.push((performance.now() - t0) * 1000);
    }
  }
  await until(job.count);
  ports.forEach((port) => port.close());
  return job.kind === 'rtt' ? samples : performance.now() - started;
}

function spawn(job: Job, transfer: MessagePort[] = []): Promise<number | number[]> {
  const worker = new Worker(new URL(import.meta.url), { workerData: job, transferList: transfer });
  return new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
}

/** Runs one writer and `readers` readers over a fresh queue (or channels), returns what each reported. */
async function run(
  kind: Kind, transport: 'queue' | 'post', count: number, spin: number, readers = READERS,
): Promise<Array<number | number[]>> {
  const control = new Int32Array(new SharedArrayBuffer(16));
  const base = { kind, count, spin, control, readers };
  let jobs: Array<[Job, MessagePort[]]>;
  if (transport === 'queue') {
    const sizes = { nReaders: readers, maxChunkBytes: QUEUE_CHUNK_BYTES, maxChunks: QUEUE_CHUNKS };
    const buffer = new SharedArrayBuffer(MessageQueue.bytesNeeded(sizes));
    const { handle } = MessageQueue.create({ buffer, byteOffset: 0, byteLength: buffer.byteLength }, sizes);
    jobs = [[{ ...base, role: 'writer', index: 0, handle }, []],
      ...Array.from(
        { length: readers }, (_, index): [Job, MessagePort[]] => [{ ...base, role: 'reader', index, handle }, []],
      )];
  } else {
    const channels = Array.from({ length: readers }, () => new MessageChannel());
    const writerPorts = channels.map((c) => c.port1);
    jobs = [[{ ...base, role: 'writer', index: 0, ports: writerPorts }, writerPorts],
      ...channels.map(
        (c, index): [Job, MessagePort[]] => [{ ...base, role: 'reader', index, ports: [c.port2] }, [c.port2]],
      )];
  }
  const results = jobs.map(([job, transfer]) => spawn(job, transfer));
  while (Atomics.load(control, READY) < jobs.length) await sleep(5);
  Atomics.store(control, GO, 1);
  Atomics.notify(control, GO);
  return Promise.all(results);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const p99 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.99)]!;

async function bulk(transport: 'queue' | 'post', count: number, kind: Kind = 'bulk') {
  const reported = await run(kind, transport, count, spinIterationsFor(READERS + 1));
  const readerMs = reported.slice(1) as number[];
  const perReader = readerMs.map((ms) => (count * BULK_BYTES) / (ms * 1e6));
  return { gbPerSecondPerReader: Math.min(...perReader), perReader, messages: count };
}

async function rtt(transport: 'queue' | 'post', count: number, spin: number, readers = READERS) {
  const samples = ((await run('rtt', transport, count, spin, readers))[0] as number[]).slice(Math.floor(count / 10));
  return { medianUs: median(samples), p99Us: p99(samples), rounds: samples.length, spinIterations: spin };
}

async function stream(count: number) {
  const reported = await run('stream', 'queue', count, spinIterationsFor(READERS + 1));
  return { usPerMessage: (Math.max(...(reported.slice(1) as number[])) * 1000) / count, messages: count };
}

async function idleReaderCpuMs(): Promise<number> {
  const sizes = { nReaders: 1, maxChunkBytes: 64, maxChunks: 1 };
  const buffer = new SharedArrayBuffer(MessageQueue.bytesNeeded(sizes));
  const queue = MessageQueue.create({ buffer, byteOffset: 0, byteLength: buffer.byteLength }, sizes);
  const control = new Int32Array(new SharedArrayBuffer(16));
  control[GO] = 1;
  const reader = spawn({
    kind: 'bulk', role: 'reader', index: 0, count: 1, spin: 0, readers: 1, control, handle: queue.handle,
  });
  while (Atomics.load(queue.ring.words, queue.ring.metaIndex(0, M_READER_SLEEPERS)) === 0) await sleep(5);
  await sleep(200);
  const before = process.cpuUsage();
  await sleep(1000);
  const used = process.cpuUsage(before);
  queue.close();
  await reader.catch(() => undefined);
  return (used.user + used.system) / 1000;
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const bulkCount = quick ? 10 : 40, rttCount = quick ? 2000 : 20_000;
  const idleReaderCpuMsPerSecond = await idleReaderCpuMs(); // first, before the bulk runs leave garbage to collect
  const results = {
    bulk: { queue: await bulk('queue', bulkCount), queueInto: await bulk('queue', bulkCount, 'bulkInto'),
      queueInPlace: await bulk('queue', bulkCount, 'bulkInPlace'),
      postMessage: await bulk('post', bulkCount) },
    stream: await stream(rttCount * 5),
    rtt: {
      queue: await rtt('queue', rttCount, spinIterationsFor(READERS + 1)),
      queueSpinning: await rtt('queue', rttCount, SPIN_ITERATIONS_MAX),
      queueTwoRanks: await rtt('queue', rttCount, spinIterationsFor(2), 1), // 1 reader: threads fit the cores
      postMessage: await rtt('post', Math.ceil(rttCount / 4), 0),
    },
    idleReaderCpuMsPerSecond,
  };
  const bulkRatio = results.bulk.queue.gbPerSecondPerReader / results.bulk.postMessage.gbPerSecondPerReader;
  const bulkInPlaceRatio =
    results.bulk.queueInPlace.gbPerSecondPerReader / results.bulk.postMessage.gbPerSecondPerReader;
  const rttRatio = results.rtt.postMessage.medianUs / results.rtt.queue.medianUs;
  console.log(
    `# broadcast, ${READERS} readers, 4 ranks on ${cpus().length} cores (${cpus()[0]?.model}), node ${process.version}`,
  );
  console.log(`bulk 4 MiB  queue ${results.bulk.queue.gbPerSecondPerReader.toFixed(2)} GB/s/reader ` +
    `(copy out, fresh), ${results.bulk.queueInto.gbPerSecondPerReader.toFixed(2)} (into a reused buffer), ` +
    `${results.bulk.queueInPlace.gbPerSecondPerReader.toFixed(2)} (in place)  postMessage ` +
    `${results.bulk.postMessage.gbPerSecondPerReader.toFixed(2)} GB/s/reader  ratio ${bulkRatio.toFixed(1)}x (copy), ` +
    `${bulkInPlaceRatio.toFixed(1)}x (in place)`);
  console.log(`stream small  queue ${results.stream.usPerMessage.toFixed(2)} µs per message (all readers done)`);
  console.log(`rtt small   queue ${results.rtt.queue.medianUs.toFixed(1)} µs ` +
    `(p99 ${results.rtt.queue.p99Us.toFixed(1)})  ` +
    `spinning ${results.rtt.queueSpinning.medianUs.toFixed(1)} µs ` +
    `(p99 ${results.rtt.queueSpinning.p99Us.toFixed(1)})  postMessage ` +
    `${results.rtt.postMessage.medianUs.toFixed(1)} µs (p99 ${results.rtt.postMessage.p99Us.toFixed(1)})  ` +
    `ratio ${rttRatio.toFixed(1)}x`);
  console.log(`rtt small at 2 ranks (1 reader, spinning): ${results.rtt.queueTwoRanks.medianUs.toFixed(2)} µs ` +
    `(p99 ${results.rtt.queueTwoRanks.p99Us.toFixed(1)})`);
  console.log(`idle reader ${results.idleReaderCpuMsPerSecond.toFixed(2)} ms CPU per 1 s (whole process)`);
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch { /* no commit yet */ }
  const record = {
    bench: 'broadcast', date: new Date().toISOString(), node: process.version, v8: process.versions.v8,
    cpu: cpus()[0]?.model, cores: cpus().length, commit, results,
    ratios: { bulk: bulkRatio, bulkInPlace: bulkInPlaceRatio, rtt: rttRatio },
  };
  const at = process.argv.indexOf('--json');
  if (at > 0 && process.argv[at + 1]) writeFileSync(process.argv[at + 1]!, JSON.stringify(record, null, 2));
  else console.log(JSON.stringify(record));
}

if (isMainThread) {
  await main();
} else {
  const job = workerData as Job;
  // As in a rank thread: the queue's waits poll with the addon's yield before they sleep (shm/wait.ts).
  if (job.ports === undefined) setThreadYield(waitYieldFromEnv() ? tryNativeAddon()?.yieldThread : undefined);
  const result = job.ports === undefined ? queueRole(job) : await postRole(job);
  parentPort!.postMessage(result);
}
