/**
 * launch() checks every option before it takes anything: a bad option throws, naming the option, the
 * value with its type and what is allowed, and leaves no thread and no arena memory behind.
 */
import test from 'ava';
import { launch, type LaunchOptions } from '../../src/launch/launch.js';
import { processRuntime } from '../../src/launch/runtime.js';
import { ErrorCodes } from '../../src/errors.js';
import { quietFailures } from '../helpers/quiet-failures.js';

quietFailures();

const module = new URL('../fixtures/world-basics.js', import.meta.url);

const bad: [Record<string, unknown>, RegExp][] = [
  [{ timeoutMs: Infinity }, /`options\.timeoutMs` to be a positive, finite number of milliseconds, got Infinity \(number\)/],
  [{ timeoutMs: '5000' }, /`options\.timeoutMs` to be a positive, finite number of milliseconds, got "5000" \(string\)/],
  [{ timeoutMs: 0 }, /`options\.timeoutMs`.*got 0 \(number\)/],
  [{ keepModuleState: 'yes' }, /`options\.keepModuleState` to be a boolean, got "yes" \(string\)/],
  [{ outputPrefix: 1 }, /`options\.outputPrefix` to be a boolean, got 1 \(number\)/],
  [{ checkCalls: null }, /`options\.checkCalls` to be a boolean, got null/],
  [{ exportName: 5 }, /`options\.exportName` to be a non-empty string/],
  [{ tracePath: '' }, /`options\.tracePath` to be a non-empty file path, got "" \(string\)/],
  [{ arenaMaxBytes: '1G' }, /`options\.arenaMaxBytes` to be an integer, got "1G" \(string\)/],
  [{ localWorldSize: 3 }, /`options\.localWorldSize` to be an integer in 1\.\.2, got 3/],
  [{ env: { A: 1 } }, /`options\.env\.A` to be a string, got 1 \(number\)/],
  [{ chaos: { seed: -1 } }, /`options\.chaos\.seed`/],
  [{ chaos: { seed: 1, delayProbability: 2 } }, /`options\.chaos\.delayProbability` to be a number in 0\.\.1, got 2 \(number\)/],
  [{ chaos: { seed: 1, failRank: 2 } }, /`options\.chaos\.failRank`/],
  [{ args: { callback: () => 1 } }, /`options\.args\.callback` to be data that can cross threads/],
  [{ keepModulState: true }, /`options key` to be one of .*"keepModuleState".*, got "keepModulState" \(string\)/],
  [{ worldSize: 0 }, /`options\.worldSize`/],
  [{ module: 5 }, /`options\.module` to be a URL or a file path, got 5 \(number\)/],
];

test.serial('a launch with a bad option throws before it takes any thread or arena memory', async (t) => {
  const runtime = processRuntime();
  const before = { threads: runtime.pools.threadCount, bytes: runtime.arena.usedBytes, regions: runtime.arena.liveRegions };
  for (const [options, message] of bad) {
    const error = await t.throwsAsync(launch({ worldSize: 2, module, ...options } as LaunchOptions), { message }, JSON.stringify(options));
    t.true([ErrorCodes.INVALID_ARG_TYPE, ErrorCodes.INVALID_ARG_VALUE, ErrorCodes.OUT_OF_RANGE].includes((error as { code?: never }).code!));
  }
  // An object structured clone refuses although nothing in it looks wrong: clone's own words say why.
  const instance = new WebAssembly.Instance(new WebAssembly.Module(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0])));
  await t.throwsAsync(launch({ worldSize: 2, module, args: { instance } }), {
    code: ErrorCodes.INVALID_ARG_TYPE,
    message: /`options\.args \(structured clone: #<Instance> could not be cloned\.\)` to be data that can cross threads/,
  });
  for (const options of [undefined, null, 5, 'x']) {
    await t.throwsAsync(launch(options as never), { code: ErrorCodes.INVALID_ARG_TYPE, message: /`options` to be an object/ });
  }
  t.deepEqual({ threads: runtime.pools.threadCount, bytes: runtime.arena.usedBytes, regions: runtime.arena.liveRegions }, before);
  const job = await launch({ worldSize: 2, module, timeoutMs: 60_000, keepModuleState: false });
  t.is((await job.results).length, 2, 'a good launch still works after them');
  await job.close();
});
