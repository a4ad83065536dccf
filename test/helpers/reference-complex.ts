/**
 * The complex part of the plain-JS reference (`reference.ts`), from the definition of complex numbers:
 * an element a + bi is stored as its (re, im) entries; the sum of two is (a + c) + (b + d)i, each part
 * rounded to the parts' format (float32 for complex64); avg divides the sum by the real k, each part.
 * prod, min, max and the bitwise ops are not defined here (torch refuses them on complex tensors).
 */
import type { DType, ReduceOp, StorageArray } from '../../src/tensor/dtype.js';

/** A complex number as its two parts. */
interface Complex {
  re: number;
  im: number;
}

/**
 * Complex sum / avg of `inputs` ((re, im) entries, `count` elements each) into a new array of 2 * count
 * entries; `round` rounds a real to the parts' format.
 */
export function complexReduce<A extends Float32Array | Float64Array>(
  op: ReduceOp, inputs: readonly StorageArray[], count: number, round: (x: number) => number, out: A,
): A {
  if (op !== 'sum' && op !== 'avg') throw new Error(`${op} is not defined on complex numbers`);
  const k = inputs.length;
  const at = (x: StorageArray, i: number): Complex => ({ re: Number(x[2 * i]), im: Number(x[2 * i + 1]) });
  const add = (x: Complex, y: Complex): Complex => ({ re: round(x.re + y.re), im: round(x.im + y.im) });
  const divide = (x: Complex, d: number): Complex => ({ re: round(x.re / d), im: round(x.im / d) });
  for (let i = 0; i < count; i++) {
    let acc = at(inputs[0]!, i);
    for (let j = 1; j < k; j++) acc = add(acc, at(inputs[j]!, i));
    if (op === 'avg') acc = divide(acc, k);
    out[2 * i] = acc.re;
    out[2 * i + 1] = acc.im;
  }
  return out;
}

/** The real dtype of a complex dtype's parts (the dtype itself for real dtypes). */
export function partDtype(dtype: DType): DType {
  return dtype === 'complex64' ? 'float32' : dtype === 'complex128' ? 'float64' : dtype;
}
