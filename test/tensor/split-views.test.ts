/**
 * splitTensorAlongLastDim against upstream (torch.split along the last dim, then `.contiguous()` when
 * contiguous_split_chunks): a piece is a view of the input exactly when upstream's piece is contiguous,
 * so writing into it writes into the input; other pieces are copies with the same values. Expected
 * values come from plain nested arrays here.
 */
import test from 'ava';
import { arange, ErrorCodes, splitTensorAlongLastDim, type Tensor } from '../../src/index.js';

/** Upstream's piece p of `parts` along the last dim of a row-major [rows, last] array, as plain numbers. */
function referencePiece(values: number[], last: number, parts: number, p: number): number[] {
  const width = last / parts;
  const out: number[] = [];
  for (let row = 0; row < values.length / last; row++) out.push(...values.slice(row * last + p * width, row * last + (p + 1) * width));
  return out;
}

/** Whether writing into `piece` shows in `parent` (the piece is a view), leaving both as they were. */
function writesThrough(piece: Tensor, parent: Tensor): boolean {
  const before = parent.toArray();
  const old = piece.getFlat(0);
  piece.setFlat(0, -1);
  const changed = parent.toArray().some((v, i) => v !== before[i]);
  piece.setFlat(0, old as number);
  return changed;
}

for (const contiguousSplitChunks of [false, true]) {
  test(`pieces are views exactly where upstream's are contiguous (contiguousSplitChunks ${contiguousSplitChunks})`, (t) => {
    const cases: { shape: number[]; parts: number; views: boolean }[] = [
      { shape: [12], parts: 3, views: true }, // 1-D: every piece is contiguous upstream
      { shape: [1, 1, 10], parts: 5, views: true }, // leading dims of size 1
      { shape: [2, 3, 4], parts: 2, views: false }, // strided upstream: copies here
      { shape: [3, 7], parts: 7, views: false }, // odd sizes, pieces of width 1
      { shape: [2, 3, 4], parts: 1, views: true }, // one part: the whole tensor
      { shape: [0, 6], parts: 3, views: true }, // empty pieces
    ];
    for (const { shape, parts, views } of cases) {
      const numel = shape.reduce((a, b) => a * b, 1);
      const input = arange(numel, { dtype: 'float32' }).view(shape);
      const values = Array.from({ length: numel }, (_, i) => i);
      const pieces = splitTensorAlongLastDim(input, parts, contiguousSplitChunks);
      const last = shape[shape.length - 1]!;
      t.is(pieces.length, parts);
      pieces.forEach((piece, p) => {
        const at = `[${shape.join(', ')}] / ${parts}, piece ${p}`;
        t.deepEqual(piece.shape, [...shape.slice(0, -1), last / parts], at);
        t.deepEqual(piece.toArray(), referencePiece(values, last, parts, p), at);
        t.is(piece.storage === input.storage, views, `${at}: shares the input's storage`);
        if (numel > 0) t.is(writesThrough(piece, input), views, `${at}: a write into the piece reaches the input`);
      });
    }
  });
}

test('a write into a view piece changes the input at the right place; into a copy piece, nothing', (t) => {
  const row = arange(8, { dtype: 'int32' }).view(1, 8);
  splitTensorAlongLastDim(row, 4)[2]!.setFlat(1, 99);
  t.deepEqual(row.toArray(), [0, 1, 2, 3, 4, 99, 6, 7]);
  const grid = arange(8, { dtype: 'int32' }).view(2, 4);
  splitTensorAlongLastDim(grid, 2)[1]!.setFlat(1, 99);
  t.deepEqual(grid.toArray(), [0, 1, 2, 3, 4, 5, 6, 7]);
});

test('contiguousSplitChunks must be a boolean', (t) => {
  t.throws(() => splitTensorAlongLastDim(arange(4), 2, 'yes' as never), {
    code: ErrorCodes.INVALID_ARG_TYPE, message: /`contiguousSplitChunks` to be a boolean, got "yes" \(string\)/,
  });
});
