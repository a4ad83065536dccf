/**
 * A cold launch for bench/regimes, in the fresh process this file is run in: milliseconds from launch()
 * to the results of 8 ranks that return at once (bench/launch-body), and, after it, what 8 bare worker
 * threads cost to start and answer (the part of a cold launch that Node itself takes), and 8 threads that
 * only import the library (what loading its modules costs each fresh thread). Prints JSON.
 */
import { Worker } from 'node:worker_threads';
import { launch } from '../src/launch/launch.js';
import { shutdown } from '../src/launch/runtime.js';

const start = performance.now();
const job = await launch({ worldSize: 8, module: new URL('./launch-body.js', import.meta.url) });
await job.results;
const launchMs = performance.now() - start;
await job.close();
await shutdown();

/** Wall ms for 8 threads that each run `code` (CommonJS, eval'd) until it posts a message. */
async function eightThreads(code: string): Promise<number> {
  const begin = performance.now();
  await Promise.all(Array.from({ length: 8 }, () => new Promise<void>((resolve, reject) => {
    const w = new Worker(code, { eval: true });
    w.once('message', () => void w.terminate().then(() => resolve()));
    w.once('error', reject);
  })));
  return performance.now() - begin;
}

const bareMs = await eightThreads('require("node:worker_threads").parentPort.postMessage(1)');
const index = JSON.stringify(new URL('../src/index.js', import.meta.url).href);
const importMs = await eightThreads(`import(${index}).then(() => require("node:worker_threads").parentPort.postMessage(1))`);
console.log(JSON.stringify({ launchMs, bareMs, importMs }));
