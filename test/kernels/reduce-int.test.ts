import test from 'ava';
import { createEnv, opsFor } from './harness.js';
import { runMatrix } from './matrix.js';

const env = createEnv();

for (const dtype of ['int8', 'uint8', 'int32', 'int64', 'bool'] as const) {
  for (const op of opsFor(dtype)) {
    test(`${dtype} ${op} matches the reference (wrapping, signedness)`, (t) => {
      const { failures, cases, seed } = runMatrix(env, dtype, op);
      t.deepEqual(failures, [], `seed ${seed}`);
      t.true(cases > 150);
    });
  }
}
