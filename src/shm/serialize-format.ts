/**
 * The byte format of `DefaultCodec` (serialize.ts describes it): sizes, the fast format's tags, and the
 * table of typed-array types both of its paths write by index.
 */
import { invalidType } from '../errors.js';

/** Typed arrays of at least this many bytes travel out of band (one copy per side). */
export const OUT_OF_BAND_MIN_BYTES = 1024;
/** Nesting deeper than this (or a cycle) takes the v8 path. */
export const DEPTH_MAX = 64;
/** First byte of `main`: which format follows. */
export const FORMAT_FAST = 0x46;
export const FORMAT_V8 = 0x56;

type ViewCtor = {
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): ArrayBufferView; BYTES_PER_ELEMENT?: number;
};
const VIEW_TYPES: readonly ViewCtor[] = [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array,
  Uint32Array, Float32Array, Float64Array, BigInt64Array, BigUint64Array, DataView, Buffer as unknown as ViewCtor];
export const VIEW_INDEX = new Map<unknown, number>(VIEW_TYPES.map((ctor, i) => [ctor, i]));
const BUFFER_TYPE = VIEW_TYPES.length - 1;

export const T_UNDEFINED = 0, T_NULL = 1, T_FALSE = 2, T_TRUE = 3, T_INT32 = 4, T_FLOAT64 = 5, T_BIGINT64 = 6;
export const T_BIGINT_TEXT = 7, T_STRING = 8, T_ARRAY = 9, T_OBJECT = 10, T_VIEW_INLINE = 11, T_VIEW_OOB = 12;
/** Strings up to this many chars are written and read by a plain loop (cheaper than TextEncoder/Decoder). */
export const SHORT_STRING_CHARS = 32;
/** Thrown inside the fast writer when a value needs the v8 path. */
export const FALLBACK = Symbol('fallback');
export const encoder = new TextEncoder();
export const decoder = new TextDecoder();

/** A fresh Uint8Array over its own ArrayBuffer (the destination of an out-of-band array). */
export function allocateBuffer(byteLength: number): Uint8Array {
  return new Uint8Array(new ArrayBuffer(byteLength));
}

/** Builds a view of type index `type` over `bytes`, which it owns. */
export function makeView(type: number, bytes: Uint8Array): ArrayBufferView {
  const ctor = VIEW_TYPES[type];
  if (ctor === undefined) throw invalidType('message', 'a message written by DefaultCodec (unknown array type)', type);
  if (type === BUFFER_TYPE) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return new ctor(bytes.buffer, bytes.byteOffset, bytes.byteLength / (ctor.BYTES_PER_ELEMENT ?? 1));
}

export function viewType(view: ArrayBufferView): number {
  const type = VIEW_INDEX.get(view.constructor);
  if (type === undefined) throw FALLBACK;
  return type;
}
