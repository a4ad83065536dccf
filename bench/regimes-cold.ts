/**
 * A cold launch for bench/regimes, in the fresh process this file is run in: milliseconds from launch()
 * to the results of 8 ranks that import the library and return (bench/return-body), and, after it,
 * what 8 bare worker threads cost to start and answer (the part of a cold launch that Node itself takes),
 * and 8 threads that only import the library (what loading its modules costs each fresh thread). Prints
 * JSON. `--build bundle` (the default: what users load) or `--build tsc` (the module-for-module build).
 */
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { libraryUrl, loadLibrary, parseBuild } from './build.js';

const build = parseBuild(parseArgs({ options: { build: { type: 'string' } } }).values.build);
const lib = libraryUrl(build);
const start = performance.now();
const { launch, shutdown } = await loadLibrary(build);
const body = new URL('./return-body.js', import.meta.url);
const job = await launch({ worldSize: 8, module: body, args: { lib } });
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
const importMs = await eightThreads(
  `import(${JSON.stringify(lib)}).then(() => require("node:worker_threads").parentPort.postMessage(1))`,
);
console.log(JSON.stringify({ build, launchMs, bareMs, importMs }));
