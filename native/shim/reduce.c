/*
 * Element types and the reduction fold of the shim. Semantics (the project's plain-JS reference):
 * - a left fold over the inputs in rank order; avg is the sum, then one division by the count;
 * - float32 folds in float32, float64 in float64; float16 and bfloat16 fold in float32 and are rounded
 *   once to 16 bits (nearest even, overflow to infinity, NaN to a quiet NaN);
 * - min / max propagate NaN and order -0 below +0 (as JavaScript's Math.min / Math.max);
 * - integers wrap (two's complement); avg on integers divides with truncation.
 * Built with -ffp-contract=off, so no multiply-add is fused.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "engine.h"

size_t shim_type_size(int type) {
  static const size_t sizes[T_COUNT] = { 1, 1, 2, 2, 4, 4, 8, 8, 2, 2, 4, 8, 1, 1 };
  return type >= 0 && type < T_COUNT ? sizes[type] : 0;
}

int shim_type_reducible(int type) {
  return type >= 0 && type < T_F8E4M3;
}

static __thread char last_error[512];

int shim_fail(int status, const char *format, ...) {
  va_list args;
  va_start(args, format);
  vsnprintf(last_error, sizeof last_error, format, args);
  va_end(args);
  return status;
}

const char *shim_last_error(void) {
  return last_error;
}

static float f32_of_bits(uint32_t bits) {
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

static uint32_t bits_of_f32(float f) {
  uint32_t bits;
  memcpy(&bits, &f, 4);
  return bits;
}

static float f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16, exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
  if (exponent == 0x1f) return f32_of_bits(sign | 0x7f800000 | (mantissa << 13));
  if (exponent != 0) return f32_of_bits(sign | ((exponent + 112) << 23) | (mantissa << 13));
  float value = (float)mantissa * 0x1p-24f; /* exact: at most 10 significant bits */
  return sign ? -value : value;
}

/* float32 -> binary16, round to nearest even; NaN -> quiet NaN. */
static uint16_t f32_to_f16(float f) {
  uint32_t bits = bits_of_f32(f);
  uint16_t sign = (uint16_t)((bits >> 16) & 0x8000);
  uint32_t a = bits & 0x7fffffff;
  if (a > 0x7f800000) return 0x7e00;
  if (a >= 0x477ff000) return sign | 0x7c00; /* >= 65520: rounds to infinity */
  if (a < 0x38800000) {                      /* below 2^-14: subnormal, in units of 2^-24 */
    float scaled = f32_of_bits(a) * 0x1p24f; /* exact: a power-of-two scaling */
    float whole = floorf(scaled), rest = scaled - whole;
    uint32_t m = (uint32_t)whole;
    if (rest > 0.5f || (rest == 0.5f && (m & 1))) m++;
    return sign | (uint16_t)m;
  }
  uint32_t exponent = (a >> 23) - 112, mantissa = a & 0x7fffff;
  uint32_t half = (exponent << 10) | (mantissa >> 13), rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (half & 1))) half++; /* a carry moves into the exponent */
  return sign | (uint16_t)half;
}

static float bf16_to_f32(uint16_t h) {
  return f32_of_bits((uint32_t)h << 16);
}

static uint16_t f32_to_bf16(float f) {
  uint32_t bits = bits_of_f32(f);
  if ((bits & 0x7fffffff) > 0x7f800000) return 0x7fc0;
  return (uint16_t)((bits + 0x7fff + ((bits >> 16) & 1)) >> 16);
}

static double js_max(double a, double b) {
  if (a != a) return a;
  if (b != b) return b;
  if (a == b) return signbit(a) ? b : a;
  return a > b ? a : b;
}

static double js_min(double a, double b) {
  if (a != a) return a;
  if (b != b) return b;
  if (a == b) return signbit(a) ? a : b;
  return a < b ? a : b;
}

static float js_maxf(float a, float b) {
  if (a != a) return a;
  if (b != b) return b;
  if (a == b) return signbit(a) ? b : a;
  return a > b ? a : b;
}

static float js_minf(float a, float b) {
  if (a != a) return a;
  if (b != b) return b;
  if (a == b) return signbit(a) ? a : b;
  return a < b ? a : b;
}

/* One fold loop per (type, op), with `acc` and `x` named in COMBINE and `acc` in FINISH. */
#define FOLD(T, ACC, LOAD, STORE, COMBINE, FINISH)                       \
  do {                                                                   \
    T *o = (T *)out;                                                     \
    for (size_t i = begin; i < end; i++) {                               \
      ACC acc = LOAD(((const T *)in[0])[i]);                             \
      for (int j = 1; j < k; j++) {                                      \
        ACC x = LOAD(((const T *)in[j])[i]);                             \
        acc = COMBINE;                                                   \
      }                                                                  \
      o[i] = STORE(FINISH);                                              \
    }                                                                    \
  } while (0)

#define ID(v) (v)

#define FLOAT_OPS(T, ACC, LOAD, STORE, MAXF, MINF)                                              \
  switch (op) {                                                                                 \
  case OP_SUM: FOLD(T, ACC, LOAD, STORE, acc + x, acc); break;                                  \
  case OP_PROD: FOLD(T, ACC, LOAD, STORE, acc * x, acc); break;                                 \
  case OP_MAX: FOLD(T, ACC, LOAD, STORE, MAXF(acc, x), acc); break;                             \
  case OP_MIN: FOLD(T, ACC, LOAD, STORE, MINF(acc, x), acc); break;                             \
  default: { const ACC n = (ACC)k; FOLD(T, ACC, LOAD, STORE, acc + x, acc / n); break; }       \
  }

/* Integers: sums and products in an unsigned type at least as wide (U), so that they wrap. */
#define INT_OPS(T, U)                                                                           \
  switch (op) {                                                                                 \
  case OP_SUM: FOLD(T, T, ID, ID, (T)((U)acc + (U)x), acc); break;                              \
  case OP_PROD: FOLD(T, T, ID, ID, (T)((U)acc * (U)x), acc); break;                             \
  case OP_MAX: FOLD(T, T, ID, ID, x > acc ? x : acc, acc); break;                               \
  case OP_MIN: FOLD(T, T, ID, ID, x < acc ? x : acc, acc); break;                               \
  default: { const T n = (T)k; FOLD(T, T, ID, ID, (T)((U)acc + (U)x), (T)(acc / n)); break; }   \
  }

void shim_reduce(int type, int op, void *out, const void *const *in, int k, size_t begin, size_t end) {
  switch (type) {
  case T_I8: INT_OPS(int8_t, uint32_t) break;
  case T_U8: INT_OPS(uint8_t, uint32_t) break;
  case T_I16: INT_OPS(int16_t, uint32_t) break;
  case T_U16: INT_OPS(uint16_t, uint32_t) break;
  case T_I32: INT_OPS(int32_t, uint32_t) break;
  case T_U32: INT_OPS(uint32_t, uint32_t) break;
  case T_I64: INT_OPS(int64_t, uint64_t) break;
  case T_U64: INT_OPS(uint64_t, uint64_t) break;
  case T_F32: FLOAT_OPS(float, float, ID, ID, js_maxf, js_minf) break;
  case T_F64: FLOAT_OPS(double, double, ID, ID, js_max, js_min) break;
  case T_F16: FLOAT_OPS(uint16_t, float, f16_to_f32, f32_to_f16, js_maxf, js_minf) break;
  case T_BF16: FLOAT_OPS(uint16_t, float, bf16_to_f32, f32_to_bf16, js_maxf, js_minf) break;
  default: break;
  }
}
