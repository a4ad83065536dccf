/**
 * Fused k-input reduction loops for dtypes whose accumulator is the element itself (f32, f64 and the
 * integers): `dst[i] = fin(vec(...vec(vec(s0[i], s1[i]), s2[i])..., s_{k-1}[i]))`.
 *
 * One pass over the data: for each 64-byte block the k inputs are loaded in index order and folded in
 * registers, then the block is stored once. All inputs of a block are read before it is written, so dst
 * may be exactly equal to any input (in place); partial overlaps are not supported. Unaligned addresses
 * are fine (v128 loads/stores are unaligned-safe). The tail (under 64 bytes) runs the same vector ops on
 * one splatted element at a time, so a tail element gets the same bits as in the body.
 *
 * `E` is the element type (only its size and load/store width are used), `Op` a class of
 * `ops-float.ts`/`ops-int.ts`. Both functions are inlined into the dispatchers, one copy per (E, Op).
 */

/** Folds the k inputs whose u32 byte offsets are at `table + 4*j` into dst (n elements). */
@inline export function lanesTable<E, Op>(dst: usize, table: usize, k: i32, n: i32): void {
  const op = changetype<Op>(0);
  const nb = (<usize>n) * sizeof<E>();
  const body = nb & ~(<usize>63);
  const end = table + ((<usize>k) << 2);
  const s0 = <usize>load<u32>(table);
  let o: usize = 0;
  for (; o < body; o += 64) {
    let p: usize = s0 + o;
    let a0 = v128.load(p), a1 = v128.load(p, 16), a2 = v128.load(p, 32), a3 = v128.load(p, 48);
    for (let t = table + 4; t < end; t += 4) {
      p = <usize>load<u32>(t) + o;
      a0 = op.vec(a0, v128.load(p));
      a1 = op.vec(a1, v128.load(p, 16));
      a2 = op.vec(a2, v128.load(p, 32));
      a3 = op.vec(a3, v128.load(p, 48));
    }
    const d = dst + o;
    v128.store(d, op.fin(a0, k));
    v128.store(d, op.fin(a1, k), 16);
    v128.store(d, op.fin(a2, k), 32);
    v128.store(d, op.fin(a3, k), 48);
  }
  for (; o < nb; o += sizeof<E>()) {
    let a = v128.load_splat<E>(s0 + o);
    for (let t = table + 4; t < end; t += 4) a = op.vec(a, v128.load_splat<E>(<usize>load<u32>(t) + o));
    v128.store_lane<E>(dst + o, op.fin(a, k), 0);
  }
}

/** `dst[i] = fin(vec(a[i], b[i]))` with k = 2 (n elements); dst may equal a or b. */
@inline export function lanesPair<E, Op>(dst: usize, a: usize, b: usize, n: i32): void {
  const op = changetype<Op>(0);
  const nb = (<usize>n) * sizeof<E>();
  const body = nb & ~(<usize>63);
  let o: usize = 0;
  for (; o < body; o += 64) {
    const pa = a + o, pb = b + o, d = dst + o;
    const r0 = op.vec(v128.load(pa), v128.load(pb));
    const r1 = op.vec(v128.load(pa, 16), v128.load(pb, 16));
    const r2 = op.vec(v128.load(pa, 32), v128.load(pb, 32));
    const r3 = op.vec(v128.load(pa, 48), v128.load(pb, 48));
    v128.store(d, op.fin(r0, 2));
    v128.store(d, op.fin(r1, 2), 16);
    v128.store(d, op.fin(r2, 2), 32);
    v128.store(d, op.fin(r3, 2), 48);
  }
  for (; o < nb; o += sizeof<E>()) {
    const r = op.vec(v128.load_splat<E>(a + o), v128.load_splat<E>(b + o));
    v128.store_lane<E>(dst + o, op.fin(r, 2), 0);
  }
}
