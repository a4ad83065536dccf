/**
 * The dtype and reduce-op tables. The numeric codes are the wasm kernel ABI (`assembly/abi.ts` has the
 * same numbers); everything else reads names and sizes from here so that a list is written once.
 */
import { dtypeError, invalidChoice } from '../errors.js';

export const DTYPES = [
  'float32', 'float64', 'float16', 'bfloat16', 'int8', 'uint8', 'int32', 'int64', 'bool',
  'complex64', 'complex128',
] as const;
export type DType = (typeof DTYPES)[number];

/** torch's ReduceOp.SUM, PRODUCT, MIN, MAX, AVG, BAND, BOR, BXOR. */
export const REDUCE_OPS = ['sum', 'prod', 'min', 'max', 'avg', 'band', 'bor', 'bxor'] as const;
export type ReduceOp = (typeof REDUCE_OPS)[number];

export interface DTypeInfo {
  readonly name: DType;
  /** Kernel ABI code. */
  readonly code: number;
  readonly itemBytes: number;
  /** A real floating dtype (torch's `is_floating_point`: false for complex). */
  readonly isFloat: boolean;
  /** 16-bit floats: stored as u16 bit patterns, read and written as JS numbers. */
  readonly isHalf: boolean;
  /** complex64 / complex128: an element is a (re, im) pair of float32 / float64, stored interleaved. */
  readonly isComplex: boolean;
}

type Kind = 'float' | 'half' | 'int' | 'complex';
const row = (name: DType, code: number, itemBytes: number, kind: Kind): DTypeInfo => ({
  name, code, itemBytes,
  isFloat: kind === 'float' || kind === 'half', isHalf: kind === 'half', isComplex: kind === 'complex',
});

const table: Record<DType, DTypeInfo> = {
  float32: row('float32', 0, 4, 'float'),
  float64: row('float64', 1, 8, 'float'),
  float16: row('float16', 2, 2, 'half'),
  bfloat16: row('bfloat16', 3, 2, 'half'),
  int8: row('int8', 4, 1, 'int'),
  uint8: row('uint8', 5, 1, 'int'),
  int32: row('int32', 6, 4, 'int'),
  int64: row('int64', 7, 8, 'int'),
  bool: row('bool', 8, 1, 'int'),
  complex64: row('complex64', 9, 8, 'complex'),
  complex128: row('complex128', 10, 16, 'complex'),
};

export const REDUCE_OP_CODES: Record<ReduceOp, number> = {
  sum: 0, prod: 1, min: 2, max: 3, avg: 4, band: 5, bor: 6, bxor: 7,
};

/** The rows by name, for lookups (a Map: `table[value]` would also find `toString` and the like). */
const BY_NAME: ReadonlyMap<string, DTypeInfo> = new Map(DTYPES.map((d) => [d, table[d]]));

export function isDType(value: unknown): value is DType {
  return typeof value === 'string' && BY_NAME.has(value);
}

/** Returns the table row of `value`, or throws a TypeError naming `name` and the allowed dtypes. */
export function dtypeInfo(value: unknown, name = 'dtype'): DTypeInfo {
  const info = typeof value === 'string' ? BY_NAME.get(value) : undefined;
  if (info === undefined) throw invalidChoice(name, DTYPES, value);
  return info;
}

const BY_CODE: readonly DType[] = (() => {
  const byCode: DType[] = [];
  for (const d of DTYPES) byCode[table[d].code] = d;
  return byCode;
})();

/** The dtype whose kernel code (`dtypeInfo(d).code`) is `code`, or undefined for an unknown code. */
export function dtypeFromCode(code: number): DType | undefined {
  return BY_CODE[code];
}

const REDUCE_OP_NAMES: ReadonlySet<string> = new Set(REDUCE_OPS);

export function checkReduceOp(value: unknown, name = 'op'): ReduceOp {
  if (typeof value !== 'string' || !REDUCE_OP_NAMES.has(value)) {
    throw invalidChoice(name, REDUCE_OPS, value);
  }
  return value as ReduceOp;
}

const listed = (keep: (info: DTypeInfo) => boolean): string =>
  DTYPES.filter((d) => keep(table[d])).join(', ');
const AVG_DTYPES = listed((i) => i.isFloat || i.isComplex);
const BITWISE_DTYPES = listed((i) => !i.isFloat && !i.isComplex);

/**
 * Why `op` is refused on `dtype`, as torch refuses it, or undefined when it is allowed: avg needs a
 * floating or complex dtype; band/bor/bxor need an integer or bool dtype; complex dtypes take only sum
 * and avg (torch refuses prod, min, max and the bitwise ops on complex tensors).
 */
export function reduceOpRefusal(dtype: DType, op: ReduceOp): string | undefined {
  if (op === 'sum') return undefined; // every dtype sums (the common case: no table lookup)
  const info = table[dtype];
  if (info.isComplex) {
    if (op === 'avg') return undefined;
    return 'complex dtypes (complex64, complex128) take only sum and avg, as in torch';
  }
  if (op === 'avg' && !info.isFloat) {
    return `avg needs a floating or complex dtype (${AVG_DTYPES}), as in torch`;
  }
  if ((op === 'band' || op === 'bor' || op === 'bxor') && info.isFloat) {
    return `bitwise ops (band, bor, bxor) need an integer or bool dtype (${BITWISE_DTYPES}), as in torch`;
  }
  return undefined;
}

/** The reduce ops `dtype` allows, in REDUCE_OPS order. */
export function reduceOpsFor(dtype: DType): ReduceOp[] {
  return REDUCE_OPS.filter((op) => reduceOpRefusal(dtype, op) === undefined);
}

/**
 * The op the kernels run for (dtype, op), following torch's ProcessGroupNCCL: on bool, sum is a logical
 * or (max) and prod a logical and (min); band, bor and bxor on bool are and, or and xor of 0/1 bytes.
 * @throws TypeError `ERR_MULTIRANK_DTYPE` naming the op and the dtype where `reduceOpRefusal` refuses it.
 */
export function effectiveReduceOp(dtype: DType, op: ReduceOp): ReduceOp {
  const refusal = reduceOpRefusal(dtype, op);
  if (refusal !== undefined) {
    const what = `Reduce op ${JSON.stringify(op)} is not allowed on dtype ${JSON.stringify(dtype)}`;
    throw dtypeError(`${what}: ${refusal}`);
  }
  if (dtype === 'bool') return op === 'sum' ? 'max' : op === 'prod' ? 'min' : op;
  return op;
}

/**
 * The TypedArray a dtype is stored in (16-bit floats as their u16 bit patterns; complex64 / complex128 as
 * a Float32Array / Float64Array of 2 entries per element, real part first).
 */
export type StorageArray = Float32Array | Float64Array | Uint16Array | Int8Array | Uint8Array | Int32Array |
  BigInt64Array;

/** The storage array of `length` elements of `dtype` at `byteOffset` (complex: 2 * length entries). */
export function storageView(dtype: DType, buffer: ArrayBufferLike, byteOffset: number, length: number): StorageArray {
  switch (dtype) {
    case 'float32': return new Float32Array(buffer, byteOffset, length);
    case 'float64': return new Float64Array(buffer, byteOffset, length);
    case 'complex64': return new Float32Array(buffer, byteOffset, 2 * length);
    case 'complex128': return new Float64Array(buffer, byteOffset, 2 * length);
    case 'float16':
    case 'bfloat16': return new Uint16Array(buffer, byteOffset, length);
    case 'int8': return new Int8Array(buffer, byteOffset, length);
    case 'uint8':
    case 'bool': return new Uint8Array(buffer, byteOffset, length);
    case 'int32': return new Int32Array(buffer, byteOffset, length);
    case 'int64': return new BigInt64Array(buffer, byteOffset, length);
  }
}
