/**
 * The dtype and reduce-op tables. The numeric codes are the wasm kernel ABI (`assembly/abi.ts` has the
 * same numbers); everything else reads names and sizes from here so that a list is written once.
 */
import { dtypeError, invalidChoice } from '../errors.js';

export const DTYPES = ['float32', 'float64', 'float16', 'bfloat16', 'int8', 'uint8', 'int32', 'int64', 'bool'] as const;
export type DType = (typeof DTYPES)[number];

export const REDUCE_OPS = ['sum', 'prod', 'min', 'max', 'avg'] as const;
export type ReduceOp = (typeof REDUCE_OPS)[number];

export interface DTypeInfo {
  readonly name: DType;
  /** Kernel ABI code. */
  readonly code: number;
  readonly itemBytes: number;
  readonly isFloat: boolean;
  /** 16-bit floats: stored as u16 bit patterns, read and written as JS numbers. */
  readonly isHalf: boolean;
}

const table: Record<DType, DTypeInfo> = {
  float32: { name: 'float32', code: 0, itemBytes: 4, isFloat: true, isHalf: false },
  float64: { name: 'float64', code: 1, itemBytes: 8, isFloat: true, isHalf: false },
  float16: { name: 'float16', code: 2, itemBytes: 2, isFloat: true, isHalf: true },
  bfloat16: { name: 'bfloat16', code: 3, itemBytes: 2, isFloat: true, isHalf: true },
  int8: { name: 'int8', code: 4, itemBytes: 1, isFloat: false, isHalf: false },
  uint8: { name: 'uint8', code: 5, itemBytes: 1, isFloat: false, isHalf: false },
  int32: { name: 'int32', code: 6, itemBytes: 4, isFloat: false, isHalf: false },
  int64: { name: 'int64', code: 7, itemBytes: 8, isFloat: false, isHalf: false },
  bool: { name: 'bool', code: 8, itemBytes: 1, isFloat: false, isHalf: false },
};

export const REDUCE_OP_CODES: Record<ReduceOp, number> = { sum: 0, prod: 1, min: 2, max: 3, avg: 4 };

export function isDType(value: unknown): value is DType {
  return typeof value === 'string' && (DTYPES as readonly string[]).includes(value);
}

/** Returns the table row of `value`, or throws a TypeError naming `name` and the allowed dtypes. */
export function dtypeInfo(value: unknown, name = 'dtype'): DTypeInfo {
  if (!isDType(value)) throw invalidChoice(name, DTYPES, value);
  return table[value];
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

export function checkReduceOp(value: unknown, name = 'op'): ReduceOp {
  if (typeof value !== 'string' || !(REDUCE_OPS as readonly string[]).includes(value)) throw invalidChoice(name, REDUCE_OPS, value);
  return value as ReduceOp;
}

/**
 * The op the kernels run for (dtype, op), following torch's ProcessGroupNCCL: on bool, sum is a logical
 * or (max) and prod a logical and (min); avg is refused on bool and on integer dtypes.
 */
export function effectiveReduceOp(dtype: DType, op: ReduceOp): ReduceOp {
  const info = table[dtype];
  if (op === 'avg' && !info.isFloat) {
    throw dtypeError(`Reduce op "avg" is not allowed on dtype ${JSON.stringify(dtype)}: avg needs a floating dtype (float32, float64, float16, bfloat16), as in torch`);
  }
  if (dtype === 'bool') return op === 'sum' ? 'max' : op === 'prod' ? 'min' : op;
  return op;
}

/** The TypedArray a dtype is stored in (16-bit floats as their u16 bit patterns). */
export type StorageArray = Float32Array | Float64Array | Uint16Array | Int8Array | Uint8Array | Int32Array | BigInt64Array;

export function storageView(dtype: DType, buffer: ArrayBufferLike, byteOffset: number, length: number): StorageArray {
  switch (dtype) {
    case 'float32': return new Float32Array(buffer, byteOffset, length);
    case 'float64': return new Float64Array(buffer, byteOffset, length);
    case 'float16':
    case 'bfloat16': return new Uint16Array(buffer, byteOffset, length);
    case 'int8': return new Int8Array(buffer, byteOffset, length);
    case 'uint8':
    case 'bool': return new Uint8Array(buffer, byteOffset, length);
    case 'int32': return new Int32Array(buffer, byteOffset, length);
    case 'int64': return new BigInt64Array(buffer, byteOffset, length);
  }
}
