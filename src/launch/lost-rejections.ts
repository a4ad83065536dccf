/**
 * Promise rejections that nobody handled, in a rank thread. Node turns one into an uncaught exception
 * that ends the thread; once the rank's task has settled, piscina reports that as an 'error' event on the
 * pool, which nobody listens to, and the driver's process dies with it (a rank that did
 * `Promise.reject(...)` and returned normally killed the CLI and left `withRanks` unsettled). Instead, a
 * lost rejection is a failure of the rank whose job the thread runs: the job fails, naming that rank.
 */
import { serializeError, type SerializedError } from './serialize-error.js';

/** Where the current job of this thread takes a lost rejection; none between jobs. */
let sink: ((error: SerializedError) => void) | undefined;
let installed = false;

/** Installs the thread's handler (once per thread). */
export function catchLostRejections(): void {
  if (installed) return;
  installed = true;
  process.on('unhandledRejection', (reason) => {
    const error = serializeError(reason);
    const lost = { ...error, message: `${error.message} (an unhandled promise rejection)` };
    if (sink !== undefined) return sink(lost);
    // Between jobs no rank owns the thread: say so rather than end a thread a later job may take.
    process.stderr.write(`multirank: a rank thread between jobs: ${lost.name}: ${lost.message}\n`);
  });
  // An exception thrown from a callback still ends the thread (the entry may be computing: only that
  // ends it), but first it is recorded as the rank's failure, so that the driver can name the rank.
  process.on('uncaughtExceptionMonitor', (error, origin) => {
    if (origin === 'uncaughtException') sink?.(serializeError(error));
  });
}

/** Sends this thread's lost rejections to `to` (the running job), or nowhere (`undefined`: between jobs). */
export function routeLostRejections(to: ((error: SerializedError) => void) | undefined): void {
  sink = to;
}

/**
 * Resolves after Node has reported the rejections that nobody handled so far: it does so once the
 * microtask queue is empty, before the next macrotask (setImmediate) runs.
 */
export function afterRejectionsReported(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
