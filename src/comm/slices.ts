/**
 * How a collective cuts `count` elements among `parts` members: equal blocks rounded up to whole 64-byte
 * lines, so that every block starts on a cache line (no two members write one line, and the kernels'
 * vector loops see aligned blocks); the last blocks may be short or empty.
 */

/** Elements in each block. */
export function blockElements(count: number, itemBytes: number, parts: number): number {
  const align = Math.max(1, 64 / itemBytes);
  return Math.ceil(Math.ceil(count / parts) / align) * align;
}

/** Member `m`'s block [lo, hi) of `count` elements cut among `parts`. */
export function sliceOf(count: number, itemBytes: number, parts: number, m: number): [number, number] {
  const per = blockElements(count, itemBytes, parts);
  return [Math.min(count, m * per), Math.min(count, (m + 1) * per)];
}
