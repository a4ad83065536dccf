/** Tensor constructors: `tensor`, `zeros`, `full`, `fromTypedArray`, `arange`. */
import { invalidType, shapeError } from '../errors.js';
import { dtypeInfo, type DType, type StorageArray } from './dtype.js';
import { checkShape, formatShape, numelOf } from './shape.js';
import { wrapStorage } from './storage.js';
import { zeroBytes } from './device.js';
import { empty, Tensor, type Scalar, type TensorOptions } from './tensor.js';

export { empty };

/** Flattens nested arrays, checking that they are rectangular; returns the values and the shape. */
function flatten(data: unknown): { values: Scalar[]; shape: number[] } {
  if (!Array.isArray(data)) return { values: [data as Scalar], shape: [] };
  const shape: number[] = [];
  for (let level: unknown = data; Array.isArray(level); level = level[0]) shape.push(level.length);
  const values: Scalar[] = [];
  // The index path of the node being walked; error messages name it (`data[1][0]`), built only then.
  const at: number[] = [];
  const path = (): string => at.map((i) => `[${i}]`).join('');
  const walk = (node: unknown, dim: number): void => {
    if (dim === shape.length) {
      if (Array.isArray(node)) {
        const rest = `the rest of \`data\` (shape ${formatShape(shape)})`;
        throw shapeError(`\`data${path()}\` is nested deeper than ${rest}`);
      }
      if (typeof node !== 'number' && typeof node !== 'bigint' && typeof node !== 'boolean') {
        throw invalidType(`data${path()}`, 'a number, bigint or boolean', node);
      }
      values.push(node);
      return;
    }
    if (!Array.isArray(node) || node.length !== shape[dim]) {
      throw shapeError(
        `\`data${path()}\` has ${Array.isArray(node) ? `length ${node.length}` : 'no array'} ` +
          `where ${shape[dim]} entries are expected (nested arrays must be rectangular)`,
      );
    }
    at.push(0);
    for (let i = 0; i < node.length; i++) {
      at[dim] = i;
      walk(node[i], dim + 1);
    }
    at.pop();
  };
  walk(data, 0);
  return { values, shape };
}

function inferDType(values: readonly Scalar[]): DType {
  if (values.length > 0 && values.every((v) => typeof v === 'boolean')) return 'bool';
  if (values.length > 0 && values.every((v) => typeof v === 'bigint')) return 'int64';
  return 'float32';
}

/**
 * A tensor from nested arrays (or a flat array with `shape`). dtype defaults to bool for booleans,
 * int64 for bigints and float32 otherwise. With a complex dtype the innermost arrays are the elements'
 * `[re, im]` pairs (as `toNestedArray` returns them): `tensor([[1, 2], [3, -4]], { dtype: 'complex64' })`
 * has shape [2] and holds 1+2i and 3-4i; with `shape`, the numbers are read as re, im, re, im, ...
 */
export function tensor(data: unknown, options: TensorOptions & { shape?: readonly number[] } = {}): Tensor {
  // Built on the CPU (`empty` below takes no device), then moved.
  const { values, shape: nested } = flatten(data);
  const dtype = options.dtype ?? inferDType(values);
  const parts = dtypeInfo(dtype).isComplex ? 2 : 1; // values per element
  if (parts === 2 && options.shape === undefined && nested[nested.length - 1] !== 2) {
    const got = `got nested arrays of shape ${formatShape(nested)}`;
    throw shapeError(`A ${dtype} tensor needs \`data\` whose innermost arrays are [re, im] pairs, ${got}`);
  }
  const shape = options.shape === undefined ? nested.slice(0, nested.length + 1 - parts) // complex: less the pairs
    : checkShape(options.shape);
  if (numelOf(shape) * parts !== values.length) {
    const has = parts === 2 ? `${values.length} numbers (2 per element)` : String(values.length);
    throw shapeError(`\`shape\` ${formatShape(shape)} holds ${numelOf(shape)} elements but \`data\` has ${has}`);
  }
  const out = empty(shape, { dtype, arena: options.arena, shared: options.shared === true });
  if (parts === 2) {
    const data = out.data as Float32Array | Float64Array;
    values.forEach((v, i) => (data[i] = Number(v)));
  } else for (let i = 0; i < values.length; i++) out.setFlat(i, values[i]!);
  return onDevice(out, options);
}

/** A tensor made on the CPU, moved to `options.device` when that is a device. */
function onDevice(t: Tensor, options: TensorOptions): Tensor {
  if (options.device === undefined || options.device === 'cpu') return t;
  const moved = t.to(options.device);
  if (moved !== t) t.release();
  return moved;
}

/** The options of a CPU tensor that `onDevice` then moves. */
function onHost(options: TensorOptions): TensorOptions {
  return { ...options, device: 'cpu' };
}

export function zeros(shape: readonly number[], options: TensorOptions = {}): Tensor {
  const out = empty(shape, options);
  if (out.device === 'cpu') out.bytes().fill(0);
  else zeroBytes(out);
  return out;
}

export function full(shape: readonly number[], value: Scalar, options: TensorOptions = {}): Tensor {
  return onDevice(empty(shape, onHost(options)).fill(value), options);
}

/** 0, 1, ..., n-1 (handy in tests and examples). */
export function arange(n: number, options: TensorOptions = {}): Tensor {
  const out = empty([n], onHost(options));
  for (let i = 0; i < n; i++) out.setFlat(i, out.dtype === 'int64' ? BigInt(i) : i);
  return onDevice(out, options);
}

const ARRAY_DTYPES: ReadonlyArray<[new (...args: never[]) => StorageArray, DType]> = [
  [Float32Array, 'float32'], [Float64Array, 'float64'], [Int8Array, 'int8'], [Uint8Array, 'uint8'],
  [Int32Array, 'int32'], [BigInt64Array, 'int64'], [Uint16Array, 'bfloat16'],
];

/**
 * A tensor viewing a typed array's memory (no copy). The dtype follows the array type; a Uint16Array is
 * read as bfloat16 unless `dtype: 'float16'` is given, and a Uint8Array may be `bool`. `complex64` and
 * `complex128` view a Float32Array / Float64Array of interleaved re, im parts (default shape [length / 2]).
 */
export function fromTypedArray(
  array: StorageArray, options: { dtype?: DType; shape?: readonly number[] } = {},
): Tensor {
  const match = ARRAY_DTYPES.find(([ctor]) => array instanceof ctor);
  if (match === undefined) {
    throw invalidType(
      'array', 'a Float32Array, Float64Array, Int8Array, Uint8Array, Int32Array, BigInt64Array or Uint16Array', array,
    );
  }
  const dtype = options.dtype ?? match[1];
  const info = dtypeInfo(dtype);
  const parts = info.isComplex ? 2 : 1; // array entries per element
  if (parts === 2) {
    const part = info.itemBytes === 8 ? Float32Array : Float64Array;
    if (!(array instanceof part)) throw invalidType('array', `a ${part.name} of (re, im) parts for ${dtype}`, array);
    if (array.length % 2 !== 0) {
      throw shapeError(`A ${dtype} tensor views (re, im) pairs: needs an even length, got ${array.length}`);
    }
  } else if (info.itemBytes !== array.BYTES_PER_ELEMENT) {
    throw invalidType(
      'options.dtype', `a dtype stored in ${array.BYTES_PER_ELEMENT}-byte elements like ${array.constructor.name}`,
      dtype,
    );
  }
  const shape = options.shape ?? [array.length / parts];
  return new Tensor(dtype, shape, wrapStorage(array.buffer, array.byteOffset, array.byteLength));
}
