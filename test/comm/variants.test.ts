/**
 * The variant collectives against a plain-JS reference: every dtype and the reduce ops it takes, world
 * sizes 1, 2, 3, 4 and 8 and a subgroup, zero-size parts (member sizes m % 3), bit for bit.
 */
import test, { type ExecutionContext } from 'ava';
import { withRanks } from '../../src/testing/index.js';
import type { DType, ReduceOp } from '../../src/index.js';
import { ALL_DTYPES, entryShape, opsFor } from './data.js';
import { compareOutputs, referenceReduce } from '../helpers/reference.js';
import { catFlat, narrowFlat } from '../helpers/collective-reference.js';
import { inputOf, sizesV, splitsOf, type VariantArgs } from '../fixtures/comm-variants.js';
import type { StorageArray } from '../../src/tensor/dtype.js';

const fixture = new URL('../fixtures/comm-variants.js', import.meta.url);

const flat = (a: VariantArgs, k: number, rank: number, shape: number[], dtype: DType = a.dtype): StorageArray =>
  inputOf(a, k, rank, shape, dtype).data;

function asArray(dtype: DType, b: number[]): StorageArray {
  const buf = new Uint8Array(b).buffer;
  switch (dtype) {
    case 'float32': return new Float32Array(buf);
    case 'float64': return new Float64Array(buf);
    case 'float16': case 'bfloat16': return new Uint16Array(buf);
    case 'int8': return new Int8Array(buf);
    case 'uint8': case 'bool': return new Uint8Array(buf);
    case 'int32': return new Int32Array(buf);
    case 'int64': return new BigInt64Array(buf);
    case 'complex64': return new Float32Array(buf);
    case 'complex128': return new Float64Array(buf);
  }
}

/** Joins `parts` (part i of shape `shapes[i]`, equal but for `dim`) along `dim`. */
function catUneven(parts: readonly StorageArray[], shapes: readonly number[][], dim: number): StorageArray {
  const outer = shapes[0]!.slice(0, dim).reduce((x, y) => x * y, 1);
  const runs = shapes.map((shape) => shape.slice(dim).reduce((x, y) => x * y, 1));
  const row = runs.reduce((x, y) => x + y, 0);
  const out = new (parts[0]!.constructor as new (n: number) => StorageArray)(outer * row);
  for (let o = 0; o < outer; o++) {
    let at = o * row;
    parts.forEach((part, i) => {
      out.set(part.subarray(o * runs[i]!, (o + 1) * runs[i]!) as never, at);
      at += runs[i]!;
    });
  }
  return out;
}

/** Checks one rank's result bytes against the expected array. */
function same(t: ExecutionContext, dtype: DType, expected: StorageArray, actual: number[] | null, what: string): void {
  const mismatch = actual === null ? { index: -1, expected: 'bytes', actual: 'null', count: 1 } : compareOutputs(dtype, expected, asArray(dtype, actual));
  t.true(mismatch === undefined && actual!.length === expected.byteLength, `${what}: ${JSON.stringify(mismatch)}`);
}

async function check(t: ExecutionContext, n: number, a: VariantArgs, groups: number[][]): Promise<void> {
  // Warm threads (keepModuleState): a job per dtype and op, and nothing here depends on a fresh module.
  const results = (await withRanks(n, fixture, { args: a, timeoutMs: 60_000, keepModuleState: true })) as (Record<string, unknown> | null)[];
  for (const members of groups) checkGroup(t, a, results, members);
}

function checkGroup(t: ExecutionContext, a: VariantArgs, results: (Record<string, unknown> | null)[], members: number[]): void {
  const w = members.length, sizes = sizesV(w), total = sizes.reduce((x, y) => x + y, 0), d = a.dtype;
  // The reference moves storage entries: shapes with a trailing 2 for a complex dtype (`entryShape`).
  const at = (shape: number[], dtype: DType = d): number[] => entryShape(dtype, shape);
  members.forEach((rank, me) => {
    const r = results[rank]!;
    const tag = `${d} ${a.op} w=${w} member ${me}`;
    const rows = sizes.map((s) => [s, 3]), cols = sizes.map((s) => [2, s]);
    const rowsAt = rows.map((s) => at(s)), colsAt = cols.map((s) => at(s));
    same(t, d, catUneven(members.map((m, i) => flat(a, 0, m, rows[i]!)), rowsAt, 0), r.allGatherV0 as number[], `allGatherV dim 0 ${tag}`);
    same(t, d, catUneven(members.map((m, i) => flat(a, 1, m, cols[i]!)), colsAt, 1), r.allGatherV1 as number[], `allGatherV dim 1 ${tag}`);
    const reduced = referenceReduce(d, a.op, members.map((m) => flat(a, 2, m, [2, total])), 2 * total);
    const start = sizes.slice(0, me).reduce((x, y) => x + y, 0);
    same(t, d, narrowFlat(reduced, at([2, total]), 1, start, sizes[me]!), r.reduceScatterV as number[], `reduceScatterV ${tag}`);
    const parts = members.map((m, i) => {
      const splits = splitsOf(i, w), rows = splits.reduce((x, y) => x + y, 0);
      return narrowFlat(flat(a, 3, m, [rows, 2]), at([rows, 2]), 0, splits.slice(0, me).reduce((x, y) => x + y, 0), splits[me]!);
    });
    const partShapes = members.map((_, i) => at([splitsOf(i, w)[me]!, 2]));
    same(t, d, catUneven(parts, partShapes, 0), r.allToAllSingle as number[], `allToAllSingle ${tag}`);
    (r.allToAllList as number[][]).forEach((got, i) => same(t, d, flat(a, 10 + me, members[i]!, [(i + me) % 3 + 1]), got, `allToAllList from ${i} ${tag}`));
    same(t, d, flat(a, 20 + me, members[w - 1]!, [3]), r.scatter as number[], `scatter ${tag}`);
    const shapes: [number, number[], DType][] = [[5, [2, 3], d], [6, [5], d], ...(a.op !== 'avg' ? [[7, [1], 'int32'] as [number, number[], DType]] : [])];
    shapes.forEach(([k, shape, dtype], i) => {
      const numel = shape.reduce((x, y) => x * y, 1);
      same(t, dtype, referenceReduce(dtype, a.op, members.map((m) => flat(a, k, m, shape, dtype)), numel),
        (r.allReduceCoalesced as number[][])[i]!, `allReduceCoalesced[${i}] ${tag}`);
      same(t, dtype, catFlat(members.map((m) => flat(a, k, m, shape, dtype)), at(shape, dtype), 0),
        (r.allGatherCoalesced as number[][])[i]!, `allGatherCoalesced[${i}] ${tag}`);
    });
    if (w > 1) same(t, d, flat(a, 9, members[(me - 1 + w) % w]!, [4]), r.batch as number[], `batchIsendIrecv ${tag}`);
    t.deepEqual(r.gatherObject, me === w - 1 ? members.map((m, i) => ({ me: i, nested: [i, { x: `r${m}` }] })) : null, `gatherObject ${tag}`);
    t.deepEqual(r.scatterObjectList, { to: me }, `scatterObjectList ${tag}`);
  });
}

for (const n of [1, 2, 3, 4, 8]) {
  test(`variant collectives on ${n} rank(s): every dtype, sum`, async (t) => {
    for (const dtype of ALL_DTYPES) await check(t, n, { dtype, op: 'sum', seed: 11 * n }, [Array.from({ length: n }, (_, r) => r)]);
  });
}

test('variant collectives: every reduce op of every dtype at 3 ranks', async (t) => {
  for (const dtype of ALL_DTYPES) {
    for (const op of opsFor(dtype) as ReduceOp[]) await check(t, 3, { dtype, op, seed: 5 }, [[0, 1, 2]]);
  }
});

test('variant collectives on two subgroups of 6 ranks ([5, 1, 3] in that order, and [0, 2, 4])', async (t) => {
  await check(t, 6, { dtype: 'float32', op: 'max', seed: 3, groups: [[5, 1, 3], [0, 2, 4]] }, [[5, 1, 3], [0, 2, 4]]);
});


for (const n of [2, 3]) {
  test(`members that disagree on split sizes or coalesced lists fail at once, each listing every member (${n} ranks)`, async (t) => {
    const results = (await withRanks(n, { module: fixture, exportName: 'disagreeing' }, { timeoutMs: 60_000 })) as Record<
      string, { name: string; message: string } | undefined
    >[];
    results.forEach((r, rank) => {
      t.is(r.gatherV?.name, 'MismatchError', `rank ${rank}`);
      t.regex(r.gatherV!.message, /allGatherV on group world: the members' split sizes disagree/);
      t.regex(r.gatherV!.message, new RegExp(`rank 0 \\(group rank 0\\): \\[2${', 1'.repeat(n - 1)}\\]`));
      t.regex(r.gatherV!.message, new RegExp(`rank 1 \\(group rank 1\\): \\[1${', 1'.repeat(n - 1)}\\]`));
      t.is(r.coalesced?.name, 'MismatchError', `rank ${rank}`);
      t.regex(r.coalesced!.message, /allReduceCoalesced/);
      t.is(r.splits?.name, 'MismatchError', `rank ${rank}`);
      t.regex(r.splits!.message, /allToAllSingle/);
    });
  });
}

for (const n of [1, 2, 3]) {
  test(`in-place allGather: each member's input is its own slot of out (${n} ranks)`, async (t) => {
    const results = (await withRanks(n, { module: fixture, exportName: 'inPlaceGather' }, { timeoutMs: 60_000 })) as Record<string, any>[];
    const all = Array.from({ length: n }, (_, r) => r + 1);
    for (const r of results) {
      for (const name of ['small', 'plain', 'large']) t.deepEqual(r[name], { same: true, values: all }, name);
      if (n > 1) t.regex(r.wrongSlot, /allowed only when the input is this member's own slot/);
    }
  });
}
