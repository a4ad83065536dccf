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
  NOT_SERIALIZABLE: 'ERR_MULTIRANK_NOT_SERIALIZABLE',
  ARENA_CORRUPT: 'ERR_MULTIRANK_ARENA_CORRUPT',
  /** A device library (NCCL, HCCL, their runtimes) reported an error. */
  DEVICE: 'ERR_MULTIRANK_DEVICE',
  /** MPI (the `mpi` backend's transport between processes) reported an error, or a peer process was lost. */
  MPI: 'ERR_MULTIRANK_MPI',
  STORE: 'ERR_MULTIRANK_STORE',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** What a thrown value says (code may throw any value, not only an Error). */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

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
  return withCode(
    new TypeError(`Expected \`${name}\` to be ${expected}, got ${describe(value)}`),
    ErrorCodes.INVALID_ARG_TYPE,
  );
}

/** A value of the right type that is not allowed: the message is given whole, it must name the argument. */
export function outOfRange(message: string): RangeError & { code: ErrorCode } {
  return withCode(new RangeError(message), ErrorCodes.OUT_OF_RANGE);
}

/** A shape rule broken; the message must name the argument and the shapes. */
export function shapeError(message: string): RangeError & { code: ErrorCode } {
  return withCode(new RangeError(message), ErrorCodes.SHAPE);
}

/**
 * A tensor whose memory is gone: `release()` returned it, or (a shared tensor) its job ended and the
 * arena took it back. Its bytes may belong to another tensor by now, so every use throws.
 */
export function unusableTensor(name: string, jobEnded: boolean): TypeError & { code: ErrorCode } {
  const why = jobEnded
    ? 'is a shared tensor of a job that has ended: shared tensors belong to the job that made them, and the ' +
      'arena took its memory back when the job closed (clone() what you keep before the job ends)'
    : 'was released: release() returned its memory, which another tensor may hold now';
  const message = `\`${name}\` ${why}; it cannot be used any more`;
  return withCode(new TypeError(message), ErrorCodes.INVALID_ARG_VALUE);
}

/** A dtype that is not allowed here; the message must name the argument. */
export function dtypeError(message: string): TypeError & { code: ErrorCode } {
  return withCode(new TypeError(message), ErrorCodes.DTYPE);
}

/** `Expected \`name\` to be one of a, b, c, got x` built from the same list the check uses. */
export function invalidChoice(
  name: string,
  allowed: readonly string[],
  value: unknown,
): TypeError & { code: ErrorCode } {
  return withCode(
    new TypeError(
      `Expected \`${name}\` to be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}, ` +
        `got ${describe(value)}`,
    ),
    ErrorCodes.INVALID_ARG_VALUE,
  );
}

/** Throws unless `value` is an integer in [min, max]. Returns the value typed as number. */
export function checkInteger(
  name: string,
  value: unknown,
  min = Number.MIN_SAFE_INTEGER,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    const what = min === 1 ? 'a positive integer' : min === 0 ? 'a non-negative integer' : 'an integer';
    throw invalidType(name, what, value);
  }
  if (value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in ${min}..${max}`;
    throw outOfRange(`Expected \`${name}\` to be an integer ${range}, got ${describe(value)}`);
  }
  return value;
}

/**
 * Throws unless `value` is a positive, finite number of milliseconds (a deadline). A value of another
 * type (the string "5000") is a TypeError that shows the type, never coerced.
 */
export function checkTimeoutMs(name: string, value: unknown): number {
  const expected = 'a positive, finite number of milliseconds';
  if (typeof value !== 'number') throw invalidType(name, expected, value);
  if (!(value > 0) || !Number.isFinite(value)) {
    throw outOfRange(`Expected \`${name}\` to be ${expected}, got ${describe(value)}`);
  }
  return value;
}

/** Throws unless `value` is a rank of a group of `size` members (0..size-1); a non-number shows its type. */
export function checkGroupRank(name: string, value: unknown, size: number): number {
  if (typeof value !== 'number') throw invalidType(name, `a rank of this group (an integer in 0..${size - 1})`, value);
  if (!Number.isInteger(value) || value < 0 || value >= size) {
    throw outOfRange(`\`${name}\` (${value}) must be a rank of this group (0..${size - 1})`);
  }
  return value;
}

/**
 * A value that must cross between threads (an object sent to other ranks, launch arguments) but cannot
 * be serialized: names the part that cannot (`obj.hooks.onStep` is a function) and says why.
 */
export function notSerializable(name: string, value: unknown, cause?: unknown): MultirankError {
  const refused = (cause as Error | undefined)?.message ?? 'the structured-clone algorithm refuses';
  const why = findUnserializable(value, name, new Set()) ?? `it holds a value that ${refused}`;
  return new MultirankError(
    ErrorCodes.NOT_SERIALIZABLE,
    `\`${name}\` cannot be serialized: ${why}. Values cross between threads by the structured-clone ` +
      'algorithm, which copies data (objects, arrays, Maps, Sets, typed arrays, Dates, bigints...) but not ' +
      'functions, symbols, promises or weak collections',
    cause === undefined ? undefined : { cause },
  );
}

const UNCLONEABLE = [WeakMap, WeakSet, WeakRef, Promise] as const;
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** Where in `value` (as a path from `path`) the first part that structured clone refuses is, and what. */
function findUnserializable(value: unknown, path: string, seen: Set<object>): string | undefined {
  if (typeof value === 'function') return `\`${path}\` is a function (${value.name || 'anonymous'})`;
  if (typeof value === 'symbol') return `\`${path}\` is a symbol (${value.description ?? ''})`;
  if (typeof value !== 'object' || value === null || seen.has(value)) return undefined;
  if (ArrayBuffer.isView(value)) return undefined;
  seen.add(value);
  const kind = UNCLONEABLE.find((type) => value instanceof type);
  if (kind !== undefined) return `\`${path}\` is a ${kind.name}`;
  for (const [at, child] of childrenOf(value, path)) {
    const found = findUnserializable(child, at, seen);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** The parts of a container, each with its path: Map keys and values, Set values, array items, own keys. */
function childrenOf(value: object, path: string): [string, unknown][] {
  if (value instanceof Map) {
    return [...value].flatMap(([k, v], i): [string, unknown][] => [
      [`${path}.keys()[${i}]`, k],
      [`${path}.get(${keyText(k)})`, v],
    ]);
  }
  if (value instanceof Set) return [...value].map((v, i) => [`${path}.values()[${i}]`, v]);
  if (Array.isArray(value)) return value.map((v, i) => [`${path}[${i}]`, v]);
  const member = (k: string): string => (IDENTIFIER.test(k) ? `${path}.${k}` : `${path}[${JSON.stringify(k)}]`);
  return Object.entries(value).map(([k, v]) => [member(k), v]);
}

function keyText(key: unknown): string {
  if (typeof key === 'string') return JSON.stringify(key);
  return typeof key === 'object' && key !== null ? '<object>' : String(key);
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

/** The arena's allocator state is not what it must be (a bug: it is never expected). */
export function arenaCorrupt(message: string): MultirankError {
  return new MultirankError(ErrorCodes.ARENA_CORRUPT, message);
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
