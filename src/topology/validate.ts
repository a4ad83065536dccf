/**
 * Argument checks shared by the topology planners. Sizes are positive integers, offsets non-negative
 * integers; a bad value is rejected by its name (`options.tensorModelParallelSize`) before any upstream
 * rule runs. A configuration that upstream rejects throws `conflict(...)`: a `RangeError` with code
 * `ERR_MULTIRANK_OUT_OF_RANGE` whose message names every size involved and the rule that was broken.
 */
import { checkInteger, invalidChoice, invalidType, outOfRange } from '../errors.js';

/** Upstream refused this configuration; `message` names each size involved and the rule. */
export function conflict(message: string): RangeError & { code: string } {
  return outOfRange(message);
}

/** A positive integer, named `name` in the error. */
export function checkSize(name: string, value: unknown): number {
  return checkInteger(name, value, 1);
}

/** `value` when given, else `fallback`; `null` and `undefined` both mean "not given". */
export function sizeOr(name: string, value: unknown, fallback: number): number {
  return value === undefined || value === null ? fallback : checkSize(name, value);
}

/** A size that may be absent (`null`); `undefined` and `null` both give `null`. */
export function optionalSize(name: string, value: unknown): number | null {
  return value === undefined || value === null ? null : checkSize(name, value);
}

/** A non-negative integer (a rank, an offset). */
export function checkIndex(name: string, value: unknown): number {
  return checkInteger(name, value, 0);
}

/** A boolean option; `undefined` gives `fallback`. */
export function boolOr(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw invalidType(name, 'a boolean', value);
  return value;
}

/** A string option; `undefined` gives `fallback`. */
export function stringOr(name: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string') throw invalidType(name, 'a string', value);
  return value;
}

/** A string option that may be absent (`null`); `undefined` and `null` both give `null`. */
export function optionalString(name: string, value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw invalidType(name, 'a string', value);
  return value;
}

/** A list of positive integers (`hierarchicalContextParallelSizes`), or `null` when absent. */
export function optionalSizeList(name: string, value: unknown): number[] | null {
  if (value === undefined || value === null) return null;
  if (!Array.isArray(value)) throw invalidType(name, 'an array of positive integers', value);
  return value.map((v, i) => checkSize(`${name}[${i}]`, v));
}

/** The options object itself: a plain object whose keys are all in `allowed`. */
export function checkOptionKeys(name: string, options: unknown, allowed: readonly string[]): Record<string, unknown> {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw invalidType(name, 'an options object', options);
  }
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) throw invalidChoice(`${name} key`, allowed, key);
  }
  return options as Record<string, unknown>;
}

/** A list of ranks returned by a user callback (`getEmbeddingRanks`). */
export function checkRankList(name: string, value: unknown): number[] {
  if (!Array.isArray(value)) throw invalidType(name, 'an array of ranks', value);
  return value.map((v, i) => checkIndex(`${name}[${i}]`, v));
}

/** Product of a list of sizes (1 for an empty list). */
export function product(values: readonly number[]): number {
  let p = 1;
  for (const v of values) p *= v;
  return p;
}

/** `ranks` cut into consecutive blocks of `size` (the last block is shorter when `size` does not divide the count). */
export function blocks(ranks: readonly number[], size: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < ranks.length; i += size) out.push(ranks.slice(i, i + size));
  return out;
}

/** `[0, 1, 2]` -> `"[0, 1, 2]"`, for messages. */
export function showList(values: readonly unknown[]): string {
  return `[${values.map((v) => (typeof v === 'string' ? JSON.stringify(v) : String(v))).join(', ')}]`;
}

