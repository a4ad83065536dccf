import test from 'ava';
import { createEnv, opsFor } from './harness.js';
import { runMatrix } from './matrix.js';

const env = createEnv();

for (const dtype of ['float32', 'float64'] as const) {
  for (const op of opsFor(dtype)) {
    test(`${dtype} ${op} matches the reference (lengths x k=1..8, reduce2, in place, misaligned)`, (t) => {
      const { failures, cases, seed } = runMatrix(env, dtype, op);
      t.deepEqual(failures, [], `seed ${seed}`);
      t.true(cases > 150);
    });
  }
}
