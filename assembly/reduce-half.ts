/**
 * Fused k-input reduction loops for float16 and bfloat16: every input is widened to f32, the fold runs
 * in f32 in input-index order, avg divides the f32 sum by k, and the result is rounded once to 16 bits
 * (nearest even). Since f32 has at least 2p+2 bits for p = 8 and 11, a sum of two rounds correctly.
 *
 * Each v128 of 8 elements is widened in place into two f32x4 (even and odd elements apart, see
 * `half.ts`); all k inputs of a block are folded before the block is stored once, so dst may equal any
 * input. bfloat16 runs 32-byte blocks (two v128 per input), float16 16-byte blocks: its conversions need
 * more registers, and at 32 bytes V8 spills (measured 10-20 % slower). The tail runs the same code on one
 * splatted element and stores lane 0: same bits as the body.
 *
 * `H` is `F16` or `BF16` (half.ts), `Op` an f32 class of `ops-float.ts`.
 */

/** Folds k inputs at one block offset: 16 bytes (one v128 per input), table form. */
@inline function tableBlock16<H, Op>(h: H, op: Op, dst: usize, s0: usize, table: usize, end: usize, k: i32, o: usize): void {
  let x = v128.load(s0 + o);
  let a0 = h.lo(x), a1 = h.hi(x);
  for (let t = table + 4; t < end; t += 4) {
    x = v128.load(<usize>load<u32>(t) + o);
    a0 = op.vec(a0, h.lo(x));
    a1 = op.vec(a1, h.hi(x));
  }
  v128.store(dst + o, h.narrow(op.fin(a0, k), op.fin(a1, k)));
}

/** Folds the k float16/bfloat16 inputs whose u32 byte offsets are at `table + 4*j` into dst. */
@inline export function halfTable<H, Op>(dst: usize, table: usize, k: i32, n: i32): void {
  const h = changetype<H>(0);
  const op = changetype<Op>(0);
  const nb = (<usize>n) << 1;
  const end = table + ((<usize>k) << 2);
  const s0 = <usize>load<u32>(table);
  let o: usize = 0;
  if (h.wide()) {
    for (; o < (nb & ~(<usize>31)); o += 32) {
      let p: usize = s0 + o;
      let x = v128.load(p), y = v128.load(p, 16);
      let a0 = h.lo(x), a1 = h.hi(x), a2 = h.lo(y), a3 = h.hi(y);
      for (let t = table + 4; t < end; t += 4) {
        p = <usize>load<u32>(t) + o;
        x = v128.load(p);
        y = v128.load(p, 16);
        a0 = op.vec(a0, h.lo(x));
        a1 = op.vec(a1, h.hi(x));
        a2 = op.vec(a2, h.lo(y));
        a3 = op.vec(a3, h.hi(y));
      }
      const d = dst + o;
      v128.store(d, h.narrow(op.fin(a0, k), op.fin(a1, k)));
      v128.store(d, h.narrow(op.fin(a2, k), op.fin(a3, k)), 16);
    }
  }
  for (; o < (nb & ~(<usize>15)); o += 16) tableBlock16<H, Op>(h, op, dst, s0, table, end, k, o);
  for (; o < nb; o += 2) {
    let a = h.lo(v128.load_splat<u16>(s0 + o));
    for (let t = table + 4; t < end; t += 4) a = op.vec(a, h.lo(v128.load_splat<u16>(<usize>load<u32>(t) + o)));
    a = op.fin(a, k);
    v128.store_lane<u16>(dst + o, h.narrow(a, a), 0);
  }
}

/** `r = round16(fin(vec(f32(a), f32(b))))` on one v128 of 8 elements of each input. */
@inline function pairVec<H, Op>(h: H, op: Op, xa: v128, xb: v128): v128 {
  return h.narrow(op.fin(op.vec(h.lo(xa), h.lo(xb)), 2), op.fin(op.vec(h.hi(xa), h.hi(xb)), 2));
}

/** `dst[i] = round16(fin(vec(f32(a[i]), f32(b[i]))))` with k = 2; dst may equal a or b. */
@inline export function halfPair<H, Op>(dst: usize, a: usize, b: usize, n: i32): void {
  const h = changetype<H>(0);
  const op = changetype<Op>(0);
  const nb = (<usize>n) << 1;
  let o: usize = 0;
  if (h.wide()) {
    for (; o < (nb & ~(<usize>31)); o += 32) {
      const pa = a + o, pb = b + o;
      const r0 = pairVec<H, Op>(h, op, v128.load(pa), v128.load(pb));
      const r1 = pairVec<H, Op>(h, op, v128.load(pa, 16), v128.load(pb, 16));
      v128.store(dst + o, r0);
      v128.store(dst + o, r1, 16);
    }
  }
  for (; o < (nb & ~(<usize>15)); o += 16) v128.store(dst + o, pairVec<H, Op>(h, op, v128.load(a + o), v128.load(b + o)));
  for (; o < nb; o += 2) {
    const r = op.fin(op.vec(h.lo(v128.load_splat<u16>(a + o)), h.lo(v128.load_splat<u16>(b + o))), 2);
    v128.store_lane<u16>(dst + o, h.narrow(r, r), 0);
  }
}
