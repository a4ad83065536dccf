/**
 * Side outputs (flight-recorder dumps, traces) help to debug a job; they are never its outcome. One that
 * cannot be written (a missing folder, a full disk) is a process warning naming the path and the OS
 * error, and the job succeeds or fails exactly as it would have without it.
 */
import { errorMessage } from '../errors.js';

/** Warning code of a side output that could not be written (`process.on('warning')` sees it). */
export const SIDE_OUTPUT_WARNING = 'MULTIRANK_SIDE_OUTPUT';

/** Emits the warning for `what` (e.g. "flight-recorder dump") that could not be written at `path`. */
export function warnSideOutput(what: string, path: string | undefined, error: unknown): void {
  const reason = errorMessage(error);
  const message = `multirank: could not write the ${what}${path === undefined ? '' : ` to ${path}`}: ${reason}`;
  process.emitWarning(message, { code: SIDE_OUTPUT_WARNING });
}
