/**
 * (dtype, op) -> the specialised loop, shared by `reduce` (k inputs through a table) and `reduce2`
 * (two inputs given directly). A "form" class says which loop family runs; the per-dtype functions are
 * generic over it, so each (dtype, form) is one wasm function holding one loop per op and no branch
 * inside a loop. Returns a status code of `abi.ts`.
 */
import {
  DTYPE_BF16, DTYPE_BOOL, DTYPE_C128, DTYPE_C64, DTYPE_F16, DTYPE_F32, DTYPE_F64, DTYPE_I32, DTYPE_I64, DTYPE_I8,
  DTYPE_U8, OP_AVG, OP_BAND, OP_BOR, OP_BXOR, OP_MAX, OP_MIN, OP_PROD, OP_SUM, STATUS_BAD_DTYPE, STATUS_BAD_OP,
  STATUS_OK, STATUS_OP_NOT_ALLOWED,
} from './abi';
import { F32Avg, F32Max, F32Min, F32Prod, F32Sum, F64Avg, F64Max, F64Min, F64Prod, F64Sum } from './ops-float';
import {
  BAnd, BOr, BXor, I32Max, I32Min, I32Prod, I32Sum, I64Max, I64Min, I64Prod, I64Sum, I8Max, I8Min, I8Prod, I8Sum,
  U8Max, U8Min,
} from './ops-int';
import { BF16, F16 } from './half';
import { lanesPair, lanesTable } from './reduce-lanes';
import { halfPair, halfTable } from './reduce-half';

/** k inputs: `x` is the table's byte offset, `y` is k. */
@unmanaged export class TableForm {
  @inline lanes<E, Op>(dst: usize, x: usize, y: usize, n: i32): void { lanesTable<E, Op>(dst, x, <i32>y, n); }
  @inline half<H, Op>(dst: usize, x: usize, y: usize, n: i32): void { halfTable<H, Op>(dst, x, <i32>y, n); }
}

/** Two inputs: `x` and `y` are their byte offsets. */
@unmanaged export class PairForm {
  @inline lanes<E, Op>(dst: usize, x: usize, y: usize, n: i32): void { lanesPair<E, Op>(dst, x, y, n); }
  @inline half<H, Op>(dst: usize, x: usize, y: usize, n: i32): void { halfPair<H, Op>(dst, x, y, n); }
}

/** The status of an op no loop of the dtype runs: a known op the dtype refuses, or an unknown code. */
@inline function refused(op: i32): i32 {
  return op >= OP_SUM && op <= OP_BXOR ? STATUS_OP_NOT_ALLOWED : STATUS_BAD_OP;
}

/** band, bor, bxor on lanes of E (true when `op` is one of them and ran). */
@inline function bitwise<F, E>(f: F, op: i32, dst: usize, x: usize, y: usize, n: i32): bool {
  if (op == OP_BAND) f.lanes<E, BAnd>(dst, x, y, n);
  else if (op == OP_BOR) f.lanes<E, BOr>(dst, x, y, n);
  else if (op == OP_BXOR) f.lanes<E, BXor>(dst, x, y, n);
  else return false;
  return true;
}

function runF32<F>(op: i32, dst: usize, x: usize, y: usize, n: i32): i32 {
  const f = changetype<F>(0);
  if (op == OP_SUM) f.lanes<f32, F32Sum>(dst, x, y, n);
  else if (op == OP_PROD) f.lanes<f32, F32Prod>(dst, x, y, n);
  else if (op == OP_MIN) f.lanes<f32, F32Min>(dst, x, y, n);
  else if (op == OP_MAX) f.lanes<f32, F32Max>(dst, x, y, n);
  else if (op == OP_AVG) f.lanes<f32, F32Avg>(dst, x, y, n);
  else return refused(op);
  return STATUS_OK;
}

function runF64<F>(op: i32, dst: usize, x: usize, y: usize, n: i32): i32 {
  const f = changetype<F>(0);
  if (op == OP_SUM) f.lanes<f64, F64Sum>(dst, x, y, n);
  else if (op == OP_PROD) f.lanes<f64, F64Prod>(dst, x, y, n);
  else if (op == OP_MIN) f.lanes<f64, F64Min>(dst, x, y, n);
  else if (op == OP_MAX) f.lanes<f64, F64Max>(dst, x, y, n);
  else if (op == OP_AVG) f.lanes<f64, F64Avg>(dst, x, y, n);
  else return refused(op);
  return STATUS_OK;
}

function runHalf<F, H>(op: i32, dst: usize, x: usize, y: usize, n: i32): i32 {
  const f = changetype<F>(0);
  if (op == OP_SUM) f.half<H, F32Sum>(dst, x, y, n);
  else if (op == OP_PROD) f.half<H, F32Prod>(dst, x, y, n);
  else if (op == OP_MIN) f.half<H, F32Min>(dst, x, y, n);
  else if (op == OP_MAX) f.half<H, F32Max>(dst, x, y, n);
  else if (op == OP_AVG) f.half<H, F32Avg>(dst, x, y, n);
  else return refused(op);
  return STATUS_OK;
}

/** int8 and uint8: sum, prod and the bitwise ops are the same; only min/max differ (signed vs unsigned). */
function runI8<F, Min, Max>(op: i32, dst: usize, x: usize, y: usize, n: i32): i32 {
  const f = changetype<F>(0);
  if (op == OP_SUM) f.lanes<i8, I8Sum>(dst, x, y, n);
  else if (op == OP_PROD) f.lanes<i8, I8Prod>(dst, x, y, n);
  else if (op == OP_MIN) f.lanes<i8, Min>(dst, x, y, n);
  else if (op == OP_MAX) f.lanes<i8, Max>(dst, x, y, n);
  else if (!bitwise<F, i8>(f, op, dst, x, y, n)) return refused(op);
  return STATUS_OK;
}

function runI32<F>(op: i32, dst: usize, x: usize, y: usize, n: i32): i32 {
  const f = changetype<F>(0);
  if (op == OP_SUM) f.lanes<i32, I32Sum>(dst, x, y, n);
  else if (op == OP_PROD) f.lanes<i32, I32Prod>(dst, x, y, n);
  else if (op == OP_MIN) f.lanes<i32, I32Min>(dst, x, y, n);
  else if (op == OP_MAX) f.lanes<i32, I32Max>(dst, x, y, n);
  else if (!bitwise<F, i32>(f, op, dst, x, y, n)) return refused(op);
  return STATUS_OK;
}

function runI64<F>(op: i32, dst: usize, x: usize, y: usize, n: i32): i32 {
  const f = changetype<F>(0);
  if (op == OP_SUM) f.lanes<i64, I64Sum>(dst, x, y, n);
  else if (op == OP_PROD) f.lanes<i64, I64Prod>(dst, x, y, n);
  else if (op == OP_MIN) f.lanes<i64, I64Min>(dst, x, y, n);
  else if (op == OP_MAX) f.lanes<i64, I64Max>(dst, x, y, n);
  else if (!bitwise<F, i64>(f, op, dst, x, y, n)) return refused(op);
  return STATUS_OK;
}

/**
 * bool (0/1 bytes): sum is or (max) and prod is and (min), as the host maps them (torch NCCL); band, bor
 * and bxor are and, or and xor.
 */
function runBool<F>(op: i32, dst: usize, x: usize, y: usize, n: i32): i32 {
  const f = changetype<F>(0);
  if (op == OP_SUM || op == OP_MAX) f.lanes<u8, U8Max>(dst, x, y, n);
  else if (op == OP_PROD || op == OP_MIN) f.lanes<u8, U8Min>(dst, x, y, n);
  else if (!bitwise<F, u8>(f, op, dst, x, y, n)) return refused(op);
  return STATUS_OK;
}

/**
 * complex64 / complex128: (re, im) pairs stored interleaved, so sum and avg (sum, then both parts / k) are
 * the float loops over 2n parts; prod, min, max and the bitwise ops are refused, as torch refuses them.
 * `2n` fits: the host checks that n elements lie in the memory (at most 4 GiB).
 */
function runComplex<F, Part>(op: i32, dst: usize, x: usize, y: usize, n: i32): i32 {
  if (op != OP_SUM && op != OP_AVG) return refused(op);
  return sizeof<Part>() == 4 ? runF32<F>(op, dst, x, y, n << 1) : runF64<F>(op, dst, x, y, n << 1);
}

/** Runs (dtype, op) in form F; `x`, `y` as the form says. */
@inline export function dispatch<F>(dtype: i32, op: i32, dst: usize, x: usize, y: usize, n: i32): i32 {
  switch (dtype) {
    case DTYPE_F32: return runF32<F>(op, dst, x, y, n);
    case DTYPE_F64: return runF64<F>(op, dst, x, y, n);
    case DTYPE_F16: return runHalf<F, F16>(op, dst, x, y, n);
    case DTYPE_BF16: return runHalf<F, BF16>(op, dst, x, y, n);
    case DTYPE_I8: return runI8<F, I8Min, I8Max>(op, dst, x, y, n);
    case DTYPE_U8: return runI8<F, U8Min, U8Max>(op, dst, x, y, n);
    case DTYPE_I32: return runI32<F>(op, dst, x, y, n);
    case DTYPE_I64: return runI64<F>(op, dst, x, y, n);
    case DTYPE_BOOL: return runBool<F>(op, dst, x, y, n);
    case DTYPE_C64: return runComplex<F, f32>(op, dst, x, y, n);
    case DTYPE_C128: return runComplex<F, f64>(op, dst, x, y, n);
    default: return STATUS_BAD_DTYPE;
  }
}
