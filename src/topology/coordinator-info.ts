/**
 * Per-rank view of a vLLM or FastVideo plan, as their `GroupCoordinator` sees it: for each kind, the
 * group that holds the rank (the last one in creation order, as `if self.rank in ranks: self.ranks =
 * ranks` keeps it), the rank's index in the group's member list (not sorted: `ranks.index(rank)`) and
 * the neighbour properties (`next_rank` / `prev_rank` wrap around).
 */
import { checkIndex, conflict } from './validate.js';

/** What a `GroupCoordinator` of one kind knows on one rank. */
export interface GroupCoordinatorInfo {
  /** Global ranks of the group, in upstream order. */
  ranks: number[];
  worldSize: number;
  /** `ranks.indexOf(rank)`. */
  rankInGroup: number;
  firstRank: number;
  lastRank: number;
  isFirstRank: boolean;
  isLastRank: boolean;
  /** Wraps around. */
  nextRank: number;
  /** Wraps around. */
  prevRank: number;
}

/** The per-rank accessors of a plan whose groups are `Record<kind, number[][]>`. */
interface CoordinatorIndex<K extends string> {
  groupsOf(rank: number): Partial<Record<K, number[]>>;
  rankInfo(rank: number): Record<K, GroupCoordinatorInfo>;
}

/** Builds `groupsOf` / `rankInfo` over `groups`; the rank index is made on first use. */
export function makeCoordinatorIndex<K extends string>(
  flavor: string, groups: Record<K, number[][]>,
): CoordinatorIndex<K> {
  let lookup: Map<K, Map<number, number[]>> | null = null;
  const build = () => {
    const m = new Map<K, Map<number, number[]>>();
    for (const kind of Object.keys(groups) as K[]) {
      const byRank = new Map<number, number[]>();
      for (const g of groups[kind]) for (const r of g) byRank.set(r, g);
      m.set(kind, byRank);
    }
    return m;
  };
  const groupsOf = (rank: number) => {
    checkIndex('rank', rank);
    lookup ??= build();
    const out: Partial<Record<K, number[]>> = {};
    for (const [kind, byRank] of lookup) {
      const g = byRank.get(rank);
      if (g !== undefined) out[kind] = g;
    }
    return out;
  };
  const rankInfo = (rank: number) => {
    checkIndex('rank', rank);
    lookup ??= build();
    const out = {} as Record<K, GroupCoordinatorInfo>;
    for (const [kind, byRank] of lookup) {
      const ranks = byRank.get(rank);
      if (ranks === undefined) throw conflict(`${flavor}: rank ${rank} is in no ${kind} group (group not found)`);
      const i = ranks.indexOf(rank);
      out[kind] = {
        ranks,
        worldSize: ranks.length,
        rankInGroup: i,
        firstRank: ranks[0]!,
        lastRank: ranks[ranks.length - 1]!,
        isFirstRank: rank === ranks[0],
        isLastRank: rank === ranks[ranks.length - 1],
        nextRank: ranks[(i + 1) % ranks.length]!,
        prevRank: ranks[(i - 1 + ranks.length) % ranks.length]!,
      };
    }
    return out;
  };
  return { groupsOf, rankInfo };
}
