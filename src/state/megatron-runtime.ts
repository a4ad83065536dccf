/**
 * What the Megatron front-end keeps on a rank besides its groups (`state.modelParallel.extra`): this
 * rank's member lists of each kind as the plan gives them (upstream's `_*_GLOBAL_RANKS`, in upstream
 * order; the GroupCoordinators hold the same members sorted, as a torch ProcessGroup does), whether gloo
 * groups were made, and the global memory buffer. Plus the group lookup that every Megatron getter goes
 * through. The overrides and the virtual pipeline values live in megatron-globals.ts (they outlive the groups).
 */
import { checkInteger, invalidType, outOfRange } from '../errors.js';
import type { GroupCoordinator } from '../group/coordinator.js';
import type { MegatronPlan, MegatronRankGroups, MegatronSizes } from '../topology/index.js';
import type { GlobalMemoryBuffer } from './megatron-buffer.js';
import { currentOf, groupMissing, requireCurrent, type Current } from './front-end.js';

/** `state.modelParallel.extra` of the Megatron front-end. */
export interface MegatronExtra {
  /** `createGlooProcessGroups` as given (the gloo groups themselves are in `state.groups`, `<kind>-gloo`). */
  glooGroups: boolean;
  /** This rank's member list of each kind, in upstream order (absent where the rank is in none). */
  lists: MegatronRankGroups;
  /** Megatron's `_GLOBAL_MEMORY_BUFFER` (null after destroyGlobalMemoryBuffer()). */
  globalMemoryBuffer: GlobalMemoryBuffer | null;
}

type MegatronCurrent = Current<MegatronPlan, MegatronExtra>;

/** The Megatron record of this rank, or NOT_INITIALIZED naming `what`. */
export function megatron(what: string): MegatronCurrent {
  return requireCurrent<MegatronPlan, MegatronExtra>('megatron', what);
}

/** The Megatron record of this rank, or undefined. */
export function megatronOrUndefined(): MegatronCurrent | undefined {
  return currentOf<MegatronPlan, MegatronExtra>('megatron');
}

/** Picks the kind that answers a getter from the plan's sizes (generalized-TP and partial-DP variants). */
export type KindOf = string | ((sizes: MegatronSizes) => string);

/**
 * This rank's group of `kind`. Missing: NOT_INITIALIZED `<what> is not initialized: <why>` when
 * `checkInitialized` (the default), else undefined.
 */
export function lookupGroup(
  kind: KindOf, what: string, absentHint: string | undefined, checkInitialized = true,
): GroupCoordinator | undefined {
  const current = megatronOrUndefined();
  const name = current === undefined ? undefined : typeof kind === 'function' ? kind(current.mp.plan.sizes) : kind;
  const group = name === undefined ? undefined : current!.state.groups.get(name);
  if (group !== undefined || !checkInitialized) return group;
  throw groupMissing('megatron', current, what, (c) => {
    const s = c.mp.plan.sizes;
    const outside = c.state.rank < s.rankOffset || c.state.rank >= s.rankOffset + s.localWorldSize;
    return outside
      ? `rank ${c.state.rank} is outside this model's ranks ${s.rankOffset}..${s.rankOffset + s.localWorldSize - 1}`
      : absentHint ?? `rank ${c.state.rank} is in no group of this kind for this configuration`;
  });
}

/** Reads `options.checkInitialized` (default true). */
export function checkFlag(options: unknown, key: string, fallback: boolean): boolean {
  if (options === undefined || options === null) return fallback;
  if (typeof options !== 'object') throw invalidType('options', 'an object', options);
  const value = (options as Record<string, unknown>)[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw invalidType(`options.${key}`, 'a boolean', value);
  return value;
}

/** `list[index]`, or a RangeError when an override points past the member list. */
export function memberAt(list: readonly number[], index: number, what: string): number {
  const value = list[index];
  if (value === undefined) {
    throw outOfRange(`${what}: index ${index} is outside the group's ${list.length} members [${list.join(', ')}]`);
  }
  return value;
}

/** Validates a setter's value: a non-negative (rank) or positive (size) integer, or null to unset. */
export function checkSetting(name: string, value: unknown, min: 0 | 1): number | null {
  return value === null ? null : checkInteger(name, value, min);
}
