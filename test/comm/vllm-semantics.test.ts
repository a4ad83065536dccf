/**
 * vLLM tests/distributed/test_comm_ops.py semantics on tp x pp layouts: all-reduce, all-gather on each
 * dim, reduce-scatter, broadcast_tensor_dict, send/recv_tensor_dict (with and without all_gather_group) and
 * their async forms, and pipeline send/recv; and FastVideo's allToAll4D. Expected values are computed here in plain JS.
 */
import test from 'ava';
import { withRanks } from '../../src/testing/index.js';
import { catFlat, narrowFlat, refAllToAll } from '../helpers/collective-reference.js';

const fixture = new URL('../fixtures/comm-vllm.js', import.meta.url);

interface Report {
  rank: number;
  tpRank: number;
  ppRank: number;
  allReduce: number[];
  allGather: { shape: number[]; data: number[] }[];
  reduceScatter: number[];
  broadcastDict: Record<string, unknown>;
  received: Record<string, unknown> | null;
  sliced: Record<string, unknown> | null;
  asyncSliced: Record<string, unknown> | null;
  chain: number[] | null;
  allToAll4D: { shape: number[]; data: number[]; roundTrip: boolean };
}

const range = (n: number, factor: number): number[] => Array.from({ length: n }, (_, i) => i * factor);

/** The dict every receiver must see (tensors as { dtype, shape, data }). */
const expectedDict = {
  a: { dtype: 'float32', shape: [8], data: range(8, 1) },
  b: { dtype: 'int8', shape: [16], data: range(16, 1) },
  c: 'test',
  d: [1, 2, 3],
  e: { a: 1, b: 2 },
  f: { dtype: 'float32', shape: [0], data: [] },
  g: { dtype: 'float64', shape: [2, 3, 4], data: range(24, 0.5) },
  h: { dtype: 'int32', shape: [7], data: range(7, 1).map((x) => x - 3) },
  i: { dtype: 'complex64', shape: [8], data: range(8, 1).map((x) => [x, -0.5 * x]) },
  j: { dtype: 'complex128', shape: [3], data: range(3, 1).map((x) => [x / 4, 2 ** 40 + x]) },
};

for (const [tp, pp] of [[2, 2], [4, 1], [1, 4], [2, 4]] as const) {
  test(`test_comm_ops semantics with tp=${tp} pp=${pp}`, async (t) => {
    const reports = (await withRanks(tp * pp, fixture, { args: { tp, pp }, timeoutMs: 20_000 })) as Report[];
    const all = (n: number) => Array.from({ length: tp }, (_, r) => new Float32Array(range(n, r + 1)));
    const sum = range(8, 1).map((i) => all(8).reduce((acc, x) => acc + x[i]!, 0));
    for (const r of reports) {
      t.is(r.tpRank, r.rank % tp);
      t.is(r.ppRank, Math.floor(r.rank / tp));
      t.deepEqual(r.allReduce, sum, `all_reduce on rank ${r.rank}`);
      r.allGather.forEach((got, dim) => {
        const shape = [2, 3, 4];
        const expected = tp === 1 ? all(24)[0]! : catFlat(all(24), shape, dim);
        t.deepEqual(got.shape, shape.map((s, d) => (d === dim ? s * tp : s)), `all_gather dim ${dim} shape on rank ${r.rank}`);
        t.deepEqual(got.data, [...expected], `all_gather dim ${dim} on rank ${r.rank}`);
      });
      const part = 8 / tp;
      t.deepEqual(r.reduceScatter, [...narrowFlat(new Float32Array(sum), [8], 0, r.tpRank * part, part)], `reduce_scatter on rank ${r.rank}`);
      t.deepEqual(r.broadcastDict, expectedDict, `broadcast_tensor_dict on rank ${r.rank}`);
      const shape4 = [2, 3, 2 * tp, 5];
      const locals = Array.from({ length: tp }, (_, m) => new Float32Array(2 * 3 * 2 * tp * 5).map((_, i) => m * 1000 + i));
      t.deepEqual(r.allToAll4D.shape, [2, 3 * tp, 2, 5], `allToAll4D shape on rank ${r.rank}`);
      t.deepEqual(r.allToAll4D.data, [...refAllToAll(locals, shape4, 2, 1)[r.tpRank]!], `allToAll4D on rank ${r.rank}`);
      t.true(r.allToAll4D.roundTrip, `allToAll4D there and back on rank ${r.rank}`);
      const first = r.ppRank === 0;
      t.deepEqual(r.received, first ? null : expectedDict, `recv_tensor_dict on rank ${r.rank}`);
      t.deepEqual(r.sliced, first ? null : expectedDict, `recv_tensor_dict(allGatherGroup) on rank ${r.rank}`);
      t.deepEqual(r.asyncSliced, first ? null : expectedDict, `irecv_tensor_dict(allGatherGroup) on rank ${r.rank}`);
      // Stage s received arange(64) plus 0 + 1 + ... + (s - 1).
      const added = (r.ppRank * (r.ppRank - 1)) / 2;
      t.deepEqual(r.chain, first ? null : range(64, 1).map((x) => x + added), `pipeline recv on rank ${r.rank}`);
    }
  });
}
