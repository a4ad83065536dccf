/**
 * A cold launch for bench/regimes, in the fresh process this file is run in: milliseconds from launch()
 * to the results of 8 ranks that return at once (bench/launch-body), and, after it, what 8 bare worker
 * threads cost to start and answer (the part of a cold launch that Node itself takes). Prints JSON.
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

const bareStart = performance.now();
await Promise.all(Array.from({ length: 8 }, () => new Promise<void>((resolve, reject) => {
  const w = new Worker('require("node:worker_threads").parentPort.postMessage(1)', { eval: true });
  w.once('message', () => void w.terminate().then(() => resolve()));
  w.once('error', reject);
})));
const bareMs = performance.now() - bareStart;
console.log(JSON.stringify({ launchMs, bareMs }));
