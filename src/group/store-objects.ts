/**
 * The object plane of a group whose members live in several processes: objects travel through the job's
 * store (vLLM's StatelessProcessGroup, one per member, in each process's driver) instead of the group's
 * shared-memory queue or tensor collectives. Encoded as the in-process plane encodes them (node:v8,
 * Tensors boxed by value), so an object arrives the same whichever way it went.
 */
import type { ProcessSpanCommunicator } from '../comm/process-span.js';
import type { CallOptions } from '../comm/types.js';
import { decodeObject as decode, encodeObject } from './objects.js';

/** `obj` from member `src` on every member. */
export function broadcastObject<T>(
  side: ProcessSpanCommunicator, obj: T, src: number, o?: CallOptions, name = 'obj',
): T {
  if (side.rankInGroup === src) {
    side.request('broadcast', encodeObject(obj, name), src, o);
    return obj;
  }
  return decode(side.request('broadcast', undefined, src, o).bytes!) as T;
}

/** Every member's `obj`, in group order. */
export function allGatherObject<T>(side: ProcessSpanCommunicator, obj: T, o?: CallOptions): T[] {
  const all = side.request('allGather', encodeObject(obj, 'obj'), undefined, o).all!;
  return all.map((bytes) => decode(bytes) as T);
}

export function sendObject(side: ProcessSpanCommunicator, obj: unknown, dst: number, o?: CallOptions): void {
  side.request('send', encodeObject(obj, 'obj'), dst, o);
}

export function recvObject(side: ProcessSpanCommunicator, src: number, o?: CallOptions): unknown {
  return decode(side.request('recv', undefined, src, o).bytes!);
}
