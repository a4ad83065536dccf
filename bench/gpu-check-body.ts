/**
 * Rank body of bench/gpu-check.ts (a job of one rank): the nccl communicator made directly over the
 * rank's CPU side (a group of one never reaches a communicator through GroupCoordinator), every
 * collective x dtype x op on `cuda:0` against the plain-JS result of one member, send/recv to self in one
 * group, then the time of a 4 B and a 256 MiB all-reduce (each call waited for, as every call is).
 */
import { initDistributedEnvironment, type RankInfo } from '../src/index.js';
import { createNcclCommunicator } from '../src/comm/nccl.js';
import type { VendorCommunicator } from '../src/comm/vendor-communicator.js';
import { DTYPES, REDUCE_OPS, type DType, type ReduceOp } from '../src/tensor/dtype.js';
import { empty, fromTypedArray, type Tensor } from '../src/tensor/index.js';
import { makeInput, inputSeed } from '../test/comm/data.js';
import { refAllReduce } from '../test/helpers/collective-reference.js';
import { compareOutputs } from '../test/helpers/reference.js';

export interface GpuCheckArgs { device: string; smallIters: number; largeIters: number; largeBytes: number }
export interface GpuCheckReport {
  cases: number;
  failures: string[];
  /** Host time of each waited-for call (median, best), and the device's time of all of them (events). */
  timings: { bytes: number; medianUs: number; minUs: number; deviceUsPerCall: number; iters: number }[];
  library: unknown;
}

const FLOATS = new Set<DType>(['float32', 'float64', 'float16', 'bfloat16']);
const opsFor = (d: DType): ReduceOp[] => REDUCE_OPS.filter((op) => op !== 'avg' || FLOATS.has(d));

function host(dtype: DType, shape: number[], seed: number): Tensor {
  const numel = shape.reduce((a, b) => a * b, 1);
  return fromTypedArray(makeInput(dtype, numel, inputSeed(seed, 0), 'rand'), { dtype, shape });
}

export default function main({ args }: RankInfo): GpuCheckReport {
  const { device, smallIters, largeIters, largeBytes } = args as GpuCheckArgs;
  const world = initDistributedEnvironment({ backend: 'nccl' }).world;
  const spec = { ranks: [0], occurrence: 0, name: 'gpu-check', timeoutMs: 120_000, checkCalls: false };
  const comm = createNcclCommunicator(spec, { cpu: world.cpuCommunicator, device }) as VendorCommunicator;
  const failures: string[] = [];
  let cases = 0;
  const expect = (what: string, dtype: DType, expected: Tensor, actual: Tensor | null): void => {
    cases++;
    if (actual === null) return void failures.push(`${what}: no result`);
    const got = actual.device === 'cpu' ? actual : actual.to('cpu');
    const mismatch = compareOutputs(dtype, expected.data, got.data);
    if (mismatch !== undefined) failures.push(`${what}: ${JSON.stringify(mismatch)}`);
  };
  let seed = 1;
  for (const dtype of DTYPES) {
    const x = host(dtype, [3, 5], seed++);
    const d = x.to(device);
    for (const op of opsFor(dtype)) {
      const ref = fromTypedArray(refAllReduce(dtype, op, [x.data]), { dtype, shape: [3, 5] });
      expect(`allReduce ${dtype} ${op}`, dtype, ref, comm.allReduce(d, op));
      expect(`reduce ${dtype} ${op}`, dtype, ref, comm.reduce(d, 0, op));
      expect(`reduceScatter ${dtype} ${op} dim 1`, dtype, ref, comm.reduceScatter(d, 1, op));
    }
    for (const dim of [0, 1]) {
      expect(`allGather ${dtype} dim ${dim}`, dtype, x, comm.allGather(d, dim));
      expect(`gather ${dtype} dim ${dim}`, dtype, x, comm.gather(d, 0, dim));
      expect(`allToAll ${dtype} dims ${dim},${1 - dim}`, dtype, x, comm.allToAll(d, dim, 1 - dim));
    }
    expect(`broadcast ${dtype}`, dtype, x, comm.broadcast(d.clone(), 0));
    const received = empty([3, 5], { dtype, device });
    comm.exchange([{ send: d, peer: 0 }], [{ recv: received, peer: 0 }]);
    expect(`send/recv to self ${dtype}`, dtype, x, received);
  }
  const timings = [4, largeBytes].map((bytes) => time(comm, device, bytes, bytes <= 4 ? smallIters : largeIters));
  comm.destroy();
  return { cases, failures, timings, library: null };
}

function time(
  comm: VendorCommunicator, device: string, bytes: number, iters: number,
): GpuCheckReport['timings'][number] {
  const x = empty([bytes / 4], { device }), out = empty([bytes / 4], { device });
  for (let i = 0; i < Math.min(20, iters); i++) comm.allReduce(x, 'sum', { out });
  const us: number[] = [];
  const deviceMs = comm.deviceTime(() => {
    for (let i = 0; i < iters; i++) {
      const start = performance.now();
      comm.allReduce(x, 'sum', { out });
      us.push((performance.now() - start) * 1000);
    }
  });
  x.release();
  out.release();
  us.sort((a, b) => a - b);
  return {
    bytes, medianUs: us[Math.floor(us.length / 2)]!, minUs: us[0]!, deviceUsPerCall: (deviceMs * 1000) / iters, iters,
  };
}
