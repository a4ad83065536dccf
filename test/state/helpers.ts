/** Expectations shared by the parallel-state tests, computed from plans in plain JS. */
import type { ExecutionContext } from 'ava';
import { ErrorCodes } from '../../src/errors.js';

/** The bit set `sum(2 ** r)` of `ranks`, as the fixtures' allReduce of `2 ** rank` gives it. */
export function bitsOf(ranks: readonly number[]): number {
  return ranks.reduce((sum, r) => sum + 2 ** r, 0);
}

/** What a GroupCoordinator of `ranks` shows on `rank` (vLLM/FastVideo: index in the list as given). */
export function expectedView(ranks: readonly number[], rank: number) {
  const i = ranks.indexOf(rank);
  const n = ranks.length;
  return {
    ranks: [...ranks], worldSize: n, rankInGroup: i, firstRank: ranks[0], lastRank: ranks[n - 1], isFirstRank: i === 0,
    isLastRank: i === n - 1, nextRank: ranks[(i + 1) % n], prevRank: ranks[(i - 1 + n) % n], memberBits: bitsOf(ranks),
  };
}

/** Asserts a caught error (as the fixtures return it) is NOT_INITIALIZED and mentions every word of `words`. */
export function assertNotInitialized(t: ExecutionContext, error: unknown, ...words: string[]): void {
  const e = error as { code?: string; message?: string } | null;
  t.truthy(e, `expected a NOT_INITIALIZED error mentioning ${words.join(', ')}`);
  t.is(e?.code, ErrorCodes.NOT_INITIALIZED, e?.message);
  for (const word of words) t.true(e!.message!.includes(word), `"${e!.message}" should mention "${word}"`);
}

/** Asserts a caught error has `code` and mentions every word of `words`. */
export function assertError(t: ExecutionContext, error: unknown, code: string, ...words: string[]): void {
  const e = error as { code?: string; message?: string } | null;
  t.truthy(e, `expected an error ${code}`);
  t.is(e?.code, code, e?.message);
  for (const word of words) t.true(e!.message!.includes(word), `"${e!.message}" should mention "${word}"`);
}

/** The groups of one kind that the ranks reported, deduplicated, in order of their first member. */
export function distinctGroups(views: readonly { ranks: number[] }[]): number[][] {
  const seen = new Map<string, number[]>();
  for (const v of views) seen.set(v.ranks.join(','), v.ranks);
  return [...seen.values()].sort((a, b) => Math.min(...a) - Math.min(...b));
}
