/**
 * The standard case matrix for one (dtype, op): lengths around every block boundary x k = 1..8 (table
 * form), the pair form, in-place outputs over the first and last input, and one odd length past 64 Ki
 * elements; offsets misaligned by a random number of elements. Returns the failure messages (at most 5).
 */
import type { DType, ReduceOp, StorageArray } from '../../src/tensor/dtype.js';
import { Rng } from '../helpers/mulberry32.js';
import { checkCase, seedOf, type Env, type ReduceCase } from './harness.js';
import { randomArray } from './values.js';

/** Lengths 0, 1, 3, 7, 15, 1023 and the neighbours of the 16/32/64-byte block sizes of every dtype. */
export const LENGTHS = [0, 1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 129, 1023];
export const LONG_LENGTH = 65537;
const MAX_FAILURES = 5;

function inputs(dtype: DType, k: number, count: number, rng: Rng): StorageArray[] {
  return Array.from({ length: k }, () => randomArray(dtype, count, rng));
}

function* cases(dtype: DType, op: ReduceOp, rng: Rng): Generator<ReduceCase> {
  for (const count of LENGTHS) {
    for (let k = 1; k <= 8; k++) yield { dtype, op, inputs: inputs(dtype, k, count, rng), form: 'table', misalign: true };
    yield { dtype, op, inputs: inputs(dtype, 2, count, rng), form: 'pair', misalign: true };
    yield { dtype, op, inputs: inputs(dtype, 2, count, rng), form: 'pair', misalign: false };
    yield { dtype, op, inputs: inputs(dtype, 3, count, rng), form: 'table', misalign: false };
  }
  for (const count of [7, 65, 1023]) {
    for (const inPlace of ['first', 'last'] as const) {
      for (const k of [1, 3, 8]) yield { dtype, op, inputs: inputs(dtype, k, count, rng), form: 'table', misalign: true, inPlace };
      yield { dtype, op, inputs: inputs(dtype, 2, count, rng), form: 'pair', misalign: true, inPlace };
    }
  }
  yield { dtype, op, inputs: inputs(dtype, 2, LONG_LENGTH, rng), form: 'table', misalign: true };
  yield { dtype, op, inputs: inputs(dtype, 3, LONG_LENGTH, rng), form: 'table', misalign: true, inPlace: 'last' };
  yield { dtype, op, inputs: inputs(dtype, 2, LONG_LENGTH, rng), form: 'pair', misalign: true };
}

/** Runs the whole matrix for (dtype, op) with a seed derived from their names. */
export function runMatrix(env: Env, dtype: DType, op: ReduceOp): { failures: string[]; cases: number; seed: number } {
  const seed = seedOf(`${dtype}/${op}`);
  const rng = new Rng(seed);
  const failures: string[] = [];
  let n = 0;
  for (const c of cases(dtype, op, rng)) {
    n++;
    const failure = checkCase(env, c, rng);
    if (failure !== undefined && failures.push(failure) >= MAX_FAILURES) break;
  }
  return { failures, cases: n, seed };
}
