/**
 * One rank of the demo job (Megatron layout). Tensor parallel: W1 and the head are column-parallel, W2
 * row-parallel (an all-reduce after it, an all-gather of the head's logits); pipeline parallel: stages
 * pass activations forward and gradients backward with send/recv; data parallel: replicas take rows
 * of the batch and all-reduce their gradients. Returns its shards of the results and its timings.
 */
import type { GroupCoordinator } from '../group/coordinator.js';
import type { RankInfo } from '../launch/protocol.js';
import { initDistributedEnvironment } from '../state/environment.js';
import {
  getDataParallelGroup, getPipelineModelParallelGroup, getTensorModelParallelGroup, initializeModelParallel,
} from '../state/megatron.js';
import { fromTypedArray } from '../tensor/factory.js';
import type { Tensor } from '../tensor/tensor.js';
import {
  add, columns, gelu, geluGrad, headWeights, inputBatch, matmul, matrix, rows, scale, stageWeights, type DemoSizes,
  type Matrix,
} from './demo-model.js';

export interface DemoArgs {
  tp: number;
  pp: number;
  steps: number;
  sizes: DemoSizes;
}

export interface DemoRankResult {
  rank: number;
  coords: { tp: number; pp: number; dp: number };
  loss: number | undefined;
  logits: number[] | undefined;
  grads: { w1: number[]; w2: number[]; head: number[] | undefined };
  /** Per collective kind: [calls, total ms]. */
  timings: Record<string, [number, number]>;
}

class Timer {
  readonly table: Record<string, [number, number]> = {};
  time<T>(kind: string, fn: () => T): T {
    const start = performance.now();
    const value = fn();
    const entry = (this.table[kind] ??= [0, 0]);
    entry[0] += 1;
    entry[1] += performance.now() - start;
    return value;
  }
}

const asTensor = (m: Matrix): Tensor => fromTypedArray(m.data, { shape: [m.rows, m.cols] });
const asMatrix = (t: Tensor): Matrix => matrix(t.shape[0]!, t.shape[1]!, Float32Array.from(t.data as Float32Array));

interface Groups { tp: GroupCoordinator; pp: GroupCoordinator; dp: GroupCoordinator }

function step(args: DemoArgs, g: Groups, timer: Timer): Omit<DemoRankResult, 'rank' | 'coords' | 'timings'> {
  const { sizes } = args;
  const T = g.tp.worldSize, t = g.tp.rankInGroup, s = g.pp.rankInGroup, last = s === g.pp.worldSize - 1;
  const local = sizes.batch / g.dp.worldSize;
  const { w1, w2 } = stageWeights(sizes, s);
  const w1t = columns(w1, (t * sizes.ffn) / T, sizes.ffn / T), w2t = rows(w2, (t * sizes.ffn) / T, sizes.ffn / T);
  // Forward.
  const x = s === 0 ? rows(inputBatch(sizes), g.dp.rankInGroup * local, local)
    : asMatrix(timer.time('recv (pp)', () => g.pp.recv([local, sizes.hidden], 'float32', { src: s - 1 })));
  const z = matmul(x, w1t), a = gelu(z);
  const y = add(x, asMatrix(timer.time('allReduce (tp)', () => g.tp.allReduce(asTensor(matmul(a, w2t))))));
  let dy: Matrix, loss: number | undefined, logits: Matrix | undefined, headGrad: Matrix | undefined;
  if (last) {
    const headT = columns(headWeights(sizes), (t * sizes.vocab) / T, sizes.vocab / T);
    logits = asMatrix(timer.time('allGather (tp)', () => g.tp.allGather(asTensor(matmul(y, headT)), { dim: -1 })));
    const localLoss = logits.data.reduce((sum, v) => sum + 0.5 * v * v, 0) / sizes.batch;
    loss = timer.time(
      'allReduce (dp)', () => g.dp.allReduce(fromTypedArray(Float64Array.of(localLoss))),
    ).item() as number;
    const dLogitsT = columns(scale(logits, 1 / sizes.batch), (t * sizes.vocab) / T, sizes.vocab / T);
    headGrad = matmul(y, dLogitsT, true);
    dy = asMatrix(timer.time('allReduce (tp)', () => g.tp.allReduce(asTensor(matmul(dLogitsT, headT, false, true)))));
  } else {
    timer.time('send (pp)', () => g.pp.send(asTensor(y), { dst: s + 1 }));
    dy = asMatrix(timer.time('recv (pp)', () => g.pp.recv([local, sizes.hidden], 'float32', { src: s + 1 })));
  }
  // Backward.
  const w2grad = matmul(a, dy, true);
  const dz = geluGrad(z, matmul(dy, w2t, false, true));
  const w1grad = matmul(x, dz, true);
  if (s > 0) {
    const dx = add(
      dy, asMatrix(timer.time('allReduce (tp)', () => g.tp.allReduce(asTensor(matmul(dz, w1t, false, true))))),
    );
    timer.time('send (pp)', () => g.pp.send(asTensor(dx), { dst: s - 1 }));
  }
  const reduceGrad = (m: Matrix): number[] => [
    ...timer.time('allReduce (dp)', () => g.dp.allReduce(asTensor(m))).data as Float32Array
  ];
  return {
    loss,
    logits: logits === undefined ? undefined : [...logits.data],
    grads: {
      w1: reduceGrad(w1grad), w2: reduceGrad(w2grad), head: headGrad === undefined ? undefined : reduceGrad(headGrad),
    },
  };
}

/** The rank entry of the demo job. */
export default function demoRank({ rank, args }: RankInfo): DemoRankResult {
  const demo = args as DemoArgs;
  initDistributedEnvironment();
  initializeModelParallel({ tensorModelParallelSize: demo.tp, pipelineModelParallelSize: demo.pp });
  const groups: Groups = {
    tp: getTensorModelParallelGroup(), pp: getPipelineModelParallelGroup(), dp: getDataParallelGroup(),
  };
  const timer = new Timer();
  let result = step(demo, groups, timer);
  for (let i = 1; i < demo.steps; i++) result = step(demo, groups, timer);
  const coords = { tp: groups.tp.rankInGroup, pp: groups.pp.rankInGroup, dp: groups.dp.rankInGroup };
  return { rank, coords, ...result, timings: timer.table };
}
