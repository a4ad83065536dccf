/**
 * The object plane of a group (vLLM's broadcast_object / send_object / ..., which run on its CPU group):
 * objects become bytes with node:v8 serialization (the structured-clone algorithm: Maps, typed arrays,
 * bigints, Dates and cycles survive), and travel as uint8 tensors through the group's collectives.
 * Tensor dicts send their metadata as an object and each tensor with the tensor collectives.
 */
import { deserialize, serialize } from 'node:v8';
import { invalidType, notSerializable } from '../errors.js';
import { boxTensors, unboxTensors } from './tensor-box.js';
import { fromTypedArray, tensor } from '../tensor/factory.js';
import { empty, Tensor } from '../tensor/tensor.js';
import type { DType, StorageArray } from '../tensor/dtype.js';
import type { GroupPointToPoint } from './p2p.js';

/** What the object plane needs of a group: its tensor collectives and point to point. */
type GroupCoordinator = Pick<
  GroupPointToPoint, 'worldSize' | 'rankInGroup' | 'allGather' | 'gather' | 'broadcast' | 'send' | 'recv'
>;

/**
 * Throws NOT_SERIALIZABLE (naming `name`) unless `obj` can travel: the root of a queue broadcast checks
 * before its members agree on the call, so that a value it cannot send fails on it alone, as before.
 */
export function checkSerializable(obj: unknown, name = 'obj'): void {
  encodeObject(obj, name);
}

/** `obj` (Tensors boxed) as v8 bytes; `name` is the caller's argument, for the error when it cannot be. */
export function encodeObject(obj: unknown, name = 'obj'): Buffer {
  try {
    return serialize(boxTensors(obj));
  } catch (error) {
    throw notSerializable(name, obj, error);
  }
}

/** `obj` as v8 bytes in a uint8 tensor. */
function toBytes(obj: unknown, name = 'obj'): Tensor {
  const bytes = encodeObject(obj, name);
  return fromTypedArray(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), { dtype: 'uint8' });
}

/** The object `encodeObject` made `bytes` of (Tensors unboxed). */
export function decodeObject(bytes: Uint8Array): unknown {
  return unboxTensors(deserialize(bytes));
}

function fromBytes(t: Tensor): unknown {
  return decodeObject(t.bytes());
}

/** `obj` from member `src` on every member. */
export function broadcastObject<T>(group: GroupCoordinator, obj: T, src: number, name = 'obj'): T {
  if (group.worldSize === 1) return obj;
  const mine = group.rankInGroup === src ? toBytes(obj, name) : undefined;
  const size = group.broadcast(tensor([mine?.numel ?? 0], { dtype: 'int32' }), { src });
  const length = size.getFlat(0) as number;
  const bytes = group.broadcast(mine ?? empty([length], { dtype: 'uint8' }), { src });
  return group.rankInGroup === src ? obj : (fromBytes(bytes) as T);
}

/** Every member's `obj`, in group order. */
export function allGatherObject<T>(group: GroupCoordinator, obj: T): T[] {
  if (group.worldSize === 1) return [obj];
  const mine = toBytes(obj);
  const sizes = group.allGather(tensor([mine.numel], { dtype: 'int32' }), { dim: 0 }).toArray() as number[];
  const longest = Math.max(...sizes);
  const padded = empty([longest], { dtype: 'uint8' });
  padded.bytes().set(mine.bytes());
  const all = group.allGather(padded, { dim: 0 });
  return sizes.map((size, m) => unboxTensors(deserialize(all.bytes().subarray(m * longest, m * longest + size))) as T);
}

/** Sends `obj` to member `dst`. */
export function sendObject(group: GroupCoordinator, obj: unknown, dst: number): void {
  const bytes = toBytes(obj);
  group.send(tensor([bytes.numel], { dtype: 'int32' }), { dst });
  group.send(bytes, { dst });
}

/** Receives an object from member `src`. */
export function recvObject(group: GroupCoordinator, src: number): unknown {
  const length = group.recv([1], 'int32', { src }).getFlat(0) as number;
  return fromBytes(group.recv([length], 'uint8', { src }));
}

/** A tensor's metadata, sent ahead of its bytes. */
interface TensorMeta {
  readonly tensor: { dtype: DType; shape: number[] };
}

type TensorDict = Record<string, unknown>;

function splitDict(dict: TensorDict): { meta: Record<string, unknown>; tensors: [string, Tensor][] } {
  if (typeof dict !== 'object' || dict === null) {
    throw invalidType('tensorDict', 'an object of tensors and values', dict);
  }
  const meta: Record<string, unknown> = {};
  const tensors: [string, Tensor][] = [];
  for (const [key, value] of Object.entries(dict)) {
    if (value instanceof Tensor) {
      value.storage.assertLive(`tensorDict.${key}`); // before the metadata goes out, not between its parts
      meta[key] = { tensor: { dtype: value.dtype, shape: [...value.shape] } } satisfies TensorMeta;
      tensors.push([key, value]);
    } else {
      meta[key] = { value };
    }
  }
  return { meta, tensors };
}

function isTensorMeta(entry: unknown): entry is TensorMeta {
  return typeof entry === 'object' && entry !== null && 'tensor' in entry;
}

/** vLLM's broadcast_tensor_dict: metadata as an object, then each tensor broadcast (in key order). */
export function broadcastTensorDict(group: GroupCoordinator, dict: TensorDict | undefined, src: number): TensorDict {
  if (group.worldSize === 1) return dict ?? {};
  const isSrc = group.rankInGroup === src;
  const split = isSrc ? splitDict(dict!) : undefined;
  const meta = broadcastObject(group, split?.meta, src) as Record<string, unknown>;
  if (isSrc) {
    for (const [, t] of split!.tensors) group.broadcast(t, { src });
    return dict!;
  }
  const out: TensorDict = {};
  for (const [key, entry] of Object.entries(meta)) {
    if (isTensorMeta(entry)) {
      out[key] = group.broadcast(empty(entry.tensor.shape, { dtype: entry.tensor.dtype }), { src });
    } else out[key] = (entry as { value: unknown }).value;
  }
  return out;
}

/**
 * vLLM's send_tensor_dict: with `allGatherGroup`, a tensor whose size divides by that group's size is sent
 * only as this rank's slice; the receiver all-gathers the slices in its own allGatherGroup.
 */
export function sendTensorDict(
  group: GroupCoordinator, dict: TensorDict, dst: number, allGatherGroup?: GroupCoordinator,
): void {
  const { meta, tensors } = splitDict(dict);
  sendObject(group, meta, dst);
  const parts = allGatherGroup?.worldSize ?? 1;
  for (const [, t] of tensors) {
    if (t.numel === 0) continue;
    if (parts > 1 && t.numel % parts === 0) {
      group.send(t.reshape(parts, -1).narrow(0, allGatherGroup!.rankInGroup, 1), { dst });
    } else group.send(t, { dst });
  }
}

/** vLLM's recv_tensor_dict (the inverse of sendTensorDict, with the same `allGatherGroup`). */
export function recvTensorDict(group: GroupCoordinator, src: number, allGatherGroup?: GroupCoordinator): TensorDict {
  const meta = recvObject(group, src) as Record<string, unknown>;
  const parts = allGatherGroup?.worldSize ?? 1;
  const out: TensorDict = {};
  for (const [key, entry] of Object.entries(meta)) {
    if (!isTensorMeta(entry)) {
      out[key] = (entry as { value: unknown }).value;
      continue;
    }
    const { dtype, shape } = entry.tensor;
    const numel = shape.reduce((a, b) => a * b, 1);
    if (numel === 0) out[key] = empty(shape, { dtype });
    else if (parts > 1 && numel % parts === 0) {
      const slice = group.recv([1, numel / parts], dtype, { src });
      out[key] = allGatherGroup!.allGather(slice, { dim: 0 }).reshape(shape);
    } else out[key] = group.recv(shape, dtype, { src });
  }
  return out;
}

/** A tensor dict as plain data for a queue: tensors become { dtype, shape, data } with their raw array. */
export type PackedTensorDict = Record<
  string, { tensor: { dtype: DType; shape: number[]; data: StorageArray } } | { value: unknown }
>;

export function packTensorDict(dict: TensorDict): PackedTensorDict {
  if (typeof dict !== 'object' || dict === null) {
    throw invalidType('tensorDict', 'an object of tensors and values', dict);
  }
  const out: PackedTensorDict = {};
  for (const [key, value] of Object.entries(dict)) {
    out[key] = value instanceof Tensor
      ? { tensor: { dtype: value.dtype, shape: [...value.shape], data: value.data } }
      : { value };
  }
  return out;
}

export function unpackTensorDict(packed: PackedTensorDict): TensorDict {
  const out: TensorDict = {};
  for (const [key, entry] of Object.entries(packed)) {
    out[key] = 'tensor' in entry
      ? fromTypedArray(entry.tensor.data, { dtype: entry.tensor.dtype, shape: entry.tensor.shape })
      : entry.value;
  }
  return out;
}

/** Every member's `obj` in group order on member `dst`; null elsewhere (torch's gather_object). */
export function gatherObject<T>(group: GroupCoordinator, obj: T, dst: number): T[] | null {
  if (group.worldSize === 1) return [obj];
  const mine = toBytes(obj);
  const sizes = group.allGather(tensor([mine.numel], { dtype: 'int32' }), { dim: 0 }).toArray() as number[];
  const longest = Math.max(...sizes);
  const padded = empty([longest], { dtype: 'uint8' }).fill(0);
  padded.bytes().set(mine.bytes());
  const all = group.gather(padded, { dst, dim: 0 });
  if (all === null) return null;
  return sizes.map((size, m) => unboxTensors(deserialize(all.bytes().subarray(m * longest, m * longest + size))) as T);
}
