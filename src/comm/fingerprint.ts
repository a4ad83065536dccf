/**
 * Call fingerprints: before it arrives, every member stores a 32-bit hash of what it is calling (op,
 * dtype, shape, root/peer, reduce op, dims) in its inline buffer's header; after arrival each member
 * compares every hash with its own. When any differs, every member sees it (two members with different
 * hashes each see the other's), so all of them write their full fingerprint into their call area, meet,
 * and fail at once with the same message, which lists each rank's call and call site. The fast path
 * thus costs one hash and one store per call, and one load per member from a line it reads anyway.
 */
import { MismatchError } from '../errors.js';
import { DTYPES, REDUCE_OPS, dtypeInfo, REDUCE_OP_CODES, type DType, type ReduceOp } from '../tensor/dtype.js';
import { SLOT, type GroupBlock } from './group-block.js';
import type { Tensor } from '../tensor/tensor.js';
import type { JobControl } from './job-control.js';

export const COLLECTIVES = ['allReduce', 'allGather', 'reduceScatter', 'gather', 'broadcast', 'reduce', 'allToAll', 'barrier'] as const;
export type CollectiveName = (typeof COLLECTIVES)[number];

/** What a member calls. Unused fields are -1. */
export interface CallSpec {
  op: CollectiveName;
  /** The input (for the flight recorder's dtype and size). */
  tensor?: Tensor;
  dtype?: DType;
  shape?: readonly number[];
  root?: number;
  reduceOp?: ReduceOp;
  dim?: number;
  dim2?: number;
}

const NONE = -1;
/** Lookup tables (object property reads; no string search on the hot path). */
export const COLLECTIVE_INDEX = Object.fromEntries(COLLECTIVES.map((name, i) => [name, i])) as Record<CollectiveName, number>;
const DTYPE_CODE = Object.fromEntries(DTYPES.map((d) => [d, dtypeInfo(d).code])) as Record<DType, number>;

/**
 * The last hash a communicator computed, and what it was computed from: rank code mostly repeats a call
 * with the same (frozen) shape array, so the hash is reused when the shape is the same object and the
 * other fields match.
 */
export class FingerprintMemo {
  shape: readonly number[] | undefined;
  key = NaN;
  hash = 0;
}

/** Stores the hash of this member's call in its inline header (before it arrives). */
export function writeFingerprintHash(block: GroupBlock, seq: number, spec: CallSpec, opIndex: number, memo: FingerprintMemo): void {
  const dtype = spec.tensor !== undefined ? spec.tensor.info.code : spec.dtype === undefined ? NONE : DTYPE_CODE[spec.dtype];
  const reduce = spec.reduceOp === undefined ? NONE : REDUCE_OP_CODES[spec.reduceOp];
  // Every field but the shape fits in one number: op < 16, dtype < 16, reduce op < 8, dims and root small.
  const key = ((((opIndex * 16 + dtype + 1) * 8 + reduce + 1) * 4096 + (spec.root ?? NONE) + 1) * 64 + (spec.dim ?? NONE) + 1) * 64 + (spec.dim2 ?? NONE) + 1;
  const shape = spec.shape;
  if (shape !== memo.shape || key !== memo.key) {
    let h = Math.imul(0x811c9dc5 ^ opIndex, 0x01000193);
    h = Math.imul(h ^ dtype, 0x01000193);
    h = Math.imul(h ^ (spec.root ?? NONE), 0x01000193);
    h = Math.imul(h ^ reduce, 0x01000193);
    h = Math.imul(h ^ (spec.dim ?? NONE), 0x01000193);
    h = Math.imul(h ^ (spec.dim2 ?? NONE), 0x01000193);
    if (shape === undefined) h = Math.imul(h ^ NONE, 0x01000193);
    else {
      h = Math.imul(h ^ shape.length, 0x01000193);
      for (let d = 0; d < shape.length; d++) h = Math.imul(h ^ shape[d]!, 0x01000193);
    }
    memo.shape = Object.isFrozen(shape) ? shape : undefined;
    memo.key = key;
    memo.hash = h;
  }
  block.words[block.inlineHashWord(block.rankInGroup, seq)] = memo.hash;
}

/** Writes this member's full fingerprint into its call area (for the mismatch report). */
function writeFingerprint(block: GroupBlock, seq: number, spec: CallSpec): void {
  const w = block.words;
  const base = block.callArea(block.rankInGroup, seq);
  w[base + SLOT.OP] = COLLECTIVE_INDEX[spec.op];
  w[base + SLOT.DTYPE] = spec.dtype === undefined ? NONE : DTYPE_CODE[spec.dtype];
  w[base + SLOT.ROOT] = spec.root ?? NONE;
  w[base + SLOT.REDUCE_OP] = spec.reduceOp === undefined ? NONE : REDUCE_OP_CODES[spec.reduceOp];
  w[base + SLOT.DIM] = spec.dim ?? NONE;
  w[base + SLOT.DIM2] = spec.dim2 ?? NONE;
  const shape = spec.shape;
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
 * Throws MismatchError on every member when any member's fingerprint differs from this member's. The
 * fast check compares each member's fingerprint hash, which sits in its inline buffer's header (a line
 * the latency path reads anyway); only a differing hash leads to the full comparison and the report.
 */
export function checkFingerprints(block: GroupBlock, seq: number, job: JobControl, spec: CallSpec): void {
  const w = block.words;
  const hash = w[block.inlineHashWord(block.rankInGroup, seq)];
  let same = true;
  for (let m = 0; m < block.size; m++) if (w[block.inlineHashWord(m, seq)] !== hash) same = false;
  if (same) return;
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
  if (at(SLOT.DTYPE) !== NONE) parts.push(`dtype=${DTYPES.find((d) => dtypeInfo(d).code === at(SLOT.DTYPE))}`);
  if (at(SLOT.NDIM) !== NONE) {
    const dims = Array.from({ length: Math.min(at(SLOT.NDIM), SLOT.SHAPE_MAX) }, (_, d) => at(SLOT.SHAPE + d));
    parts.push(`shape=[${dims.join(', ')}]`);
  }
  if (at(SLOT.REDUCE_OP) !== NONE) parts.push(`op=${REDUCE_OPS.find((o) => REDUCE_OP_CODES[o] === at(SLOT.REDUCE_OP))}`);
  if (at(SLOT.ROOT) !== NONE) parts.push(`root=${at(SLOT.ROOT)}`);
  if (at(SLOT.DIM) !== NONE) parts.push(`dim=${at(SLOT.DIM)}`);
  if (at(SLOT.DIM2) !== NONE) parts.push(`dim2=${at(SLOT.DIM2)}`);
  return `${COLLECTIVES[at(SLOT.OP)] ?? 'unknown'}(${parts.join(', ')})`;
}

function mismatch(block: GroupBlock, seq: number, job: JobControl): MismatchError {
  const calls = block.ranks.map((rank, m) => {
    const site = job.record(rank).mismatchSite();
    return `  rank ${rank} (group rank ${m}): ${describeCall(block, m, seq)}${site === '' ? '' : ` at ${site}`}`;
  });
  return new MismatchError(
    `Collective mismatch in call #${seq} of group [${block.ranks.join(', ')}]: the ranks of the group called different collectives or ` +
      `the same one with different arguments:\n${calls.join('\n')}`,
  );
}
