/**
 * Errors from one place.
 *
 * Bad arguments are `TypeError` / `RangeError` carrying a Node-style `code`; failures at run time are
 * `MultirankError` subclasses with a `code`. Messages name the argument, the value received, and what
 * is allowed, so that a user can fix the call without reading our source.
 */

export const ErrorCodes = {
  INVALID_ARG_TYPE: 'ERR_MULTIRANK_INVALID_ARG_TYPE',
  INVALID_ARG_VALUE: 'ERR_MULTIRANK_INVALID_ARG_VALUE',
  OUT_OF_RANGE: 'ERR_MULTIRANK_OUT_OF_RANGE',
  SHAPE: 'ERR_MULTIRANK_SHAPE',
  DTYPE: 'ERR_MULTIRANK_DTYPE',
  ARENA_FULL: 'ERR_MULTIRANK_ARENA_FULL',
  TIMEOUT: 'ERR_MULTIRANK_TIMEOUT',
  MISMATCH: 'ERR_MULTIRANK_MISMATCH',
  DEADLOCK: 'ERR_MULTIRANK_DEADLOCK',
  RANK_FAILED: 'ERR_MULTIRANK_RANK_FAILED',
  CLOSED: 'ERR_MULTIRANK_CLOSED',
  NOT_INITIALIZED: 'ERR_MULTIRANK_NOT_INITIALIZED',
  BACKEND_UNAVAILABLE: 'ERR_MULTIRANK_BACKEND_UNAVAILABLE',
  STORE: 'ERR_MULTIRANK_STORE',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** Describes a received value for a message: `1.5 (number)`, `"x" (string)`, `[2,3] (array)`. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) {
    const shown = JSON.stringify(value);
    return `${shown.length > 80 ? shown.slice(0, 77) + '...' : shown} (array)`;
  }
  switch (typeof value) {
    case 'string':
      return `${JSON.stringify(value)} (string)`;
    case 'bigint':
      return `${value}n (bigint)`;
    case 'function':
      return `function ${(value as { name?: string }).name || '<anonymous>'}`;
    case 'object': {
      const name = (value as object).constructor?.name ?? 'Object';
      return `an instance of ${name}`;
    }
    default:
      return `${String(value)} (${typeof value})`;
  }
}

function withCode<E extends Error>(error: E, code: ErrorCode): E & { code: ErrorCode } {
  Object.defineProperty(error, 'code', { value: code, enumerable: true, writable: true, configurable: true });
  return error as E & { code: ErrorCode };
}

/** `Expected \`name\` to be <expected>, got <value>`. */
export function invalidType(name: string, expected: string, value: unknown): TypeError & { code: ErrorCode } {
  return withCode(new TypeError(`Expected \`${name}\` to be ${expected}, got ${describe(value)}`), ErrorCodes.INVALID_ARG_TYPE);
}

/** A value of the right type that is not allowed: the message is given whole, it must name the argument. */
export function outOfRange(message: string): RangeError & { code: ErrorCode } {
  return withCode(new RangeError(message), ErrorCodes.OUT_OF_RANGE);
}

/** A shape rule broken; the message must name the argument and the shapes. */
export function shapeError(message: string): RangeError & { code: ErrorCode } {
  return withCode(new RangeError(message), ErrorCodes.SHAPE);
}

/** A dtype that is not allowed here; the message must name the argument. */
export function dtypeError(message: string): TypeError & { code: ErrorCode } {
  return withCode(new TypeError(message), ErrorCodes.DTYPE);
}

/** `Expected \`name\` to be one of a, b, c, got x` built from the same list the check uses. */
export function invalidChoice(name: string, allowed: readonly string[], value: unknown): TypeError & { code: ErrorCode } {
  return withCode(
    new TypeError(`Expected \`${name}\` to be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}, got ${describe(value)}`),
    ErrorCodes.INVALID_ARG_VALUE,
  );
}

/** Throws unless `value` is an integer in [min, max]. Returns the value typed as number. */
export function checkInteger(name: string, value: unknown, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    const what = min === 1 ? 'a positive integer' : min === 0 ? 'a non-negative integer' : 'an integer';
    throw invalidType(name, what, value);
  }
  if (value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in ${min}..${max}`;
    throw outOfRange(`Expected \`${name}\` to be an integer ${range}, got ${value}`);
  }
  return value;
}

/** Base of every failure at run time. Keeps `code`, and `cause` when given. */
export class MultirankError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MultirankError';
    this.code = code;
  }
}

/** A blocking wait ran out of time; the message says which ranks did not arrive and in which call. */
export class TimeoutError extends MultirankError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCodes.TIMEOUT, message, options);
    this.name = 'TimeoutError';
  }
}

/** Ranks of a group called different collectives (or the same one with different arguments). */
export class MismatchError extends MultirankError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCodes.MISMATCH, message, options);
    this.name = 'MismatchError';
  }
}

/** Another rank failed; this rank's wait was released with the failed rank's error as the cause. */
export class RankFailedError extends MultirankError {
  readonly rank: number;
  constructor(rank: number, message: string, options?: { cause?: unknown }) {
    super(ErrorCodes.RANK_FAILED, message, options);
    this.name = 'RankFailedError';
    this.rank = rank;
  }
}

/** The shared arena cannot give the bytes asked for. */
export class ArenaFullError extends MultirankError {
  constructor(message: string) {
    super(ErrorCodes.ARENA_FULL, message);
    this.name = 'ArenaFullError';
  }
}

/** A queue, group or job was closed while a call waited on it. */
export class ClosedError extends MultirankError {
  constructor(message: string) {
    super(ErrorCodes.CLOSED, message);
    this.name = 'ClosedError';
  }
}

/**
 * A key-value store (`TCPStore`) could not do what was asked: no server within the deadline, the
 * connection lost during a request, a reply that breaks the protocol. The message names the store's
 * address and the operation.
 */
export class StoreError extends MultirankError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCodes.STORE, message, options);
    this.name = 'StoreError';
  }
}
