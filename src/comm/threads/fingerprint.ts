/**
 * Call fingerprints: before it arrives, every member stores a 32-bit hash of what it is calling (op,
 * dtype, shape, root/peer, reduce op, dims) in its inline buffer's header; after arrival each member
 * compares every hash with its own. When any differs, every member sees it (two members with different
 * hashes each see the other's), so all of them write their full fingerprint into their call area, meet,
 * and fail at once with the same message, which lists each rank's call and call site.
 *
 * The fast path is built to cost close to nothing on a 4-byte allReduce (bench/fingerprint-cost):
 * - the call's scalar fields pack into one small integer key (`callKey`, or `allReduceKey` from codes the
 *   communicator computes anyway), and a repeated call (same key, same frozen shape array) is recognised
 *   with two compares; once both parities' headers hold its hash, nothing is stored (`HeaderHash`);
 * - on the latency path of allReduce and reduce the wasm kernel compares the hashes (`reduceStrided`),
 *   a few loads from lines it reads anyway; other calls compare them in JS (`GroupBlock.sameHashes`).
 */
import { MismatchError } from '../../errors.js';
import { REDUCE_OPS, REDUCE_OP_CODES, dtypeFromCode, dtypeInfo, type DType, type ReduceOp } from '../../tensor/dtype.js';
import { OPS, type OpName } from '../../debug/rank-status.js';
import { SLOT, type GroupBlock } from './group-block.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { JobControl } from './job-control.js';

/** What a member calls (absent fields are reported as -1). */
export interface CallSpec {
  op: OpName;
  /** The input: its dtype and shape are part of the fingerprint (absent for barrier and `agree`). */
  tensor?: Tensor;
  /** Without a tensor: the dtype and shape that are part of the call (`agree`). */
  dtype?: DType | undefined;
  shape?: readonly number[] | undefined;
  root?: number | undefined;
  reduceOp?: ReduceOp | undefined;
  dim?: number | undefined;
  dim2?: number | undefined;
}

const NONE = -1;
/**
 * Op codes as the flight recorder numbers them (`OPS`, which also has send, recv and createGroup), so that
 * one code serves the fingerprint and the recorder. A lookup table: no string search on the hot path.
 */
export const COLLECTIVE_INDEX = Object.fromEntries(OPS.map((name, i) => [name, i])) as Record<OpName, number>;

/** Keys at or above this are the wide form (callKey); below it, the small integer form. */
const WIDE_KEY = 0x40000000;

/**
 * Packs the scalar fields of a call into one exact number (the memo key below); unused fields are -1.
 * Common calls (root < 1022, dims < 14) get a small integer below 2^30, which V8 keeps unboxed; others get
 * a wide form at or above 2^30 (op < 16, dtype < 15, reduce op < 15, root < 65535, dims < 127).
 */
export function callKey(opIndex: number, dtypeCode: number, reduceCode: number, root: number, dim: number, dim2: number): number {
  if (root < 1022 && dim < 14 && dim2 < 14) return ((((((opIndex << 4) | (dtypeCode + 1)) << 4) | (reduceCode + 1)) << 10 | (root + 1)) << 4 | (dim + 1)) << 4 | (dim2 + 1);
  return WIDE_KEY + ((((opIndex * 16 + dtypeCode + 1) * 16 + reduceCode + 1) * 65536 + root + 1) * 128 + dim + 1) * 128 + dim2 + 1;
}

/**
 * The key of an allReduce, the most frequent small call, from the codes the communicator packs anyway
 * (`requested op << 8 | dtype << 4 | kernel op`, below 2^11): two integer ops instead of callKey's
 * packing. Its keys are negative (below -1), so they never equal a callKey.
 */
export function allReduceKey(reduceCodes: number): number {
  return -2 - reduceCodes;
}

/** The 32-bit FNV-1a-style hash of a call's key and shape. */
export function fingerprintHash(key: number, shape: readonly number[] | undefined): number {
  let h = Math.imul(0x811c9dc5 ^ (key % WIDE_KEY), 0x01000193);
  h = Math.imul(h ^ Math.floor(key / WIDE_KEY), 0x01000193);
  if (shape === undefined) return Math.imul(h ^ NONE, 0x01000193);
  h = Math.imul(h ^ shape.length, 0x01000193);
  for (let d = 0; d < shape.length; d++) h = Math.imul(h ^ shape[d]!, 0x01000193);
  return h;
}

/**
 * Keeps this member's inline headers holding the hash of its current call. Rank code mostly repeats a
 * call with the same (frozen) shape array: once the headers of both parities hold that call's hash, a
 * repeat stores nothing, and the steady state costs two compares. (Recomputing and storing the hash on
 * every call measured about 2 % of a 4-byte allReduce at 2 ranks: docs/BENCHMARKS.md.)
 */
export class HeaderHash {
  /** The call whose hash both parities' headers hold (-1: none). */
  #key = -1;
  #shape: readonly number[] | undefined;
  /** The call whose hash only the last call's parity holds (-1: none), settled by one more store. */
  #pendingKey = -1;
  #pendingShape: readonly number[] | undefined;

  /** Whether both parities' headers hold the hash of (key, shape): then `write` has nothing to do. */
  holds(key: number, shape: readonly number[] | undefined): boolean {
    return key === this.#key && shape === this.#shape;
  }

  /** Stores the hash of (key, shape) into this member's header of call `seq`, unless it is there already. */
  write(block: GroupBlock, seq: number, key: number, shape: readonly number[] | undefined): void {
    if (this.holds(key, shape)) return;
    // Only a frozen shape can be recognised by identity next time (an unfrozen one may change in place).
    const frozen = shape === undefined || Object.isFrozen(shape);
    if (frozen && key === this.#pendingKey && shape === this.#pendingShape) {
      this.#key = key;
      this.#shape = shape;
      this.#pendingKey = -1;
    } else {
      this.#key = -1;
      this.#pendingKey = frozen ? key : -1;
      this.#pendingShape = shape;
    }
    block.words[block.inlineHashWord(block.rankInGroup, seq)] = fingerprintHash(key, shape);
  }
}

/** Writes this member's full fingerprint into its call area (for the mismatch report). */
function writeFingerprint(block: GroupBlock, seq: number, spec: CallSpec): void {
  const w = block.words;
  const base = block.callArea(block.rankInGroup, seq);
  w[base + SLOT.OP] = COLLECTIVE_INDEX[spec.op];
  w[base + SLOT.DTYPE] = spec.tensor !== undefined ? spec.tensor.info.code : spec.dtype === undefined ? NONE : dtypeInfo(spec.dtype).code;
  w[base + SLOT.ROOT] = spec.root ?? NONE;
  w[base + SLOT.REDUCE_OP] = spec.reduceOp === undefined ? NONE : REDUCE_OP_CODES[spec.reduceOp];
  w[base + SLOT.DIM] = spec.dim ?? NONE;
  w[base + SLOT.DIM2] = spec.dim2 ?? NONE;
  const shape = spec.tensor === undefined ? spec.shape : spec.tensor.shape;
  const ndim = shape === undefined ? NONE : shape.length;
  w[base + SLOT.NDIM] = ndim;
  let numel = 1;
  for (let d = 0; d < ndim && d < SLOT.SHAPE_MAX; d++) {
    w[base + SLOT.SHAPE + d] = shape![d]!;
    numel *= shape![d]!;
  }
  w[base + SLOT.NUMEL] = shape === undefined ? NONE : numel;
}

const COMPARED = [SLOT.OP, SLOT.DTYPE, SLOT.ROOT, SLOT.REDUCE_OP, SLOT.DIM, SLOT.DIM2, SLOT.NDIM, SLOT.NUMEL] as const;

/**
 * Called on every member once the fast check (`GroupBlock.sameHashes`, or the kernel's in
 * `reduceStrided`) found a differing hash, which every member finds: writes this member's full fingerprint and call site, meets the others, and throws the
 * MismatchError listing every member's call. (Every member throws: if any two members differ, each member
 * differs from one of them. Only shapes that differ past SHAPE_MAX dims, with the same element count,
 * would compare equal here and return.)
 */
export function reportMismatch(block: GroupBlock, seq: number, job: JobControl, spec: CallSpec): void {
  writeFingerprint(block, seq, spec);
  block.gatherCallSites(); // every member wrote its fingerprint and call site
  compareFingerprints(block, seq, job);
}

function compareFingerprints(block: GroupBlock, seq: number, job: JobControl): void {
  const w = block.words;
  const mine = block.callArea(block.rankInGroup, seq);
  for (let m = 0; m < block.size; m++) {
    if (m === block.rankInGroup) continue;
    const theirs = block.callArea(m, seq);
    let same = true;
    for (let f = 0; f < COMPARED.length; f++) if (w[mine + COMPARED[f]!] !== w[theirs + COMPARED[f]!]) same = false;
    const ndim = Math.min(w[mine + SLOT.NDIM]!, SLOT.SHAPE_MAX);
    for (let d = 0; same && d < ndim; d++) if (w[mine + SLOT.SHAPE + d] !== w[theirs + SLOT.SHAPE + d]) same = false;
    if (!same) throw mismatch(block, seq, job);
  }
}

/** Describes member `m`'s call from its slot, e.g. `allReduce(dtype=float32, shape=[4], op=sum)`. */
export function describeCall(block: GroupBlock, m: number, seq: number): string {
  const w = block.words;
  const at = (field: number): number => w[block.callArea(m, seq) + field]!;
  const parts: string[] = [];
  if (at(SLOT.DTYPE) !== NONE) parts.push(`dtype=${dtypeFromCode(at(SLOT.DTYPE))}`);
  if (at(SLOT.NDIM) !== NONE) {
    const dims = Array.from({ length: Math.min(at(SLOT.NDIM), SLOT.SHAPE_MAX) }, (_, d) => at(SLOT.SHAPE + d));
    parts.push(`shape=[${dims.join(', ')}]`);
  }
  if (at(SLOT.REDUCE_OP) !== NONE) parts.push(`op=${REDUCE_OPS.find((o) => REDUCE_OP_CODES[o] === at(SLOT.REDUCE_OP))}`);
  if (at(SLOT.ROOT) !== NONE) parts.push(`root=${at(SLOT.ROOT)}`);
  if (at(SLOT.DIM) !== NONE) parts.push(`dim=${at(SLOT.DIM)}`);
  if (at(SLOT.DIM2) !== NONE) parts.push(`dim2=${at(SLOT.DIM2)}`);
  return `${OPS[at(SLOT.OP)] ?? 'unknown'}(${parts.join(', ')})`;
}

function mismatch(block: GroupBlock, seq: number, job: JobControl): MismatchError {
  const calls = block.ranks.map((rank, m) => {
    const site = job.record(rank).mismatchSite();
    return `  rank ${rank} (group rank ${m}): ${describeCall(block, m, seq)}${site === '' ? '' : ` at ${site}`}`;
  });
  return new MismatchError(
    `Collective mismatch in call #${seq} of group ${block.label}: the ranks of the group called different ` +
      `collectives or the same one with different arguments:\n${calls.join('\n')}`,
  );
}
