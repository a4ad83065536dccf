/**
 * Independent plain-JS references for the property tests. They describe groups by rank *coordinates*
 * (ranks that agree on every coordinate outside the kind's axes form one group), which is a different
 * road from the planners' mixed-radix enumeration (Megatron) and permuted flattening (vLLM).
 */

/** Digits of `rank` over `axes` (first axis fastest). */
export function digits(rank: number, axes: readonly string[], sizes: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  let rest = rank;
  for (const a of axes) {
    out[a] = rest % sizes[a]!;
    rest = Math.floor(rest / sizes[a]!);
  }
  return out;
}

/**
 * Megatron-style groups of the kind spanning `kindAxes`: one group per assignment of the other axes,
 * ordered by that assignment read as a number (first axis fastest), members ascending.
 */
export function coordinateGroups(world: number, axes: readonly string[], sizes: Record<string, number>, kindAxes: readonly string[], offset = 0): number[][] {
  const byKey = new Map<number, number[]>();
  for (let r = 0; r < world; r++) {
    const d = digits(r, axes, sizes);
    let key = 0;
    let mult = 1;
    for (const a of axes) {
      if (kindAxes.includes(a)) continue;
      key += d[a]! * mult;
      mult *= sizes[a]!;
    }
    if (!byKey.has(key)) byKey.set(key, []);
    byKey.get(key)!.push(r + offset);
  }
  return [...byKey.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1]);
}

/** Compares tuples lexicographically. */
function lex(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

/**
 * Groups keyed by `key(coords)` (groups in lexicographic key order) with members ordered by
 * `member(coords)` (lexicographic). Used for vLLM, whose coordinates are `(e, d, p, c, t)`, t fastest.
 */
export function tupleGroups(
  world: number,
  shape: readonly number[],
  key: (c: number[]) => number[],
  member: (c: number[]) => number[],
): number[][] {
  const entries: { k: number[]; m: number[]; r: number }[] = [];
  for (let r = 0; r < world; r++) {
    const c: number[] = [];
    let rest = r;
    for (let i = shape.length - 1; i >= 0; i--) {
      c[i] = rest % shape[i]!;
      rest = Math.floor(rest / shape[i]!);
    }
    entries.push({ k: key(c), m: member(c), r });
  }
  entries.sort((x, y) => lex(x.k, y.k) || lex(x.m, y.m));
  const groups: number[][] = [];
  let last: number[] | null = null;
  for (const e of entries) {
    if (last === null || lex(last, e.k) !== 0) groups.push([]);
    groups[groups.length - 1]!.push(e.r);
    last = e.k;
  }
  return groups;
}

/** Every rank appears at most once across `groups`. */
export function isPartition(groups: readonly number[][]): boolean {
  const seen = new Set<number>();
  for (const g of groups) {
    for (const r of g) {
      if (seen.has(r)) return false;
      seen.add(r);
    }
  }
  return true;
}

/** The ranks covered by `groups`, sorted. */
export function covered(groups: readonly number[][]): number[] {
  return groups.flat().sort((a, b) => a - b);
}

/** `|a ∩ b|`. */
export function overlap(a: readonly number[], b: readonly number[]): number {
  const s = new Set(a);
  return b.filter((r) => s.has(r)).length;
}
