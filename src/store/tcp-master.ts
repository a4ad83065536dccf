/**
 * The master's side of a TCPStore: where its server listens, which server runs (native or TypeScript,
 * each on a thread of its own), and torch's `waitForWorkers` (every store of a job adds 1 to the counter
 * "init/", sent without the "/" key prefix as torch's client sends it; the master polls it every 10 ms,
 * as torch does, until `worldSize` stores have joined).
 */
import { Worker } from 'node:worker_threads';
import { StoreError, TimeoutError } from '../errors.js';
import { NativeTCPStoreServer, serverChoice } from './native-server.js';
import { TCPStoreServer, type ListenOptions } from './server.js';
import type { TCPStore } from './tcp-store.js';
import { entryFile } from '../package-files.js';

/** The counter torch's stores add 1 to when they join. */
export const INIT_KEY = 'init/';

/** A running server: in this thread (`TCPStoreServer`) or on a worker thread. */
export interface ServerHandle {
  readonly port: number;
  close(): Promise<void>;
}

/** Default listen address: `host` itself when it is an IP address or "localhost", else every interface. */
export function listenHostFor(host: string): string | undefined {
  return host === 'localhost' || /^[\d.]+$|:/.test(host) ? host : undefined;
}

/** Starts a server on a worker thread (unref'd: it does not keep the process alive by itself). */
export function startServerThread(options: ListenOptions): Promise<ServerHandle> {
  const worker = new Worker(entryFile('src/store/server-thread.js'), { workerData: options });
  return new Promise((resolve, reject) => {
    worker.once('error', (error) => {
      reject(new StoreError(`TCPStore server thread failed: ${error.message}`, { cause: error }));
    });
    worker.once('message', (message: { port?: number; error?: string }) => {
      if (message.error !== undefined) return reject(new StoreError(message.error));
      worker.unref();
      let closed: Promise<void> | undefined;
      resolve({
        port: message.port!,
        close: () => (closed ??= new Promise<void>((done) => {
          worker.ref(); // keep the process up until the server is down
          worker.once('exit', () => done());
          worker.postMessage('close');
          setTimeout(() => void worker.terminate(), 2000).unref();
        })),
      });
    });
  });
}

/**
 * Starts the master's server: `choice` (default `serverChoice()`: MULTIRANK_STORE_SERVER, else native
 * where the addon has it); the TypeScript one on a worker thread, or in this thread when `thread` is false.
 */
export function startServer(
  options: ListenOptions, thread: boolean, choice = serverChoice(),
): Promise<ServerHandle> {
  if (choice === 'native') return NativeTCPStoreServer.listen(options);
  return thread ? startServerThread(options) : TCPStoreServer.listen(options);
}

/** Adds this store to "init/"; on the master, waits until `worldSize` stores have. */
export async function waitForWorkers(store: TCPStore, worldSize: number, timeoutMs: number): Promise<void> {
  let joined = await store.addRaw(INIT_KEY, 1);
  if (!store.isMaster) return;
  const start = performance.now();
  while (joined < worldSize) {
    if (timeoutMs > 0 && performance.now() - start > timeoutMs) {
      throw new TimeoutError(
        `TCPStore.create: timed out after ${timeoutMs} ms waiting for workers: ${joined} of ${worldSize} stores joined `
        + `(each adds 1 to "${INIT_KEY}"; pass the same worldSize to every TCPStore.create, or waitForWorkers: false)`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
    joined = await store.addRaw(INIT_KEY, 0);
  }
}
