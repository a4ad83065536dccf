/**
 * The case lists of the collective matrix: every collective x dtype x reduce op at sizes 0, 1 and odd;
 * inputs at, just under and just over the latency path's limit; and a few large inputs. Each builder
 * takes the group size `w` (cases must divide the scattered dim by it) and the group name.
 */
import type { DType } from '../../src/tensor/dtype.js';
import { ALL_DTYPES, COMPLEX_DTYPES, FLOAT_DTYPES, ITEM_BYTES, opsFor, type CaseSpec, type ValueKind } from './data.js';

/** The latency path's limit in bytes, restated from src/comm/threads/group-block.ts (matrix.test.ts checks that they agree). */
export const INLINE_BYTES = 16384;

/** Appends cases, giving each a distinct seed. */
export class CaseList {
  readonly cases: CaseSpec[] = [];
  #seed: number;

  constructor(seed: number) {
    this.#seed = seed;
  }

  /**
   * Adds a case; inputs alternate between plain memory and the arena unless `plain` is given, and every
   * third one is a view 3 elements into a larger buffer (not 64-byte aligned).
   */
  add(spec: Omit<CaseSpec, 'seed'>): void {
    const n = this.cases.length;
    const plain = spec.plain ?? n % 2 === 1;
    this.cases.push({ ...spec, plain, offset: spec.offset ?? (n % 3 === 2 ? 3 : 0), seed: (this.#seed += 0x9e37) >>> 0 });
  }
}

/** Value kinds worth crossing with (dtype, op): exact integers, random values, raw bits or specials. */
function kindsFor(dtype: DType, op: string): ValueKind[] {
  if (dtype === 'bool') return ['bits'];
  if (COMPLEX_DTYPES.includes(dtype)) return ['int', 'rand', 'bits']; // sum and avg
  const minMax = op === 'min' || op === 'max';
  if (FLOAT_DTYPES.includes(dtype)) return minMax ? ['rand', 'special'] : ['int', 'rand', 'bits'];
  const bitwise = op === 'band' || op === 'bor' || op === 'bxor';
  return minMax || bitwise ? ['bits', 'special'] : ['int', 'bits'];
}

/** `base` with dim `dim` multiplied by `w`. */
function scaled(base: readonly number[], dim: number, w: number): number[] {
  const shape = [...base];
  shape[dim]! *= w;
  return shape;
}

/** Reductions: allReduce, reduce, reduceScatter for every dtype and op, sizes 0, 1 (scalar) and odd. */
export function reductionCases(list: CaseList, w: number, group = 'world'): void {
  let i = 0;
  for (const dtype of ALL_DTYPES) {
    for (const op of opsFor(dtype)) {
      const kinds = kindsFor(dtype, op);
      list.add({ coll: 'allReduce', group, dtype, op, shape: [0], kind: 'int' });
      list.add({ coll: 'allReduce', group, dtype, op, shape: [], kind: kinds[0]! });
      for (const kind of kinds) list.add({ coll: 'allReduce', group, dtype, op, shape: [37], kind });
      list.add({ coll: 'reduce', group, dtype, op, shape: [1], kind: kinds[0]!, root: i % w });
      list.add({ coll: 'reduce', group, dtype, op, shape: [3, 11], kind: kinds[kinds.length - 1]!, root: (i + 1) % w });
      const dim = i % 3;
      list.add({ coll: 'reduceScatter', group, dtype, op, shape: scaled([3, 5, 7], dim, w), dim, kind: kinds[i % kinds.length]! });
      i++;
    }
    const complex = COMPLEX_DTYPES.includes(dtype); // complex takes only sum and avg
    list.add({ coll: 'reduceScatter', group, dtype, op: complex ? 'avg' : 'max', shape: [w, 0], dim: 0, kind: 'int' });
    list.add({ coll: 'reduceScatter', group, dtype, op: 'sum', shape: [w], dim: 0, kind: 'int' });
    list.add({
      coll: 'reduceScatter', group, dtype, op: complex ? 'avg' : 'min', shape: [2, 3 * w], dim: -1, kind: complex ? 'bits' : 'special',
    });
  }
}

/** Data movement: allGather and gather on each dim, broadcast, allToAll with dim pairs, ring send/recv. */
/**
 * Point to point with tags (ring cases whose messages are matched by tag, out of order: see CaseSpec.tags),
 * for the backends that carry tags.
 */
export function taggedRingCases(list: CaseList, group = 'world'): void {
  list.add({ coll: 'ring', group, dtype: 'float32', shape: [37], kind: 'bits', tags: true });
  list.add({ coll: 'ring', group, dtype: 'int64', shape: [4, 3], kind: 'rand', tags: true });
  list.add({ coll: 'ring', group, dtype: 'bfloat16', shape: [0], kind: 'bits', tags: true });
}

export function movementCases(list: CaseList, w: number, group = 'world'): void {
  ALL_DTYPES.forEach((dtype, i) => {
    const kind: ValueKind = i % 2 === 0 ? 'bits' : 'rand';
    for (const dim of [0, 1, 2, -1]) list.add({ coll: 'allGather', group, dtype, shape: [2, 3, 5], dim, kind });
    list.add({ coll: 'allGather', group, dtype, shape: [], dim: 0, kind });
    list.add({ coll: 'allGather', group, dtype, shape: [0, 3], dim: 1, kind });
    list.add({ coll: 'allGather', group, dtype, shape: [1], dim: 0, kind });
    list.add({ coll: 'gather', group, dtype, shape: [3, 1, 5], dim: i % 3, root: i % w, kind });
    list.add({ coll: 'gather', group, dtype, shape: [1], dim: 0, root: (i + 1) % w, kind });
    [[0], [], [37], [3, 5, 7]].forEach((shape, j) => list.add({ coll: 'broadcast', group, dtype, shape, root: (i + j) % w, kind }));
    list.add({ coll: 'broadcast', group, dtype, shape: [5, 3], root: w - 1, kind, plain: true });
    for (const [scatterDim, gatherDim] of [[0, 0], [0, 1], [1, 0], [1, 2], [2, 1], [2, 0]] as const) {
      list.add({ coll: 'allToAll', group, dtype, shape: scaled([2, 3, 5], scatterDim, w), scatterDim, gatherDim, kind });
    }
    list.add({ coll: 'allToAll', group, dtype, shape: [w], scatterDim: 0, gatherDim: 0, kind });
    list.add({ coll: 'allToAll', group, dtype, shape: [0, w], scatterDim: 1, gatherDim: 0, kind });
    if (w > 1) for (const shape of [[0], [37], [4, 3]]) list.add({ coll: 'ring', group, dtype, shape, kind });
  });
  list.add({ coll: 'barrier', group, dtype: 'int8', shape: [0], kind: 'int' });
}

/** Element counts at, just under and just over the latency path's limit, rounded to multiples of `w`. */
function boundaryCounts(dtype: DType, w: number): number[] {
  const at = INLINE_BYTES / ITEM_BYTES[dtype];
  const below = Math.floor(at / w) * w;
  const counts = [below === at ? at - w : below, below + w];
  if (below === at) counts.push(at);
  return counts;
}

/**
 * Inputs around INLINE_BYTES on both paths, `out` variants and plain-memory inputs: allReduce for every
 * dtype; the other collectives each for a third of the dtypes (rotating, so each dtype meets some).
 */
export function boundaryCases(list: CaseList, w: number, group = 'world'): void {
  ALL_DTYPES.forEach((dtype, i) => {
    const at = INLINE_BYTES / ITEM_BYTES[dtype];
    const op = opsFor(dtype)[i % opsFor(dtype).length]!;
    for (const n of [at - 1, at, at + 1]) list.add({ coll: 'allReduce', group, dtype, op, shape: [n], kind: 'bits' });
    const third = i % 3;
    for (const n of boundaryCounts(dtype, w)) {
      if (third === 0) list.add({ coll: 'reduceScatter', group, dtype, op, shape: [n], dim: 0, kind: 'rand' });
      if (third === 1) list.add({ coll: 'allToAll', group, dtype, shape: [n / w, w], scatterDim: 1, gatherDim: 0, kind: 'bits' });
    }
    for (const n of [at - 1, at + 1]) {
      if (third === 2) list.add({ coll: 'allGather', group, dtype, shape: [n], dim: 0, kind: 'bits' });
      if (third === 0) list.add({ coll: 'gather', group, dtype, shape: [1, n], dim: 0, root: (i + 1) % w, kind: 'bits' });
      if (third === 1) list.add({ coll: 'broadcast', group, dtype, shape: [n], root: i % w, kind: 'bits' });
      if (third === 2) list.add({ coll: 'reduce', group, dtype, op, shape: [n], root: (i + 2) % w, kind: 'rand' });
    }
    if (w > 1 && third === 0) list.add({ coll: 'ring', group, dtype, shape: [at + 1], kind: 'bits' });
  });
  for (const out of ['arena', 'plain', 'self'] as const) {
    for (const n of [37, INLINE_BYTES / 4 + 3]) {
      list.add({ coll: 'allReduce', group, dtype: 'float32', op: 'sum', shape: [n], kind: 'rand', out });
      list.add({ coll: 'allReduce', group, dtype: 'bfloat16', op: 'avg', shape: [n], kind: 'rand', out, plain: true });
      list.add({ coll: 'allReduce', group, dtype: 'int32', op: 'prod', shape: [n], kind: 'bits', out });
    }
  }
  list.add({ coll: 'allReduce', group, dtype: 'float64', op: 'sum', shape: [INLINE_BYTES], kind: 'rand', plain: true });
  list.add({ coll: 'allGather', group, dtype: 'int32', shape: [3, INLINE_BYTES / 8 + 1], dim: 1, kind: 'bits', plain: true });
}

/** A few inputs of a few MiB each, over the collectives and a spread of dtypes and ops. */
export function bigCases(list: CaseList, w: number, group = 'world'): void {
  const MiB = 1 << 20;
  list.add({ coll: 'allReduce', group, dtype: 'float32', op: 'sum', shape: [(3 * MiB) / 4 + 5], kind: 'rand' });
  list.add({ coll: 'allReduce', group, dtype: 'bfloat16', op: 'avg', shape: [MiB / 4 + 3], kind: 'rand' });
  list.add({ coll: 'allReduce', group, dtype: 'int64', op: 'prod', shape: [MiB / 8 + 1], kind: 'bits', out: 'self' });
  list.add({ coll: 'allReduce', group, dtype: 'float16', op: 'max', shape: [MiB / 8 + 1], kind: 'special', plain: true });
  list.add({ coll: 'reduceScatter', group, dtype: 'float64', op: 'min', shape: [8, w * 4097], dim: 1, kind: 'rand' });
  list.add({ coll: 'reduce', group, dtype: 'int32', op: 'sum', shape: [MiB / 2 + 7], root: 1 % w, kind: 'bits' });
  list.add({ coll: 'allGather', group, dtype: 'int8', shape: [512, 2049], dim: 1, kind: 'bits' });
  list.add({ coll: 'gather', group, dtype: 'uint8', shape: [MiB + 1], dim: 0, root: w - 1, kind: 'bits' });
  list.add({ coll: 'broadcast', group, dtype: 'float64', shape: [MiB / 4 + 3], root: w - 1, kind: 'bits' });
  list.add({ coll: 'allToAll', group, dtype: 'bfloat16', shape: [w * 32, 4097], scatterDim: 0, gatherDim: 1, kind: 'bits' });
  list.add({ coll: 'allReduce', group, dtype: 'complex64', op: 'sum', shape: [MiB / 8 + 3], kind: 'rand' });
  list.add({ coll: 'reduceScatter', group, dtype: 'complex128', op: 'avg', shape: [4, w * 4097], dim: 1, kind: 'int' });
  list.add({ coll: 'reduce', group, dtype: 'complex128', op: 'sum', shape: [MiB / 16 + 5], root: w - 1, kind: 'bits' });
  if (w > 1) list.add({ coll: 'ring', group, dtype: 'float32', shape: [MiB / 2 + 1], kind: 'bits', plain: true });
}
