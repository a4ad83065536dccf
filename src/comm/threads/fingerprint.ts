/**
 * Call fingerprints: before it arrives, every member stores what it is calling (op, dtype, shape,
 * root/peer, reduce op, dims) in its inline buffer's 16-byte header; after arrival each member compares
 * every member's header with its own. When any differs, every member sees it (two members with different
 * headers each see the other's), so all of them write their full fingerprint into their call area, meet,
 * and fail at once with the same message, which lists each rank's call and call site.
 *
 * The header is 4 words: [0, 1] the call's scalar fields as an exact key (`callKey`, split into its low
 * and high 32 bits), so calls that differ in anything but the shape always differ there; [2, 3] two
 * independent hashes of the shape (shape-hash.ts: polynomials modulo 2^31 - 1 at two points drawn at
 * random for each job). Two different shapes of at most n dims (each below 2^30) pass the check with
 * probability at most (n / (2^31 - 1))^2, about 1.4e-17 for 8 dims, whatever shapes rank code chooses: it
 * cannot construct a collision, since it does not know the points (the proof is in shape-hash.ts). A 32-bit
 * FNV hash of the whole call used to sit in one word, and colliding calls were easy to find (rank 0
 * reducing shape [1, 1, 61, 64] against [1, 2, 34, 3, 14] got a mix of new and stale values).
 *
 * The fast path is built to cost close to nothing on a 4-byte allReduce (bench/fingerprint-cost):
 * - the call's scalar fields pack into one small integer key (`callKey`, or `allReduceKey` from codes the
 *   communicator computes anyway), and a repeated call (same key, same frozen shape array) is recognised
 *   with two compares; once both parities' headers hold it, nothing is computed or stored (`HeaderHash`);
 * - on the latency path of allReduce and reduce the wasm kernel compares the headers (`reduceStrided`: one
 *   16-byte load per member, from lines it reads anyway); other calls compare them in JS
 *   (`GroupBlock.sameHeaders`).
 */
import { MismatchError, outOfRange } from '../../errors.js';
import {
  DTYPES, REDUCE_OPS, REDUCE_OP_CODES, dtypeFromCode, dtypeInfo, type DType, type ReduceOp,
} from '../../tensor/dtype.js';
import { OPS, type OpName } from '../../debug/rank-status.js';
import { SLOT, type GroupBlock } from './group-block.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { JobControl } from './job-control.js';
import { shapeHash, shapeHashes } from './shape-hash.js';

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

/** Roots and dims of the wide form are below this (launch caps the world at 4096 ranks). */
const WIDE_FIELD = 8191;

// The key's fields hold an op index below 32 and dtype and reduce-op codes below 15: a table that outgrows
// its field would make two calls share a key, so that is refused when the module loads.
if (OPS.length > 32 || DTYPES.length > 15 || REDUCE_OPS.length > 15) {
  throw new Error(
    `callKey: ${OPS.length} ops, ${DTYPES.length} dtypes or ${REDUCE_OPS.length} reduce ops outgrow its fields`,
  );
}

/**
 * Packs the scalar fields of a call into one exact number (the memo key below, and the first two words of
 * the fingerprint); unused fields are -1. Common calls (root < 510, dims < 14) get a small integer below
 * 2^30 (bit fields of 5, 4, 4, 9, 4 and 4 bits), which V8 keeps unboxed; others get a wide form at or
 * above 2^30 and below 2^53 (op < 32, dtype and reduce op < 15, root and dims < 8191 as mixed-radix
 * digits). Each field tuple has one form and each form is a bijection, so two calls share a key only
 * when they are the same call. A call past those limits (a dim of a tensor of more than 8191 dims)
 * throws a RangeError rather than share a key with another call.
 */
export function callKey(
  opIndex: number, dtypeCode: number, reduceCode: number, root: number, dim: number, dim2: number,
): number {
  if (root < 510 && dim < 14 && dim2 < 14) {
    return (
      (((((opIndex << 4) | (dtypeCode + 1)) << 4 | (reduceCode + 1)) << 9 | (root + 1)) << 4 | (dim + 1)) << 4
    ) | (dim2 + 1);
  }
  if (!(root < WIDE_FIELD && dim < WIDE_FIELD && dim2 < WIDE_FIELD)) {
    const got = `got root ${root}, dims ${dim} and ${dim2}`;
    throw outOfRange(`A collective's root and dims must be below ${WIDE_FIELD}, ${got}`);
  }
  const fields = (opIndex * 16 + dtypeCode + 1) * 16 + reduceCode + 1; // below 2^13
  return WIDE_KEY + (((fields * 8192 + root + 1) * 8192 + dim + 1) * 8192 + dim2 + 1);
}

/**
 * The key of an allReduce, the most frequent small call, from the codes the communicator packs anyway
 * (`requested op << 8 | dtype << 4 | kernel op`, below 2^11): two integer ops instead of callKey's
 * packing. Its keys are negative (below -1), so they never equal a callKey.
 */
export function allReduceKey(reduceCodes: number): number {
  return -2 - reduceCodes;
}

/** The 4 header words of a call: its key's low and high 32 bits, then the shape's hashes at `points`. */
export function fingerprintWords(
  key: number, shape: readonly number[] | undefined, points: readonly [number, number],
): number[] {
  return [key | 0, Math.floor(key / 2 ** 32), shapeHash(shape, points[0]), shapeHash(shape, points[1])];
}

/**
 * Keeps this member's inline headers holding the fingerprint of its current call. Rank code mostly repeats
 * a call with the same (frozen) shape array: once the headers of both parities hold that call's
 * fingerprint, a repeat computes and stores nothing, and the steady state costs two compares.
 * (Recomputing and storing the old one-word hash on every call measured about 2 % of a 4-byte allReduce
 * at 2 ranks: docs/BENCHMARKS.md.)
 */
export class HeaderHash {
  /** The call whose fingerprint both parities' headers hold (-1: none). */
  #key = -1;
  #shape: readonly number[] | undefined;
  /** The call whose fingerprint only the last call's parity holds (-1: none), settled by one more store. */
  #pendingKey = -1;
  #pendingShape: readonly number[] | undefined;
  /** The job's shape-hash points (the same on every rank of the job). */
  readonly #r1: number;
  readonly #r2: number;

  constructor(points: readonly [number, number]) {
    this.#r1 = points[0];
    this.#r2 = points[1];
  }

  /** Whether both parities' headers hold the fingerprint of (key, shape): then `write` has nothing to do. */
  holds(key: number, shape: readonly number[] | undefined): boolean {
    return key === this.#key && shape === this.#shape;
  }

  /** Stores the fingerprint of (key, shape) into this member's header of call `seq`, unless it is there. */
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
    const w = block.words, at = block.inlineHeaderWord(block.rankInGroup, seq);
    // The exact key: its low 32 bits (ToInt32 is exact modulo 2^32), then the rest (callKey < 2^53,
    // allReduceKey > -2^12, so both words fit).
    w[at] = key | 0;
    w[at + 1] = Math.floor(key / 2 ** 32);
    shapeHashes(shape, this.#r1, this.#r2, w, at + 2);
  }
}

/** Writes this member's full fingerprint into its call area (for the mismatch report). */
function writeFingerprint(block: GroupBlock, seq: number, spec: CallSpec): void {
  const w = block.words;
  const base = block.callArea(block.rankInGroup, seq);
  w[base + SLOT.OP] = COLLECTIVE_INDEX[spec.op];
  w[base + SLOT.DTYPE] = spec.tensor !== undefined
    ? spec.tensor.info.code
    : spec.dtype === undefined
    ? NONE
    : dtypeInfo(spec.dtype).code;
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
 * Called on every member once the fast check (`GroupBlock.sameHeaders`, or the kernel's in
 * `reduceStrided`) found a differing header, which every member finds: writes this member's full
 * fingerprint and call site, meets the others, and throws the MismatchError listing every member's call.
 * (Every member throws: if any two members differ, each member differs from one of them. Only shapes
 * that differ past SHAPE_MAX dims, with the same element count, would compare equal here and return.)
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
  if (at(SLOT.REDUCE_OP) !== NONE) {
    parts.push(`op=${REDUCE_OPS.find((o) => REDUCE_OP_CODES[o] === at(SLOT.REDUCE_OP))}`);
  }
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
