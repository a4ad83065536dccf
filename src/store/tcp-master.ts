/**
 * The master's side of a TCPStore: where its server listens, which server runs (native or TypeScript,
 * each on a thread of its own), and torch's `waitForWorkers` (every store of a job adds 1 to the counter
 * "init/", sent without the "/" key prefix as torch's client sends it; the master polls it every 10 ms,
 * as torch does, until `worldSize` stores have joined).
 */
import { Worker } from 'node:worker_threads';
import { errorMessage, StoreError, TimeoutError } from '../errors.js';
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

/**
 * Starts a server on a worker thread (unref'd: it does not keep the process alive by itself).
 *
 * A thread that fails while it serves (an uncaught error in it, or an exit that `close()` did not ask
 * for) takes the server down while the master's process goes on, its clients failing to connect. That
 * happens outside any call of the master's, so it is reported as a process warning
 * (`process.emitWarning`, on stderr unless the process listens for 'warning'), once, carrying a
 * StoreError that names the server's port and the thread's error or exit code. `close()` never rejects:
 * it resolves at once when the thread is gone already, else once the thread has exited (terminated
 * after 2 s). A thread that fails before it listens rejects the start instead.
 */
export function startServerThread(options: ListenOptions): Promise<ServerHandle> {
  const worker = new Worker(entryFile('src/store/server-thread.js'), { workerData: options });
  return new Promise((resolve, reject) => {
    const failed = (why: string, cause?: unknown): void => {
      reject(new StoreError(`TCPStore server thread failed: ${why}`, cause === undefined ? undefined : { cause }));
    };
    // Until the thread listens, what ends it rejects the start; after, ServerThread keeps it.
    const onError = (error: unknown): void => failed(errorMessage(error), error);
    const onExit = (code: number): void => failed(`it exited with code ${code} before it listened`);
    worker.once('error', onError);
    worker.once('exit', onExit);
    worker.once('message', (message: { port?: number; error?: string }) => {
      if (message.error !== undefined) return reject(new StoreError(message.error));
      resolve(new ServerThread(worker, message.port!));
      worker.off('error', onError);
      worker.off('exit', onExit);
    });
  });
}

/** A listening server thread: what became of the thread (see startServerThread), and its close. */
class ServerThread implements ServerHandle {
  readonly #worker: Worker;
  #exited = false;
  #closing: Promise<void> | undefined;
  #reported = false;

  constructor(worker: Worker, readonly port: number) {
    this.#worker = worker;
    worker.unref();
    worker.on('error', (error: unknown) => this.#report(errorMessage(error), error));
    worker.once('exit', (code) => {
      this.#exited = true;
      // after an 'error' the thread exits too: that error is the failure already reported
      if (this.#closing === undefined) this.#report(`it exited with code ${code} while serving`);
    });
  }

  close(): Promise<void> {
    this.#closing ??= this.#exited ? Promise.resolve() : this.#stop();
    return this.#closing;
  }

  /** Asks the thread to close its server; terminates it if it has not exited after 2 s. */
  #stop(): Promise<void> {
    const worker = this.#worker;
    return new Promise<void>((done) => {
      worker.ref(); // keep the process up until the server is down
      const timer = setTimeout(() => void worker.terminate(), 2000).unref();
      worker.once('exit', () => {
        clearTimeout(timer);
        done();
      });
      worker.postMessage('close');
    });
  }

  /** Reports the thread's first failure (later ones follow from it). */
  #report(why: string, cause?: unknown): void {
    if (this.#reported) return;
    this.#reported = true;
    process.emitWarning(new StoreError(
      `TCPStore server thread (port ${this.port}) failed: ${why}; the server is down and its clients `
      + 'can no longer reach it', cause === undefined ? undefined : { cause },
    ));
  }
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
