/**
 * The `mpi` backend's point-to-point messages between processes: one MPI message per `send`, a header
 * (magic, the user's tag, dtype code, ndim, dims) then the tensor's bytes, so that `recv` checks what the
 * sender sent before it takes the bytes; and the MPI tag of each (sender, receiver) pair of a group, so
 * that every pair has its own ordered stream. The user's tag travels in the header, not in the MPI tag
 * (the pair's tags use up MPI's tag space): the receiver matches it (mpi.ts).
 */
import { MismatchError } from '../errors.js';
import { dtypeFromCode, dtypeInfo, type DType } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';

const HEADER_WORDS = 16;
const HEADER_BYTES = 4 * HEADER_WORDS;
const HEADER_MAGIC = 0x4d504932;
const W_MAGIC = 0, W_TAG = 1, W_DTYPE = 2, W_NDIM = 3, W_DIMS = 4;
const NDIM_MAX = HEADER_WORDS - W_DIMS;
/** Point-to-point tags are P2P_TAG_BASE + src x size + dst (group ranks). */
const P2P_TAG_BASE = 1;

/** The tag of messages from group rank `src` to `dst` in a group of `size`. */
export function p2pTag(src: number, dst: number, size: number): number {
  return P2P_TAG_BASE + src * size + dst;
}

/** The largest tag a group of `size` members uses. */
export function largestTag(size: number): number {
  return P2P_TAG_BASE + size * size;
}

/** The most members a group can have when every tag must stay below `tagLimit`. */
export function largestGroup(tagLimit: number): number {
  let size = 1;
  while (largestTag(size + 1) < tagLimit) size++;
  return size;
}

/** `t` sent with `tag`, as one message (a private copy: MPI may read it after `send` returned). */
export function encodeMessage(t: Tensor, tag = 0): Uint8Array {
  if (t.ndim > NDIM_MAX) {
    throw new RangeError(`The "mpi" backend sends tensors of up to ${NDIM_MAX} dims, got ${t.ndim}`);
  }
  const message = new Uint8Array(HEADER_BYTES + t.byteLength);
  const header = new Int32Array(message.buffer, 0, HEADER_WORDS);
  header.set([HEADER_MAGIC, tag, dtypeInfo(t.dtype).code, t.ndim, ...t.shape]);
  message.set(t.bytes(), HEADER_BYTES);
  return message;
}

/** The tag `message` was sent with (-1 for what is not a message of this format: it matches no receive). */
export function messageTag(message: Uint8Array): number {
  if (message.length < HEADER_BYTES) return -1;
  const header = new Int32Array(message.buffer, message.byteOffset, W_DIMS);
  return header[W_MAGIC] === HEADER_MAGIC ? header[W_TAG]! : -1;
}

/**
 * The tensor bytes of `message`, when its sender sent `dtype` of `shape`.
 * @throws MismatchError, after `where()` (built only then), naming what was expected and what group rank
 * `src` sent.
 */
export function messageBytes(
  message: Uint8Array, shape: readonly number[], dtype: DType, src: number, where: () => string,
): Uint8Array {
  const header = new Int32Array(message.buffer, message.byteOffset, Math.min(HEADER_WORDS, message.length >> 2));
  const theirs = Array.from(header.subarray(W_DIMS, W_DIMS + (header[W_NDIM] ?? 0)));
  const theirDtype = dtypeFromCode(header[W_DTYPE] ?? -1);
  const same = header[W_MAGIC] === HEADER_MAGIC && theirDtype === dtype && theirs.length === shape.length &&
    theirs.every((s, i) => s === shape[i]);
  if (!same) {
    throw new MismatchError(`${where()}: expected ${dtype} [${shape.join(', ')}], ` +
      `group rank ${src} sent ${theirDtype ?? `dtype code ${header[W_DTYPE]}`} [${theirs.join(', ')}]`);
  }
  return message.subarray(HEADER_BYTES);
}
