/**
 * Megatron's `generate_masked_orthogonal_rank_groups`, ported from NVIDIA/Megatron-LM
 * `megatron/core/parallel_state.py` at main d98e8a64ddf3 (2026-08-22).
 *
 * A global rank is a mixed-radix number over the parallel sizes, first size fastest:
 *
 *   rank = i0 + s0 * (i1 + s1 * (i2 + ...))        stride of dim k = s0 * ... * s(k-1)
 *
 * `mask[k]` marks the dims that vary inside one group. Group `g` fixes the unmasked dims to the
 * mixed-radix digits of `g` (first unmasked dim fastest); member `m` takes the masked dims from the
 * digits of `m` (first masked dim fastest). Groups and members come out in that enumeration order.
 */
import { checkSize, conflict, product, showList } from './validate.js';
import { invalidType } from '../errors.js';

/** `[1, a0, a0*a1, ...]` (length `a.length + 1`), upstream's `prefix_product`. */
function prefixProduct(a: readonly number[]): number[] {
  const out = [1];
  let acc = 1;
  for (const v of a) {
    acc *= v;
    out.push(acc);
  }
  return out;
}

/**
 * Digits of `index` in the mixed radix `shape` (first digit fastest). Upstream asserts that the digits
 * give `index` back, which fails when `index >= product(shape)`.
 */
function decompose(index: number, shape: readonly number[], what: () => string): number[] {
  const stride = prefixProduct(shape);
  const idx = shape.map((s, k) => Math.floor(index / stride[k]!) % s);
  let back = 0;
  for (let k = 0; k < idx.length; k++) back += idx[k]! * stride[k]!;
  if (back !== index) throw conflict(what());
  return idx;
}

function dot(a: readonly number[], b: readonly number[]): number {
  let s = 0;
  for (let k = 0; k < a.length; k++) s += a[k]! * b[k]!;
  return s;
}

/**
 * The groups of the parallel kind selected by `mask` over `parallelSize` (order-string order, first
 * fastest). `floor(worldSize / groupSize)` groups are produced.
 *
 * @throws TypeError `ERR_MULTIRANK_INVALID_ARG_TYPE` for a non-integer size or a non-boolean mask entry.
 * @throws RangeError `ERR_MULTIRANK_OUT_OF_RANGE` when `parallelSize` and `mask` differ in length, or
 *   when `worldSize` exceeds the product of `parallelSize` (upstream's decompose assertion).
 */
export function generateMaskedOrthogonalRankGroups(
  worldSize: number,
  parallelSize: readonly number[],
  mask: readonly boolean[],
): number[][] {
  checkSize('worldSize', worldSize);
  if (!Array.isArray(parallelSize)) throw invalidType('parallelSize', 'an array of positive integers', parallelSize);
  if (!Array.isArray(mask)) throw invalidType('mask', 'an array of booleans', mask);
  parallelSize.forEach((s, i) => checkSize(`parallelSize[${i}]`, s));
  mask.forEach((m, i) => {
    if (typeof m !== 'boolean') throw invalidType(`mask[${i}]`, 'a boolean', m);
  });
  if (mask.length !== parallelSize.length) {
    throw conflict(
      `\`mask\` has ${mask.length} entries but \`parallelSize\` has ${parallelSize.length}: ` +
        'each parallel dimension needs exactly one mask entry',
    );
  }
  const globalStride = prefixProduct(parallelSize);
  const maskedShape = parallelSize.filter((_, k) => mask[k]);
  const unmaskedShape = parallelSize.filter((_, k) => !mask[k]);
  const maskedStride = globalStride.slice(0, mask.length).filter((_, k) => mask[k]);
  const unmaskedStride = globalStride.slice(0, mask.length).filter((_, k) => !mask[k]);
  const groupSize = product(maskedShape);
  const groupCount = Math.floor(worldSize / groupSize);
  const overflow = (g: number) => () =>
    `worldSize (${worldSize}) is larger than the product of parallelSize ${showList(parallelSize)} ` +
    `(${product(parallelSize)}): group ${g} of ${groupCount} (groups of ${groupSize}) has no coordinates`;
  // Member offsets are the same for every group: compute them once.
  const memberOffsets: number[] = [];
  for (let m = 0; m < groupSize; m++) {
    memberOffsets.push(dot(decompose(m, maskedShape, overflow(m)), maskedStride));
  }
  const groups: number[][] = [];
  for (let g = 0; g < groupCount; g++) {
    const base = dot(decompose(g, unmaskedShape, overflow(g)), unmaskedStride);
    groups.push(memberOffsets.map((o) => o + base));
  }
  return groups;
}
