/**
 * FastVideo's differentiable collectives: each backward gives the gradient that the same model computed
 * on one rank gives (the total loss is the sum of the ranks' losses L_r = sum(c_r * y_r)).
 */
import test from 'ava';
import { withRanks } from '../../src/testing/index.js';
import { coeff, input } from '../fixtures/autograd.js';

const fixture = new URL('../fixtures/autograd.js', import.meta.url);
const sum = (arrays: number[][]): number[] => arrays[0]!.map((_, i) => arrays.reduce((a, x) => a + x[i]!, 0));
const ranks = (w: number): number[] => Array.from({ length: w }, (_, r) => r);

for (const w of [1, 2, 3, 4]) {
  test(`each backward matches the one-rank gradient (${w} ranks)`, async (t) => {
    const results = (await withRanks(w, fixture)) as Record<string, number[]>[];
    results.forEach((r, rank) => {
      // y = sum_r x_r, so dL/dx_rank = sum_r c_r.
      t.deepEqual(r.allReduceY, sum(ranks(w).map((m) => input(m, 6))));
      t.deepEqual(r.allReduce, sum(ranks(w).map((m) => coeff(m, 6))), `allReduce rank ${rank}`);
      // y = cat(x_0..x_{w-1}, dim 1) of [2, 3] parts: dL/dx_rank = columns 3*rank.. of sum_r c_r (shape [2, 3w]).
      const total = sum(ranks(w).map((m) => coeff(m, 6 * w)));
      t.deepEqual(r.allGather, [0, 1].flatMap((row) => total.slice(row * 3 * w + 3 * rank, row * 3 * w + 3 * rank + 3)), `allGather rank ${rank}`);
      // full[s, h] (S = H = 2w): rank m holds full[2m..2m+2, :]; y_r = full[:, 2r..2r+2]; dL/dfull[:, 2r+j] = c_r.
      const full = (s: number, h: number): number => input(Math.floor(s / 2), 4 * w)[(s % 2) * 2 * w + h]!;
      const expectY = Array.from({ length: 2 * w }, (_, s) => [0, 1].map((j) => full(s, 2 * rank + j))).flat();
      t.deepEqual(r.allToAllY, expectY, `allToAll4D forward rank ${rank}`);
      const grad = (s: number, h: number): number => coeff(Math.floor(h / 2), 4 * w)[s * 2 + (h % 2)]!;
      const expectGrad = [0, 1].flatMap((ds) => Array.from({ length: 2 * w }, (_, h) => grad(2 * rank + ds, h)));
      t.deepEqual(r.allToAll, expectGrad, `allToAll4D backward rank ${rank}`);
      // Slice with scaleGrad: the gathered gradient of every rank's chunk, divided by w.
      t.deepEqual(r.slice, ranks(w).flatMap((m) => coeff(m, 2).map((c) => c / w)), `Slice rank ${rank}`);
    });
  });
}
