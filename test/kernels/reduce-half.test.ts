import test from 'ava';
import { createEnv, opsFor } from './harness.js';
import { runMatrix } from './matrix.js';

const env = createEnv();

for (const dtype of ['float16', 'bfloat16'] as const) {
  for (const op of opsFor(dtype)) {
    test(`${dtype} ${op} (f32 accumulation, one rounding) matches the reference`, (t) => {
      const { failures, cases, seed } = runMatrix(env, dtype, op);
      t.deepEqual(failures, [], `seed ${seed}`);
      t.true(cases > 150);
    });
  }
}
