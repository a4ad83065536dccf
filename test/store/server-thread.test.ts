/**
 * The TypeScript server on its worker thread (`startServerThread`) when that thread dies: before it
 * listens, or while it serves. The tests reach the thread as any code in the process can, through
 * Node's process 'worker' event (emitted as the Worker is constructed), and kill it with
 * `worker.terminate()`; the library has no test-only way in. Serial: the 'worker' and 'warning' events
 * are the process's.
 */
import test from 'ava';
import { once } from 'node:events';
import type { Worker } from 'node:worker_threads';
import { startServerThread } from '../../src/store/tcp-master.js';

/** How long a call that must not wait for anything may take on a loaded 2-core machine. */
const PROMPT_MS = 5000;

/** `promise`'s value, or `'still pending'` after `ms` (a hang fails the test instead of timing it out). */
function within<T>(promise: Promise<T>, ms: number): Promise<T | 'still pending'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'still pending'>((resolve) => {
    timer = setTimeout(() => resolve('still pending'), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** The next Worker this process constructs. */
function nextWorker(): Promise<Worker> {
  return new Promise((resolve) => process.once('worker', resolve));
}

test.serial('a server thread killed while it serves: a StoreError warning names its port and how it ' +
  'ended, and close() resolves at once', async (t) => {
  const created = nextWorker();
  const server = await startServerThread({ host: '127.0.0.1' });
  const worker = await created;
  const warned = once(process, 'warning');
  await worker.terminate(); // as a crash of the thread: an exit that close() did not ask for
  // timed from here: terminate() itself may take long on a loaded machine
  const warning = await within(warned.then(([w]) => w as Error), PROMPT_MS);
  t.is(await within(server.close(), PROMPT_MS), undefined, 'close() of a dead server thread hangs');
  if (warning === 'still pending') return t.fail('no warning of the dead server');
  t.is(warning.name, 'StoreError');
  t.is((warning as Error & { code?: string }).code, 'ERR_MULTIRANK_STORE');
  t.regex(warning.message, new RegExp(`port ${server.port}\\b`));
  t.regex(warning.message, /exited with code 1/);
});

test.serial('an error thrown in a serving server thread reaches the user once, with its message; ' +
  'close() resolves', async (t) => {
  const created = nextWorker();
  const server = await startServerThread({ host: '127.0.0.1' });
  const worker = await created;
  const warnings: Error[] = [];
  const collect = (warning: Error): void => void warnings.push(warning);
  process.on('warning', collect);
  t.teardown(() => process.off('warning', collect));
  // Node reports an uncaught exception in a thread as an 'error' on its Worker, then ends the thread
  // (exit code 1). No client can make the server throw, so the test plays Node's part: the error, then
  // the exit.
  worker.emit('error', new Error('simulated: Cannot read properties of undefined'));
  await worker.terminate();
  await new Promise((resolve) => setImmediate(resolve)); // the 'exit' event follows terminate()'s promise
  t.is(warnings.length, 1, warnings.map((w) => w.message).join('\n'));
  t.is(warnings[0]?.name, 'StoreError');
  t.regex(warnings[0]?.message ?? '', new RegExp(`port ${server.port}\\b`));
  t.regex(warnings[0]?.message ?? '', /simulated: Cannot read properties of undefined/);
  t.is(await within(server.close(), PROMPT_MS), undefined, 'close() of a dead server thread hangs');
});

test.serial('a server thread that exits before it listens rejects the start, naming the exit', async (t) => {
  // terminated before it runs, a thread exits with code 0; while it runs, with 1
  process.once('worker', (worker: Worker) => void worker.terminate());
  const started = within(startServerThread({ host: '127.0.0.1' }), 5000);
  const error = await t.throwsAsync(started.then((result) => {
    if (result === 'still pending') throw new Error('the start never settled');
    return result.close();
  }));
  t.is(error?.name, 'StoreError');
  t.regex(error?.message ?? '', /exited with code \d+ before it listened/);
});

test.serial('a server thread closed as asked warns of nothing, and a second close() is the same promise',
  async (t) => {
    const warnings: Error[] = [];
    const collect = (warning: Error): void => void warnings.push(warning);
    process.on('warning', collect);
    t.teardown(() => process.off('warning', collect));
    const server = await startServerThread({ host: '127.0.0.1' });
    const closing = server.close();
    t.is(server.close(), closing);
    t.is(await within(closing, 5000), undefined);
    t.is(await within(server.close(), PROMPT_MS), undefined);
    t.deepEqual(warnings.map((w) => w.message), []);
  });
