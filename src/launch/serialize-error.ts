/** Errors as plain data, so that name, message, stack, code and cause survive a trip between threads. */
import { describe } from '../errors.js';

export interface SerializedError {
  name: string;
  message: string;
  stack: string | undefined;
  code: string | undefined;
  rank: number | undefined;
  cause: SerializedError | undefined;
}

export function serializeError(error: unknown, depth = 0): SerializedError {
  if (!(error instanceof Error)) {
    const message = `A non-Error value was thrown: ${describe(error)}`;
    return { name: 'Error', message, stack: undefined, code: undefined, rank: undefined, cause: undefined };
  }
  const extra = error as Error & { code?: unknown; rank?: unknown };
  return {
    name: error.name,
    message: error.message,
    stack: error.stack,
    code: typeof extra.code === 'string' ? extra.code : undefined,
    rank: typeof extra.rank === 'number' ? extra.rank : undefined,
    cause: error.cause !== undefined && depth < 4 ? serializeError(error.cause, depth + 1) : undefined,
  };
}

/** Rebuilds an Error (same name, message, stack, code) from its serialized form. */
export function deserializeError(data: SerializedError): Error {
  const error = new Error(data.message, data.cause === undefined ? undefined : { cause: deserializeError(data.cause) });
  error.name = data.name;
  if (data.stack !== undefined) error.stack = data.stack;
  if (data.code !== undefined) {
    Object.defineProperty(error, 'code', { value: data.code, enumerable: true, writable: true, configurable: true });
  }
  return error;
}
