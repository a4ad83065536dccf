/**
 * The floor that waking threads sets on this machine: N worker threads in a ring pass a token with
 * `Atomics.notify` / `Atomics.wait` (no spinning: each hop is a futex wake and a switch to the woken
 * thread). A lap is N hops. With more threads than cores, any collective in which every rank must learn
 * of every other's arrival costs at least about log2(N) such hops on its critical path (a dissemination
 * barrier), and N of them when it wakes ranks one after another.
 *
 * `hopFloor(n, laps)` runs in the calling thread and returns the median hop over the laps, in µs;
 * `barrierFloor(n, calls, yields)` the median barrier of n threads, sleeping or polling between yields;
 * `node dist/bench/futex-floor.js [--threads 2,4,8] [--laps 2000]` prints them for each count.
 */
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, workerData } from 'node:worker_threads';
import { median } from '../src/bench/stats.js';
import { tryNativeAddon } from '../src/native/addon.js';

interface Ring {
  readonly words: Int32Array;
  readonly index: number;
  readonly threads: number;
  readonly laps: number;
}

/** Word i: the last lap thread i was handed the token in; word `threads`: members ready. Thread 0 times. */
function member({ words, index, threads, laps }: Ring): void {
  const next = (index + 1) % threads;
  Atomics.add(words, threads, 1);
  Atomics.notify(words, threads);
  for (let lap = 1; lap <= laps; lap++) {
    while (Atomics.load(words, index) < lap) Atomics.wait(words, index, lap - 1);
    Atomics.store(words, next, lap);
    Atomics.notify(words, next, 1);
  }
}

if (!isMainThread && (workerData as { futexRing?: boolean } | undefined)?.futexRing === true) {
  member(workerData as Ring);
}

/** Median µs per hop over `laps` laps of a ring of `threads` worker threads (lap times divided by N). */
export async function hopFloor(threads: number, laps = 2000): Promise<number> {
  const words = new Int32Array(new SharedArrayBuffer(4 * (threads + 1)));
  const self = fileURLToPath(import.meta.url);
  // Thread 0 is a worker too (the main thread stays free), and records each lap's time.
  const times = new Float64Array(new SharedArrayBuffer(8 * laps));
  const workers = Array.from({ length: threads - 1 }, (_, i) => new Worker(self, {
    workerData: { futexRing: true, words, index: i + 1, threads, laps },
  }));
  const timer = new Worker(self, {
    workerData: { futexTimer: true, words, threads, laps, times },
  });
  await Promise.all([...workers, timer].map((w) => new Promise((resolve, reject) => {
    w.once('exit', resolve);
    w.once('error', reject);
  })));
  return median(Array.from(times.subarray(laps >> 2), (t) => (t * 1000) / threads));
}

if (!isMainThread && (workerData as { futexTimer?: boolean } | undefined)?.futexTimer === true) {
  const { words, threads, laps, times } = workerData as Ring & { times: Float64Array };
  for (let ready = Atomics.load(words, threads); ready < threads - 1; ready = Atomics.load(words, threads)) {
    Atomics.wait(words, threads, ready);
  }
  for (let lap = 1; lap <= laps; lap++) {
    const start = performance.now();
    Atomics.store(words, 1 % threads, lap);
    Atomics.notify(words, 1 % threads, 1);
    while (Atomics.load(words, 0) < lap) Atomics.wait(words, 0, lap - 1);
    times[lap - 1] = performance.now() - start;
  }
}

interface Barrier {
  readonly words: Int32Array;
  readonly threads: number;
  readonly calls: number;
  readonly yields: boolean;
  readonly times: Float64Array;
  readonly index: number;
}

/**
 * Median µs per barrier of `threads` worker threads (a central counter, the last to arrive releases the
 * others: the shape of the threads backend's one-phase collectives, with no data), waiting by
 * `Atomics.wait` (`yields` false: each release is a futex wake-up per sleeper) or by polling between
 * `sched_yield`s (the native addon's `yieldThread`, as rank threads wait; undefined when it is not built).
 */
export async function barrierFloor(
  threads: number, calls: number, yields: boolean,
): Promise<number | undefined> {
  if (yields && tryNativeAddon() === undefined) return undefined;
  // [0] arrived, [1] generation, [2] sleepers, [3] ready.
  const words = new Int32Array(new SharedArrayBuffer(16));
  const times = new Float64Array(new SharedArrayBuffer(8 * calls));
  const self = fileURLToPath(import.meta.url);
  const workers = Array.from({ length: threads }, (_, index) => new Worker(self, {
    workerData: { barrier: true, words, threads, calls, yields, times, index },
  }));
  await Promise.all(workers.map((w) => new Promise((resolve, reject) => {
    w.once('exit', resolve);
    w.once('error', reject);
  })));
  return median(Array.from(times.subarray(calls >> 2), (t) => t * 1000));
}

if (!isMainThread && (workerData as { barrier?: boolean } | undefined)?.barrier === true) {
  const { words, threads, calls, yields, times, index } = workerData as Barrier;
  const yieldNow = yields ? tryNativeAddon()!.yieldThread : undefined;
  Atomics.add(words, 3, 1);
  for (let ready = Atomics.load(words, 3); ready < threads; ready = Atomics.load(words, 3)) {
    Atomics.wait(words, 3, ready, 5);
  }
  for (let seq = 1; seq <= calls; seq++) {
    const start = performance.now();
    if (Atomics.add(words, 0, 1) + 1 === threads) {
      Atomics.store(words, 0, 0);
      Atomics.store(words, 1, seq);
      if (Atomics.load(words, 2) > 0) Atomics.notify(words, 1);
    } else if (yieldNow !== undefined) {
      while (Atomics.load(words, 1) < seq) yieldNow();
    } else {
      for (let gen = Atomics.load(words, 1); gen < seq; gen = Atomics.load(words, 1)) {
        Atomics.add(words, 2, 1);
        Atomics.wait(words, 1, gen, 50);
        Atomics.sub(words, 2, 1);
      }
    }
    if (index === 0) times[seq - 1] = performance.now() - start;
  }
}

if (isMainThread && process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { threads: { type: 'string' }, laps: { type: 'string' } } });
  const counts = (values.threads ?? '2,4,8').split(',').map(Number);
  for (const n of counts) {
    const hop = await hopFloor(n, Number(values.laps ?? 2000));
    console.log(`${n} threads: ${hop.toFixed(2)} µs per wake-and-switch hop (a lap of ${n}: ${(hop * n).toFixed(1)} µs)`);
    const slept = await barrierFloor(n, 2000, false), yielded = await barrierFloor(n, 2000, true);
    console.log(`${n} threads: a bare barrier ${slept!.toFixed(1)} µs sleeping, `
      + `${yielded === undefined ? 'no native addon to yield with' : `${yielded.toFixed(1)} µs yielding`}`);
  }
}
