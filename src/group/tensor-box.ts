/**
 * Tensors inside objects: the object plane serializes with the structured-clone algorithm, which turns a
 * Tensor into a plain object without its data or methods. Before sending, `boxTensors` replaces every
 * Tensor at any depth (arrays, plain objects, class instances, Map keys and values, Set members) by a
 * box holding its dtype, shape and a copy of its bytes; after receiving, `unboxTensors` turns the boxes
 * back into Tensors. Shared references and cycles are kept (one box per Tensor object, one copy per
 * container). An object without tensors is passed through untouched (one scan, no copy).
 */
import type { DType, StorageArray } from '../tensor/dtype.js';
import { fromTypedArray } from '../tensor/factory.js';
import { Tensor } from '../tensor/tensor.js';

/** The key that marks a box; an object of the user's with this key would be read as a tensor. */
export const TENSOR_BOX_KEY = '__multirank_tensor__';

interface TensorBox {
  readonly [TENSOR_BOX_KEY]: 1;
  readonly dtype: DType;
  readonly shape: number[];
  readonly data: StorageArray;
}

function isContainer(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !ArrayBuffer.isView(value) && !(value instanceof ArrayBuffer)
    && !(value instanceof Date) && !(value instanceof RegExp)
    && !(typeof SharedArrayBuffer !== 'undefined' && value instanceof SharedArrayBuffer);
}

/** True when a Tensor is reachable from `value`. */
function holdsTensor(value: unknown, seen: Set<object>): boolean {
  if (value instanceof Tensor) return true;
  if (!isContainer(value) || seen.has(value)) return false;
  seen.add(value);
  if (value instanceof Map) {
    for (const [k, v] of value) if (holdsTensor(k, seen) || holdsTensor(v, seen)) return true;
    return false;
  }
  if (value instanceof Set) {
    for (const v of value) if (holdsTensor(v, seen)) return true;
    return false;
  }
  for (const v of Object.values(value)) if (holdsTensor(v, seen)) return true;
  return false;
}

/** `value` with every Tensor replaced by a box (a copy of the containers that hold one), or `value` itself. */
export function boxTensors<T>(value: T): T {
  if (!holdsTensor(value, new Set())) return value;
  return box(value, new Map()) as T;
}

function box(value: unknown, done: Map<object, unknown>): unknown {
  if (value instanceof Tensor) {
    let boxed = done.get(value);
    if (boxed === undefined) {
      const data = value.data.slice() as StorageArray;
      boxed = { [TENSOR_BOX_KEY]: 1, dtype: value.dtype, shape: [...value.shape], data } satisfies TensorBox;
      done.set(value, boxed);
    }
    return boxed;
  }
  if (!isContainer(value)) return value;
  const already = done.get(value);
  if (already !== undefined) return already;
  if (value instanceof Map) {
    const copy = new Map();
    done.set(value, copy);
    for (const [k, v] of value) copy.set(box(k, done), box(v, done));
    return copy;
  }
  if (value instanceof Set) {
    const copy = new Set();
    done.set(value, copy);
    for (const v of value) copy.add(box(v, done));
    return copy;
  }
  const copy: Record<string, unknown> | unknown[] = Array.isArray(value) ? new Array<unknown>(value.length) : {};
  done.set(value, copy);
  for (const [k, v] of Object.entries(value)) (copy as Record<string, unknown>)[k] = box(v, done);
  return copy;
}

function isBox(value: unknown): value is TensorBox {
  return typeof value === 'object' && value !== null && (value as Record<string, unknown>)[TENSOR_BOX_KEY] === 1
    && ArrayBuffer.isView((value as { data?: unknown }).data);
}

/** `value` (freshly deserialized, so changed in place) with every box turned back into a Tensor. */
export function unboxTensors<T>(value: T): T {
  return unbox(value, new Map()) as T;
}

function unbox(value: unknown, done: Map<object, unknown>): unknown {
  if (isBox(value)) {
    let t = done.get(value);
    if (t === undefined) {
      t = fromTypedArray(value.data, { dtype: value.dtype, shape: value.shape });
      done.set(value, t);
    }
    return t;
  }
  if (!isContainer(value)) return value;
  if (done.has(value)) return value;
  done.set(value, value);
  if (value instanceof Map) {
    const entries = [...value].map(([k, v]) => [unbox(k, done), unbox(v, done)] as const);
    value.clear();
    for (const [k, v] of entries) value.set(k, v);
  } else if (value instanceof Set) {
    const members = [...value].map((v) => unbox(v, done));
    value.clear();
    for (const v of members) value.add(v);
  } else {
    for (const [k, v] of Object.entries(value)) (value as Record<string, unknown>)[k] = unbox(v, done);
  }
  return value;
}
