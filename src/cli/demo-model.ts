/**
 * The demo's model, as plain math on row-major Float32Arrays: per pipeline stage one transformer MLP
 * block `Y = X + gelu(X W1) W2`, and on the last stage a vocabulary head `logits = Y Wh`, with loss
 * `0.5 * sum(logits^2) / batch`. Weights and data come from a seeded generator, so every rank can build
 * the full matrices and take its own shard, and the 1-rank reference builds them whole.
 */

export interface DemoSizes {
  hidden: number;
  ffn: number;
  vocab: number;
  /** Rows of the global batch (split across data-parallel replicas). */
  batch: number;
  stages: number;
}

export const DEFAULT_SIZES: DemoSizes = { hidden: 32, ffn: 128, vocab: 64, batch: 8, stages: 2 };

/** A rows x cols matrix. */
export interface Matrix {
  rows: number;
  cols: number;
  data: Float32Array;
}

export function matrix(rows: number, cols: number, data: Float32Array = new Float32Array(rows * cols)): Matrix {
  return { rows, cols, data };
}

/** mulberry32: a small seeded generator; values in [-scale, scale). */
export function seeded(seed: number, count: number, scale: number): Float32Array {
  let state = seed >>> 0;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    out[i] = ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1) * scale;
  }
  return out;
}

/** The full weights of stage `s`: W1 [hidden, ffn], W2 [ffn, hidden]; the head Wh [hidden, vocab]. */
export function stageWeights(sizes: DemoSizes, stage: number): { w1: Matrix; w2: Matrix } {
  const { hidden, ffn } = sizes;
  return {
    w1: matrix(hidden, ffn, seeded(1000 + stage, hidden * ffn, 1 / Math.sqrt(hidden))),
    w2: matrix(ffn, hidden, seeded(2000 + stage, ffn * hidden, 1 / Math.sqrt(ffn))),
  };
}

export function headWeights(sizes: DemoSizes): Matrix {
  return matrix(sizes.hidden, sizes.vocab, seeded(3000, sizes.hidden * sizes.vocab, 1 / Math.sqrt(sizes.hidden)));
}

export function inputBatch(sizes: DemoSizes): Matrix {
  return matrix(sizes.batch, sizes.hidden, seeded(42, sizes.batch * sizes.hidden, 1));
}

/** Columns [from, from + count) of `m`. */
export function columns(m: Matrix, from: number, count: number): Matrix {
  const out = matrix(m.rows, count);
  for (let r = 0; r < m.rows; r++) {
    out.data.set(m.data.subarray(r * m.cols + from, r * m.cols + from + count), r * count);
  }
  return out;
}

/** Rows [from, from + count) of `m`. */
export function rows(m: Matrix, from: number, count: number): Matrix {
  return matrix(count, m.cols, m.data.slice(from * m.cols, (from + count) * m.cols));
}

/** a @ b, or a^T @ b / a @ b^T with the flags. */
export function matmul(a: Matrix, b: Matrix, transposeA = false, transposeB = false): Matrix {
  const n = transposeA ? a.cols : a.rows, k = transposeA ? a.rows : a.cols, m = transposeB ? b.rows : b.cols;
  const out = matrix(n, m);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      let sum = 0;
      for (let p = 0; p < k; p++) {
        sum += (transposeA ? a.data[p * a.cols + i]! : a.data[i * a.cols + p]!) *
          (transposeB ? b.data[j * b.cols + p]! : b.data[p * b.cols + j]!);
      }
      out.data[i * m + j] = sum;
    }
  }
  return out;
}

export function add(a: Matrix, b: Matrix): Matrix {
  const out = matrix(a.rows, a.cols);
  for (let i = 0; i < out.data.length; i++) out.data[i] = a.data[i]! + b.data[i]!;
  return out;
}

const GELU_C = Math.sqrt(2 / Math.PI);

/** tanh-approximated GELU and its derivative, elementwise. */
export function gelu(z: Matrix): Matrix {
  const out = matrix(z.rows, z.cols);
  z.data.forEach((x, i) => (out.data[i] = 0.5 * x * (1 + Math.tanh(GELU_C * (x + 0.044715 * x ** 3)))));
  return out;
}

export function geluGrad(z: Matrix, upstream: Matrix): Matrix {
  const out = matrix(z.rows, z.cols);
  z.data.forEach((x, i) => {
    const t = Math.tanh(GELU_C * (x + 0.044715 * x ** 3));
    const d = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * GELU_C * (1 + 3 * 0.044715 * x * x);
    out.data[i] = d * upstream.data[i]!;
  });
  return out;
}

export function scale(m: Matrix, factor: number): Matrix {
  return matrix(m.rows, m.cols, m.data.map((x) => x * factor));
}

/** Largest absolute difference between two arrays of the same length. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

export interface ReferenceResult {
  loss: number;
  logits: Matrix;
  grads: { w1: Matrix; w2: Matrix }[];
  gradHead: Matrix;
}

/** The whole model on one rank: forward, loss and backward over the full batch. */
export function reference(sizes: DemoSizes): ReferenceResult {
  const weights = Array.from({ length: sizes.stages }, (_, s) => stageWeights(sizes, s));
  const head = headWeights(sizes);
  const acts: { x: Matrix; z: Matrix; a: Matrix }[] = [];
  let x = inputBatch(sizes);
  for (const { w1, w2 } of weights) {
    const z = matmul(x, w1);
    const a = gelu(z);
    acts.push({ x, z, a });
    x = add(x, matmul(a, w2));
  }
  const logits = matmul(x, head);
  const loss = logits.data.reduce((sum, v) => sum + 0.5 * v * v, 0) / sizes.batch;
  const dLogits = scale(logits, 1 / sizes.batch);
  const gradHead = matmul(x, dLogits, true);
  let dx = matmul(dLogits, head, false, true);
  const grads: { w1: Matrix; w2: Matrix }[] = new Array(sizes.stages);
  for (let s = sizes.stages - 1; s >= 0; s--) {
    const { x: xs, z, a } = acts[s]!;
    const w2grad = matmul(a, dx, true);
    const dz = geluGrad(z, matmul(dx, weights[s]!.w2, false, true));
    grads[s] = { w1: matmul(xs, dz, true), w2: w2grad };
    dx = add(dx, matmul(dz, weights[s]!.w1, false, true));
  }
  return { loss, logits, grads, gradHead };
}
