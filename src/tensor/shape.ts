/** Shape arithmetic and checks shared by the tensor constructors and ops. */
import { checkInteger, invalidType, outOfRange, shapeError } from '../errors.js';

export type Shape = readonly number[];

/** Validates a shape: an array of non-negative integers. Returns a frozen copy. */
export function checkShape(shape: unknown, name = 'shape'): Shape {
  if (!Array.isArray(shape)) throw invalidType(name, 'an array of non-negative integers', shape);
  const out = new Array<number>(shape.length);
  for (let i = 0; i < shape.length; i++) {
    const size: unknown = shape[i]; // a hole reads as undefined and is refused
    // The test inline: every tensor made checks its shape, and building the name costs more than the test.
    const valid = typeof size === 'number' && Number.isSafeInteger(size) && size >= 0;
    if (!valid) checkInteger(`${name}[${i}]`, size, 0);
    out[i] = size as number;
  }
  return Object.freeze(out);
}

export function numelOf(shape: Shape): number {
  let n = 1;
  for (let i = 0; i < shape.length; i++) n *= shape[i]!;
  return n;
}

/** Row-major strides in elements. */
export function contiguousStrides(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let stride = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = stride;
    stride *= shape[i]!;
  }
  return strides;
}

/** Resolves a possibly negative `dim` against `ndim`, throwing a RangeError naming `name`. */
export function normalizeDim(dim: unknown, ndim: number, name = 'dim'): number {
  checkInteger(name, dim);
  const d = dim as number;
  const lo = ndim === 0 ? -1 : -ndim;
  const hi = ndim === 0 ? 0 : ndim - 1;
  if (d < lo || d > hi) {
    throw outOfRange(`\`${name}\` (${d}) is out of range for a tensor of ${ndim} dimensions (allowed ${lo}..${hi})`);
  }
  return d < 0 ? d + Math.max(ndim, 1) : d;
}

/** Resolves one `-1` in a reshape target against `numel`. */
export function inferShape(shape: readonly number[], numel: number, from: Shape): number[] {
  let inferred = -1;
  let known = 1;
  shape.forEach((size, i) => {
    if (size === -1) {
      if (inferred !== -1) throw shapeError(`\`shape\` may contain only one -1, got [${shape.join(', ')}]`);
      inferred = i;
    } else {
      checkInteger(`shape[${i}]`, size, 0);
      known *= size;
    }
  });
  const out = [...shape];
  if (inferred !== -1) {
    if (known === 0 || numel % known !== 0) {
      throw shapeError(
        `\`shape\` [${shape.join(', ')}] is invalid for a tensor of ${numel} elements (shape [${from.join(', ')}])`,
      );
    }
    out[inferred] = numel / known;
  }
  if (numelOf(out) !== numel) {
    throw shapeError(
      `\`shape\` [${shape.join(', ')}] is invalid for a tensor of ${numel} elements (shape [${from.join(', ')}])`,
    );
  }
  return out;
}

export function sameShape(a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function formatShape(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}
