/**
 * The hccl backend on its CPU shim: HCCL's own numbering (bfloat16 is 11 where NCCL says 9, root info of
 * 4108 bytes, no avg op), the matrix of collectives x dtypes x ops at 2 and 4 ranks bit for bit against
 * the reference, and avg emulated as a sum, then a division by the group size in the dtype's precision.
 */
import './shim-env.js';
import test from 'ava';
import { vendorCase } from './vendor-cases.js';
import { withRanks } from '../../src/testing/index.js';
import { HCCL_TABLES } from '../../src/comm/hccl.js';
import { divideAsAvg } from '../../src/tensor/ops.js';
import { NCCL_TABLES } from '../../src/comm/nccl.js';
import { HCCL, Status } from '../../src/native/addon.js';
import { loadVendor } from '../../src/native/vendors.js';
import type { DType, StorageArray } from '../../src/tensor/dtype.js';
import { boundaryCases, CaseList, movementCases, reductionCases } from '../comm/cases.js';
import { canonicalDigest, bytesOf, inputSeed, makeInput, type CaseResult, type CaseSpec } from '../comm/data.js';
import { checkCases, describeCase, summarize } from '../comm/expect.js';
import { refAllReduce, refReduceScatter } from '../helpers/collective-reference.js';
import { BFLOAT16, FLOAT16, f32ToHalfBits, halfBitsToNumber } from '../helpers/reference.js';

const fixture = new URL('../fixtures/native-matrix.js', import.meta.url);

test('HCCL numbers dtypes its own way, has no avg, and its root info is 4108 bytes', (t) => {
  t.is(HCCL_TABLES.dtypes.bfloat16, 11);
  t.is(NCCL_TABLES.dtypes.bfloat16, 9);
  t.deepEqual([HCCL_TABLES.dtypes.float16, HCCL_TABLES.dtypes.float32, HCCL_TABLES.dtypes.uint8, HCCL_TABLES.dtypes.float64], [3, 4, 7, 10]);
  t.deepEqual([NCCL_TABLES.dtypes.float16, NCCL_TABLES.dtypes.float32, NCCL_TABLES.dtypes.uint8, NCCL_TABLES.dtypes.float64], [6, 7, 1, 8]);
  t.is(HCCL_TABLES.ops.avg, undefined);
  t.is(NCCL_TABLES.ops.avg, 4);
  const { addon } = loadVendor('hccl');
  t.is(addon.uniqueId(HCCL).length, 4108);
  t.is(loadVendor('nccl').addon.uniqueId(0).length, 128);
  const h = addon.commInit(HCCL, 1, addon.uniqueId(HCCL), 0, 0);
  const buf = addon.malloc(HCCL, 0, 16);
  t.is(addon.allReduce(h, buf, buf, 4, 4, 4, 1000), Status.ENQUEUE, 'op 4 (avg) is not an HCCL op');
  t.regex(addon.lastError(h).text, /parameter error.*invalid reduction op 4/);
  t.is(addon.allReduce(h, buf, buf, 4, 12, 0, 1000), Status.ENQUEUE, 'dtype 12 (int128) is refused');
  t.is(addon.allReduce(h, buf, buf, 4, 4, 0, 1000), Status.OK);
  addon.free(HCCL, 0, buf);
  addon.commDestroy(h, false);
});

/** avg as the emulation computes it: the reference's sum, each element divided by k in the dtype's precision. */
function dividedReference(dtype: DType, sum: StorageArray, k: number): StorageArray {
  const out = sum.slice() as StorageArray;
  for (let i = 0; i < out.length; i++) {
    const v = out[i] as number;
    if (dtype === 'float32') out[i] = Math.fround(v / k);
    else if (dtype === 'float64') out[i] = v / k;
    else {
      const f = dtype === 'float16' ? FLOAT16 : BFLOAT16;
      out[i] = f32ToHalfBits(Math.fround(halfBitsToNumber(v, f) / k), f);
    }
  }
  return out;
}

test('divideAsAvg (hccl\'s and mpi\'s avg) divides as the reference does, complex parts included', (t) => {
  const f32 = Float32Array.of(1, 2, 10, -3, Number.NaN);
  divideAsAvg('float32', f32, 3);
  t.deepEqual([...f32], [...dividedReference('float32', Float32Array.of(1, 2, 10, -3, Number.NaN), 3)]);
  for (const [dtype, f] of [['float16', FLOAT16], ['bfloat16', BFLOAT16]] as const) {
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i).filter((bits) => !Number.isNaN(halfBitsToNumber(bits, f)));
    const mine = all.slice();
    divideAsAvg(dtype, mine, 3);
    t.deepEqual([...mine], [...dividedReference(dtype, all, 3)], dtype);
  }
  const c64 = Float32Array.of(1, -2, 10, 0.1);
  divideAsAvg('complex64', c64, 3);
  const c64Expected = [1, -2, 10, 0.1].map((v) => Math.fround(Math.fround(v) / 3));
  t.deepEqual([...c64], c64Expected, 'each part, in float32');
  const c128 = Float64Array.of(1, -2, 10, 0.1);
  divideAsAvg('complex128', c128, 3);
  t.deepEqual([...c128], [1 / 3, -2 / 3, 10 / 3, 0.1 / 3]);
  t.throws(() => divideAsAvg('int32', Int32Array.of(1), 2), { message: /avg is not defined on int32/ });
});

/** The expected output digests of an avg case, per world rank (null where nothing is compared). */
function avgDigests(spec: CaseSpec, w: number): (string | null)[] {
  const numel = spec.shape.reduce((a, b) => a * b, 1);
  const inputs = Array.from({ length: w }, (_, r) => makeInput(spec.dtype, numel, inputSeed(spec.seed, r), spec.kind));
  const digest = (a: StorageArray): string => canonicalDigest(spec.dtype, bytesOf(dividedReference(spec.dtype, a, w)));
  if (spec.coll === 'allReduce') return inputs.map(() => digest(refAllReduce(spec.dtype, 'sum', inputs)));
  if (spec.coll === 'reduce') return inputs.map((_, r) => (r === spec.root ? digest(refAllReduce(spec.dtype, 'sum', inputs)) : null));
  return refReduceScatter(spec.dtype, 'sum', inputs, spec.shape, spec.dim!).map(digest);
}

for (const w of [2, 4]) {
  const list = new CaseList(w * 104729);
  reductionCases(list, w);
  movementCases(list, w);
  boundaryCases(list, w);
  // The vendor libraries have no complex dtypes and no bitwise reduce ops (the threads backend has both).
  const cases = list.cases.filter(vendorCase);
  let job: Promise<(CaseResult | null)[][]> | undefined;
  const run = (): Promise<(CaseResult | null)[][]> =>
    (job ??= withRanks(w, fixture, { args: { cases, kind: 'npu' }, timeoutMs: 120_000 }) as Promise<(CaseResult | null)[][]>);

  test(`hccl on ${w} ranks: every collective, dtype and op but avg, bit for bit`, async (t) => {
    const indices = cases.flatMap((c, i) => (c.op === 'avg' ? [] : [i]));
    t.deepEqual(summarize(checkCases(cases, indices, await run(), {})), []);
  });

  test(`hccl on ${w} ranks: avg is the sum, then a division by ${w} in the dtype's precision`, async (t) => {
    const reports = await run();
    const problems: string[] = [];
    let checked = 0;
    cases.forEach((spec, i) => {
      if (spec.op !== 'avg') return;
      avgDigests(spec, w).forEach((expected, r) => {
        if (expected === null) return;
        checked++;
        if (reports[r]![i]!.out !== expected) problems.push(`${describeCase(spec)} on rank ${r}: ${reports[r]![i]!.out}, expected ${expected}`);
      });
    });
    t.true(checked > 20 * w, `${checked} avg results checked`);
    t.deepEqual(summarize(problems), []);
  });
}
