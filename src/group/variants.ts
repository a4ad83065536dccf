/**
 * The collectives torch and vLLM have beyond the even ones: uneven sizes (allGatherV, reduceScatterV,
 * allToAll with split sizes, the list form of allToAll), scatter, coalesced lists, and batched point to
 * point. They are built from the even collectives and point to point, so every backend has them; split
 * sizes are exchanged first and checked on every member, so that members that disagree all fail at once
 * with each member's sizes in the message.
 */
import { MismatchError, invalidType, outOfRange, shapeError } from '../errors.js';
import { dtypeInfo, type ReduceOp } from '../tensor/dtype.js';
import { formatShape, normalizeDim } from '../tensor/shape.js';
import { tensor } from '../tensor/factory.js';
import { cat, split } from '../tensor/ops.js';
import { empty, Tensor } from '../tensor/tensor.js';
import { checkTensor, reduceOpFor } from './args.js';
import { checkTag, GroupPointToPoint } from './p2p.js';
import { allGatherObject } from './objects.js';
import { CompletedWork, type Work } from './work.js';

/** One operation of `batchIsendIrecv` (torch's P2POp): `irecv` fills `tensor`. */
export interface P2POp {
  readonly op: 'isend' | 'irecv';
  readonly tensor: Tensor;
  /** Group rank of the peer. */
  readonly peer: number;
  /** Matched as `send` / `recv` match it (default 0). */
  readonly tag?: number;
}

function checkSizes(name: string, sizes: unknown, length: number): number[] {
  if (!Array.isArray(sizes) || sizes.length !== length) {
    throw invalidType(name, `an array of ${length} sizes (one per member)`, sizes);
  }
  sizes.forEach((s: unknown, i) => {
    if (typeof s !== 'number' || !Number.isInteger(s) || s < 0) {
      throw outOfRange(`\`${name}[${i}]\` (${String(s)}) must be a whole number >= 0`);
    }
  });
  return sizes as number[];
}

/** `t` with dim `dim` grown to `size` (zeros after its own elements). */
function padTo(t: Tensor, dim: number, size: number): Tensor {
  const have = t.shape[dim]!;
  if (have === size) return t;
  const shape = [...t.shape];
  shape[dim] = size - have;
  return cat([t, empty(shape, { dtype: t.dtype }).fill(0)], dim);
}

export class GroupVariants extends GroupPointToPoint {
  /**
   * Every member's sizes (`mine`, `length` numbers each), after checking that they agree as `agree` says;
   * otherwise every member throws the same MismatchError with each member's sizes.
   */
  #exchangeSizes(op: string, mine: readonly number[], agree: (all: number[][]) => boolean): number[][] {
    const flat = this.allGather(tensor([...mine], { dtype: 'int64' }), { dim: 0 }).toArray() as bigint[];
    const all = Array.from(
      { length: this.worldSize }, (_, m) => flat.slice(m * mine.length, (m + 1) * mine.length).map(Number),
    );
    if (!agree(all)) {
      const lines = all.map((sizes, m) => `  rank ${this.ranks[m]} (group rank ${m}): [${sizes.join(', ')}]`);
      throw new MismatchError(
        `${op} on group ${this.groupName}: the members' split sizes disagree:\n${lines.join('\n')}`,
      );
    }
    return all;
  }

  /** Every member's `t` joined along `dim`, where member m's has `sizes[m]` along it (vLLM's all_gatherv). */
  allGatherV(t: Tensor, options: { sizes: readonly number[]; dim?: number; timeoutMs?: number }): Tensor {
    this.input(t);
    const dim = normalizeDim(options.dim ?? 0, t.ndim, 'options.dim');
    const sizes = checkSizes('options.sizes', options.sizes, this.worldSize);
    if (t.shape[dim] !== sizes[this.rankInGroup]) {
      throw shapeError(
        `allGatherV: dim ${dim} of the input (shape ${formatShape(t.shape)}) must be sizes[${this.rankInGroup}] = ` +
          `${sizes[this.rankInGroup]}`,
      );
    }
    if (this.worldSize === 1) return t;
    this.#exchangeSizes('allGatherV', sizes, (all) => all.every((s) => s.every((v, i) => v === sizes[i])));
    const most = Math.max(...sizes);
    const gathered = split(this.allGather(padTo(t, dim, most), { dim, timeoutMs: options.timeoutMs }), most, dim);
    return cat(gathered.map((part, m) => part.narrow(dim, 0, sizes[m]!)), dim);
  }

  /** This member's part of the reduction, where member m's part has `sizes[m]` along `dim` (reduce_scatterv). */
  reduceScatterV(
    t: Tensor, options: { sizes: readonly number[]; dim?: number; op?: ReduceOp; timeoutMs?: number },
  ): Tensor {
    this.input(t);
    const op = reduceOpFor(t, options.op);
    const dim = normalizeDim(options.dim ?? 0, t.ndim, 'options.dim');
    const sizes = checkSizes('options.sizes', options.sizes, this.worldSize);
    const total = sizes.reduce((a, b) => a + b, 0);
    if (t.shape[dim] !== total) {
      throw shapeError(
        `reduceScatterV: dim ${dim} of the input (shape ${formatShape(t.shape)}) must be the sum of sizes, ${total}`,
      );
    }
    if (this.worldSize === 1) return t;
    this.#exchangeSizes('reduceScatterV', sizes, (all) => all.every((s) => s.every((v, i) => v === sizes[i])));
    const start = sizes.slice(0, this.rankInGroup).reduce((a, b) => a + b, 0);
    return this.allReduce(t, { op, timeoutMs: options.timeoutMs }).narrow(dim, start, sizes[this.rankInGroup]!);
  }

  /**
   * torch's all_to_all_single with split sizes: rows [sum(in[0..j)), +in[j]) of `t` (dim 0) go to member
   * j; what member r sends here is joined in member order. `outputSplitSizes`, when given, must be what
   * the members send here.
   */
  allToAllSingle(
    t: Tensor,
    options: { inputSplitSizes: readonly number[]; outputSplitSizes?: readonly number[]; timeoutMs?: number },
  ): Tensor {
    this.input(t);
    if (t.ndim === 0) throw shapeError('allToAllSingle needs a tensor with at least one dim');
    const w = this.worldSize, me = this.rankInGroup;
    const input = checkSizes('options.inputSplitSizes', options.inputSplitSizes, w);
    const output = options.outputSplitSizes === undefined
      ? undefined
      : checkSizes('options.outputSplitSizes', options.outputSplitSizes, w);
    const sent = input.reduce((a, b) => a + b, 0);
    if (t.shape[0] !== sent) {
      throw shapeError(
        `allToAllSingle: dim 0 of the input (shape ${formatShape(t.shape)}) must be the sum of inputSplitSizes, ` +
          `${sent}`,
      );
    }
    if (w === 1) return t;
    // Each member's input sizes, then its output sizes (-1 when it gave none).
    const all = this.#exchangeSizes('allToAllSingle', [...input, ...(output ?? input.map(() => -1))], (rows) =>
      rows.every((row, r) => row.slice(w).every((v, j) => v === -1 || v === rows[j]![r])),
    );
    const most = Math.max(...all.flatMap((row) => row.slice(0, w)));
    const parts = split(t, input, 0).map((part) => padTo(part, 0, most));
    const exchanged = split(
      this.allToAll(cat(parts, 0), { scatterDim: 0, gatherDim: 0, timeoutMs: options.timeoutMs }), most, 0,
    );
    return cat(exchanged.map((part, r) => part.narrow(0, 0, all[r]![me]!)), 0);
  }

  /**
   * torch's all_to_all on lists: `tensors[j]` goes to member j (any shapes and dtypes); returns what each member sent
   * here.
   */
  allToAllList(tensors: readonly Tensor[], options: { timeoutMs?: number } = {}): Tensor[] {
    this.live();
    if (!Array.isArray(tensors) || tensors.length !== this.worldSize) {
      throw invalidType('tensors', `an array of ${this.worldSize} tensors (one per member)`, tensors);
    }
    tensors.forEach((t, j) => checkTensor(`tensors[${j}]`, t));
    const me = this.rankInGroup;
    const metas = allGatherObject(this, tensors.map((t) => ({ dtype: t.dtype, shape: [...t.shape] })));
    for (let j = 0; j < this.worldSize; j++) {
      if (j !== me) this.send(tensors[j]!, { dst: j, timeoutMs: options.timeoutMs });
    }
    return metas.map((meta, r) => {
      const { dtype, shape } = meta[me]!;
      return r === me ? tensors[me]!.clone() : this.recv(shape, dtype, { src: r, timeoutMs: options.timeoutMs });
    });
  }

  /** torch's scatter: `chunks[j]` of member `src` lands in member j's `out` (shape and dtype of `out`). */
  scatter(out: Tensor, options: { src?: number; chunks?: readonly Tensor[]; timeoutMs?: number } = {}): Tensor {
    this.input(out);
    const src = this.member('options.src', options.src ?? 0);
    const chunks = this.rankInGroup === src ? options.chunks : undefined;
    if (this.rankInGroup === src) {
      if (!Array.isArray(chunks) || chunks.length !== this.worldSize) {
        throw invalidType('options.chunks', `an array of ${this.worldSize} tensors on the source member`, chunks);
      }
      chunks.forEach((c: Tensor, j) => {
        checkTensor(`options.chunks[${j}]`, c);
        if (c.dtype !== out.dtype || c.numel !== out.numel) {
          throw shapeError(
            `\`options.chunks[${j}]\` (${c.dtype} ${formatShape(c.shape)}) must be ${out.dtype} ` +
              `${formatShape(out.shape)} like \`out\``,
          );
        }
      });
    }
    this.agreeOn({ op: 'scatter', dtype: out.dtype, shape: out.shape, root: src });
    if (this.rankInGroup !== src) return this.recv(out.shape, out.dtype, { src, out, timeoutMs: options.timeoutMs });
    chunks!.forEach((c, j) => {
      if (j !== src) this.send(c.reshape(...out.shape), { dst: j, timeoutMs: options.timeoutMs });
    });
    return out.copyFrom(chunks![src]!.reshape(...out.shape));
  }

  /** Every tensor of `tensors` all-reduced (any shapes and dtypes): one reduction per dtype in the list. */
  allReduceCoalesced(tensors: readonly Tensor[], options: { op?: ReduceOp; timeoutMs?: number } = {}): Tensor[] {
    return this.#coalesced('allReduceCoalesced', tensors,
      (flat) => this.allReduce(flat, { op: reduceOpFor(flat, options.op), timeoutMs: options.timeoutMs }),
      (result, t, at) => result.narrow(0, at, t.numel).reshape(...t.shape));
  }

  /** Every tensor of `tensors` all-gathered along dim 0: one gather per dtype in the list. */
  allGatherCoalesced(tensors: readonly Tensor[], options: { timeoutMs?: number } = {}): Tensor[] {
    return this.#coalesced('allGatherCoalesced', tensors,
      (flat) => this.allGather(flat, { dim: 0, timeoutMs: options.timeoutMs }),
      (result, t, at, total) => {
        const parts = Array.from(
          { length: this.worldSize },
          (_, m) => result.narrow(0, m * total + at, t.numel).reshape(...(t.ndim === 0 ? [1] : t.shape)),
        );
        return cat(parts, 0);
      });
  }

  /**
   * The members agree on the list (count, and each tensor's dtype and size), then each dtype's tensors
   * travel as one flat buffer through `run`; `take` cuts tensor `t` (at element `at` of its dtype's
   * buffer of `total` elements) out of the result.
   */
  #coalesced(
    op: 'allReduceCoalesced' | 'allGatherCoalesced', tensors: readonly Tensor[], run: (flat: Tensor) => Tensor,
    take: (result: Tensor, t: Tensor, at: number, total: number) => Tensor,
  ): Tensor[] {
    this.live();
    if (!Array.isArray(tensors)) throw invalidType('tensors', 'an array of tensors', tensors);
    tensors.forEach((t, i) => checkTensor(`tensors[${i}]`, t));
    this.agreeOn({ op, shape: [tensors.length, ...tensors.flatMap((t) => [dtypeInfo(t.dtype).code, t.numel])] });
    const out: Tensor[] = new Array<Tensor>(tensors.length);
    for (const dtype of new Set(tensors.map((t) => t.dtype))) {
      const members = tensors.map((t, i) => [t, i] as const).filter(([t]) => t.dtype === dtype);
      const total = members.reduce((a, [t]) => a + t.numel, 0);
      const result = run(cat(members.map(([t]) => t.reshape(t.numel)), 0));
      let at = 0;
      for (const [t, i] of members) {
        out[i] = take(result, t, at, total);
        at += t.numel;
      }
    }
    return out;
  }

  /**
   * torch's batch_isend_irecv: posts every isend, then queues every irecv (which fills its tensor);
   * returns their Works in the order given.
   */
  batchIsendIrecv(ops: readonly P2POp[]): Work<unknown>[] {
    this.live();
    if (!Array.isArray(ops)) throw invalidType('ops', 'an array of { op, tensor, peer }', ops);
    ops.forEach((o: P2POp, i) => {
      if (typeof o !== 'object' || o === null || (o.op !== 'isend' && o.op !== 'irecv')) {
        throw invalidType(`ops[${i}].op`, '"isend" or "irecv"', (o as { op?: unknown } | null)?.op);
      }
      checkTensor(`ops[${i}].tensor`, o.tensor);
      this.member(`ops[${i}].peer`, o.peer);
      checkTag(`ops[${i}].tag`, o.tag);
    });
    const works: Work<unknown>[] = new Array<Work<unknown>>(ops.length);
    ops.forEach((o, i) => {
      if (o.op === 'isend') works[i] = this.isend(o.tensor, { dst: o.peer, tag: o.tag });
    });
    ops.forEach((o, i) => {
      if (o.op !== 'irecv') return;
      works[i] = this.irecv(o.tensor.shape, o.tensor.dtype, { src: o.peer, out: o.tensor, tag: o.tag });
    });
    return works.map((w) => w ?? new CompletedWork(undefined));
  }
}
