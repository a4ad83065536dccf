/**
 * Sub-group helpers of Megatron's parallel state, ported from NVIDIA/Megatron-LM
 * `megatron/core/parallel_state.py` at main d98e8a64ddf3 (2026-08-22): hierarchical groups (used by
 * hierarchical context parallelism and by the partial distributed optimizer), hybrid DPxCP groups, and
 * the default embedding / position-embedding stages.
 */
import { blocks, checkIndex, checkRankList, checkSize, conflict, product, showList } from './validate.js';
import { invalidType } from '../errors.js';

/**
 * Splits `ranks` into nested levels of sub-groups. For level `k`, with `u = prod(sizes[:k])`,
 * `s = sizes[k]` and `l = prod(sizes[k+1:])`, the list is viewed as `(l, s, u)` and regrouped as
 * `(l*u) x s` (einops `"(l s u) -> (l u) s"`): level 0 groups are consecutive blocks, higher levels are
 * strided by the product of the lower sizes. 16 ranks with sizes `[2, 2, 4]` give
 * L0 `[0,1],[2,3],...`, L1 `[0,2],[1,3],[4,6],...`, L2 `[0,4,8,12],[1,5,9,13],...`.
 *
 * Returns every sub-group of every level (`levels[k]` in creation order). `rank` is the caller's rank as
 * upstream takes it; the caller's group at level `k` is `levels[k].find((g) => g.includes(rank))`.
 *
 * @throws RangeError `ERR_MULTIRANK_OUT_OF_RANGE` when `ranks.length` is not the product of the sizes.
 */
export function createHierarchicalGroups(
  rank: number,
  ranks: readonly number[],
  hierarchicalGroupSizes: readonly number[],
): number[][][] {
  checkIndex('rank', rank);
  const members = checkRankList('ranks', ranks);
  if (!Array.isArray(hierarchicalGroupSizes)) {
    throw invalidType('hierarchicalGroupSizes', 'an array of positive integers', hierarchicalGroupSizes);
  }
  const sizes = hierarchicalGroupSizes.map((s, i) => checkSize(`hierarchicalGroupSizes[${i}]`, s));
  if (sizes.length > 0 && members.length !== product(sizes)) {
    throw conflict(
      `createHierarchicalGroups: ${members.length} ranks cannot be split into levels of sizes ` +
        `${showList(sizes)}: the product of the sizes (${product(sizes)}) must equal the number of ranks`,
    );
  }
  return sizes.map((s, level) => {
    const u = product(sizes.slice(0, level));
    const l = product(sizes.slice(level + 1));
    const groups: number[][] = [];
    for (let a = 0; a < l; a++) {
      for (let c = 0; c < u; c++) {
        const group: number[] = [];
        for (let j = 0; j < s; j++) group.push(members[a * s * u + j * u + c]!);
        groups.push(group);
      }
    }
    return groups;
  });
}

/**
 * Sizes of the hybrid DPxCP groups built over `count` ranks: every power of two `2**i` with
 * `1 <= i < floor(log2(count))` (8 ranks -> 2, 4; 16 -> 2, 4, 8; 2 -> none).
 */
export function hybridDpCpGroupSizes(count: number): number[] {
  checkIndex('count', count);
  let floorLog2 = 0;
  while (2 ** (floorLog2 + 1) <= count) floorLog2++;
  const sizes: number[] = [];
  for (let i = 1; i < floorLog2; i++) sizes.push(2 ** i);
  return sizes;
}

/**
 * Hybrid DPxCP groups over one data-parallel-with-context-parallel group: for each size of
 * `hybridDpCpGroupSizes(ranks.length)`, consecutive blocks of that size (the last block is shorter when
 * the size does not divide the count, as upstream slices). Returns one level per size, ascending;
 * `rank` is the caller's rank as upstream takes it.
 */
export function createHybridDpCpGroups(rank: number, ranks: readonly number[]): number[][][] {
  checkIndex('rank', rank);
  const members = checkRankList('ranks', ranks);
  return hybridDpCpGroupSizes(members.length).map((size) => blocks(members, size));
}

/** The stages that hold the word embeddings: first and last of a pipeline group (`[first]` if one stage). */
export function defaultEmbeddingRanks(ppRanks: readonly number[]): number[] {
  const members = checkRankList('ppRanks', ppRanks);
  if (members.length === 0) {
    throw conflict('defaultEmbeddingRanks: `ppRanks` is empty; a pipeline group has at least one rank');
  }
  return members.length === 1 ? [members[0]!] : [members[0]!, members[members.length - 1]!];
}

/** The stages that hold the position embeddings: the first stage of a pipeline group. */
export function defaultPositionEmbeddingRanks(ppRanks: readonly number[]): number[] {
  const members = checkRankList('ppRanks', ppRanks);
  if (members.length === 0) {
    throw conflict('defaultPositionEmbeddingRanks: `ppRanks` is empty; a pipeline group has at least one rank');
  }
  return [members[0]!];
}
