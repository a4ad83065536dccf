/**
 * The object codec of the MessageQueue: a value becomes one `main` byte string plus out-of-band byte
 * ranges (the bodies of large typed arrays), as pickle protocol 5 does for vLLM. The queue copies the
 * out-of-band ranges straight from the caller's arrays into the ring and from the ring into fresh
 * buffers that the decoded arrays then own, so a large array is copied once on each side.
 *
 * `DefaultCodec` writes plain data (undefined, null, booleans, numbers, bigints, strings, arrays, plain
 * objects, typed arrays, DataView, Buffer) in a small tagged format that costs well under a microsecond
 * for a small object, and falls back to `node:v8` serialization (the structured-clone algorithm, with the
 * same out-of-band arrays) for everything else: Map, Set, Date, RegExp, Error, ArrayBuffer, class
 * instances, cycles, nesting deeper than DEPTH_MAX. The fast format copies values, not identities: an
 * object reachable twice arrives as two equal objects, and array holes arrive as `undefined`.
 *
 * Hook for custom codecs (tensors by reference): implement `ObjectCodec`, e.g. map tensors to small
 * descriptors and hand the rest to a `DefaultCodec`.
 *
 * Fast format (little-endian): byte 0 = FORMAT_FAST, then one value:
 *   tag u8, then  Int32: i32 | Float64: f64 | BigInt64: i64 | BigIntText, String: u32 length + UTF-8 |
 *   Array: u32 count + values | Object: u32 count + (string key, value)* |
 *   ViewInline: u8 type + u32 byteLength + bytes | ViewOutOfBand: u8 type + u32 buffer index
 */
import v8 from 'node:v8';
import { invalidType } from '../errors.js';

/** Typed arrays of at least this many bytes travel out of band (one copy per side). */
export const OUT_OF_BAND_MIN_BYTES = 1024;
/** Nesting deeper than this (or a cycle) takes the v8 path. */
export const DEPTH_MAX = 64;
/** First byte of `main`: which format follows. */
export const FORMAT_FAST = 0x46;
export const FORMAT_V8 = 0x56;

/** A value in bytes: `main` (may be the codec's scratch, valid until its next `encode`) and out-of-band ranges. */
export interface EncodedMessage {
  readonly main: Uint8Array;
  readonly buffers: readonly Uint8Array[];
}

/** Turns values into bytes and back. One instance per queue handle (it may keep scratch space). */
export interface ObjectCodec {
  encode(value: unknown): EncodedMessage;
  /**
   * `main` is valid only during the call (copy what you keep). Each of `buffers` is either a fresh
   * Uint8Array over its own ArrayBuffer at offset 0, which the decoded value may keep, or (for
   * `QueueReader.dequeueWith`) a 16-byte-aligned view of the ring that the decoded value may wrap.
   */
  decode(main: Uint8Array, buffers: readonly Uint8Array[]): unknown;
}

type ViewCtor = { new (buffer: ArrayBufferLike, byteOffset: number, length: number): ArrayBufferView; BYTES_PER_ELEMENT?: number };
const VIEW_TYPES: readonly ViewCtor[] = [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array,
  Uint32Array, Float32Array, Float64Array, BigInt64Array, BigUint64Array, DataView, Buffer as unknown as ViewCtor];
const VIEW_INDEX = new Map<unknown, number>(VIEW_TYPES.map((ctor, i) => [ctor, i]));
const BUFFER_TYPE = VIEW_TYPES.length - 1;

const T_UNDEFINED = 0, T_NULL = 1, T_FALSE = 2, T_TRUE = 3, T_INT32 = 4, T_FLOAT64 = 5, T_BIGINT64 = 6;
const T_BIGINT_TEXT = 7, T_STRING = 8, T_ARRAY = 9, T_OBJECT = 10, T_VIEW_INLINE = 11, T_VIEW_OOB = 12;
const SHORT_STRING_CHARS = 32;
const KEY_CACHE_SLOTS = 256;
const FALLBACK = Symbol('fallback');
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A fresh Uint8Array over its own ArrayBuffer (the destination of an out-of-band array). */
export function allocateBuffer(byteLength: number): Uint8Array {
  return new Uint8Array(new ArrayBuffer(byteLength));
}

/** Builds a view of type index `type` over `bytes`, which it owns. */
function makeView(type: number, bytes: Uint8Array): ArrayBufferView {
  const ctor = VIEW_TYPES[type];
  if (ctor === undefined) throw invalidType('message', 'a message written by DefaultCodec (unknown array type)', type);
  if (type === BUFFER_TYPE) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return new ctor(bytes.buffer, bytes.byteOffset, bytes.byteLength / (ctor.BYTES_PER_ELEMENT ?? 1));
}

function viewType(view: ArrayBufferView): number {
  const type = VIEW_INDEX.get(view.constructor);
  if (type === undefined) throw FALLBACK;
  return type;
}

/** node:v8 with typed arrays written as host objects, large ones out of band. */
class OutOfBandSerializer extends v8.Serializer {
  readonly buffers: Uint8Array[] = [];
  constructor() {
    super();
    (this as unknown as { _setTreatArrayBufferViewsAsHostObjects(on: boolean): void })._setTreatArrayBufferViewsAsHostObjects(true);
  }
  _writeHostObject(view: ArrayBufferView): void {
    const type = VIEW_INDEX.get(view.constructor);
    if (type === undefined) throw invalidType('value', 'a value the structured-clone algorithm accepts', view);
    const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
    this.writeUint32(type);
    if (view.byteLength >= OUT_OF_BAND_MIN_BYTES) {
      this.writeUint32(1);
      this.writeUint32(this.buffers.push(bytes) - 1);
    } else {
      this.writeUint32(0);
      this.writeUint32(bytes.byteLength);
      this.writeRawBytes(bytes);
    }
  }
}

class OutOfBandDeserializer extends v8.Deserializer {
  constructor(main: Uint8Array, readonly buffers: readonly Uint8Array[]) {
    super(main);
  }
  _readHostObject(): ArrayBufferView {
    const type = this.readUint32();
    if (this.readUint32() === 1) return makeView(type, this.buffers[this.readUint32()]!);
    const raw = this.readRawBytes(this.readUint32()) as Uint8Array;
    return makeView(type, new Uint8Array(raw)); // a copy: `main` is the reader's scratch
  }
}

/** The default codec: the fast tagged format for plain data, node:v8 for the rest (see the file header). */
export class DefaultCodec implements ObjectCodec {
  #scratch = new Uint8Array(256);
  #view = new DataView(this.#scratch.buffer);
  #pos = 0;
  #buffers: Uint8Array[] = [];
  readonly #keys = new KeyCache();

  /** @throws TypeError (ERR_MULTIRANK_INVALID_ARG_TYPE) when the value cannot be cloned (a function, a symbol...). */
  encode(value: unknown): EncodedMessage {
    this.#pos = 0;
    this.#buffers = [];
    try {
      this.#u8(FORMAT_FAST);
      this.#value(value, 0);
      return { main: this.#scratch.subarray(0, this.#pos), buffers: this.#buffers };
    } catch (error) {
      if (error !== FALLBACK) throw error;
    }
    const serializer = new OutOfBandSerializer();
    serializer.writeRawBytes(Uint8Array.of(FORMAT_V8));
    serializer.writeHeader();
    try {
      serializer.writeValue(value);
    } catch (error) {
      if ((error as { code?: unknown }).code !== undefined) throw error;
      throw invalidType('value', `a value the structured-clone algorithm accepts (${(error as Error).message})`, value);
    }
    return { main: serializer.releaseBuffer(), buffers: serializer.buffers };
  }

  /** @throws TypeError when `main` was not written by a DefaultCodec. */
  decode(main: Uint8Array, buffers: readonly Uint8Array[]): unknown {
    if (main[0] === FORMAT_FAST) return new FastReader(main, buffers, this.#keys).value();
    if (main[0] !== FORMAT_V8) throw invalidType('message', 'bytes written by DefaultCodec', main[0]);
    const deserializer = new OutOfBandDeserializer(main.subarray(1), buffers);
    deserializer.readHeader();
    return deserializer.readValue();
  }

  #reserve(bytes: number): number {
    const at = this.#pos;
    if (at + bytes > this.#scratch.byteLength) {
      const grown = new Uint8Array(Math.max(at + bytes, 2 * this.#scratch.byteLength));
      grown.set(this.#scratch.subarray(0, at));
      this.#scratch = grown;
      this.#view = new DataView(grown.buffer);
    }
    this.#pos = at + bytes;
    return at;
  }

  #u8(value: number): void {
    const at = this.#reserve(1); // reserve first: it may replace the scratch
    this.#scratch[at] = value;
  }

  #u32(value: number): void {
    const at = this.#reserve(4);
    this.#view.setUint32(at, value, true);
  }

  #value(value: unknown, depth: number): void {
    switch (typeof value) {
      case 'undefined': return this.#u8(T_UNDEFINED);
      case 'boolean': return this.#u8(value ? T_TRUE : T_FALSE);
      case 'number': return this.#number(value);
      case 'string': return this.#string(value, T_STRING);
      case 'bigint':
        if (BigInt.asIntN(64, value) !== value) return this.#string(value.toString(), T_BIGINT_TEXT);
        this.#u8(T_BIGINT64);
        return this.#bigint64(value);
      case 'object': return value === null ? this.#u8(T_NULL) : this.#object(value, depth);
      default: throw FALLBACK;
    }
  }

  #bigint64(value: bigint): void {
    const at = this.#reserve(8);
    this.#view.setBigInt64(at, value, true);
  }

  #number(value: number): void {
    if ((value | 0) === value && (value !== 0 || 1 / value > 0)) {
      this.#u8(T_INT32);
      const at = this.#reserve(4);
      this.#view.setInt32(at, value, true);
    } else {
      this.#u8(T_FLOAT64);
      const at = this.#reserve(8);
      this.#view.setFloat64(at, value, true);
    }
  }

  #string(value: string, tag: number): void {
    this.#u8(tag);
    const chars = value.length;
    const lengthAt = this.#reserve(4);
    const at = this.#reserve(3 * chars);
    let written = -1;
    if (chars <= SHORT_STRING_CHARS) {
      const bytes = this.#scratch;
      for (written = 0; written < chars; written++) {
        const code = value.charCodeAt(written);
        if (code >= 0x80) { written = -1; break; }
        bytes[at + written] = code;
      }
    }
    if (written < 0 && !(value as unknown as { isWellFormed(): boolean }).isWellFormed()) throw FALLBACK; // lone surrogates: UTF-8 cannot carry them
    if (written < 0) written = encoder.encodeInto(value, this.#scratch.subarray(at, at + 3 * chars)).written!;
    this.#view.setUint32(lengthAt, written, true);
    this.#pos = at + written;
  }

  #object(value: object, depth: number): void {
    if (depth >= DEPTH_MAX) throw FALLBACK;
    if (Array.isArray(value)) {
      if (Object.getPrototypeOf(value) !== Array.prototype) throw FALLBACK;
      this.#u8(T_ARRAY);
      this.#u32(value.length);
      for (let i = 0; i < value.length; i++) this.#value(value[i], depth + 1);
      return;
    }
    if (ArrayBuffer.isView(value)) return this.#arrayView(value);
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) throw FALLBACK;
    const keys = Object.keys(value);
    this.#u8(T_OBJECT);
    this.#u32(keys.length);
    for (const key of keys) {
      this.#string(key, T_STRING);
      this.#value((value as Record<string, unknown>)[key], depth + 1);
    }
  }

  #arrayView(value: ArrayBufferView): void {
    const type = viewType(value);
    const bytes = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    if (bytes.byteLength >= OUT_OF_BAND_MIN_BYTES) {
      this.#u8(T_VIEW_OOB);
      this.#u8(type);
      this.#u32(this.#buffers.push(bytes) - 1);
      return;
    }
    this.#u8(T_VIEW_INLINE);
    this.#u8(type);
    this.#u32(bytes.byteLength);
    const at = this.#reserve(bytes.byteLength);
    this.#scratch.set(bytes, at);
  }
}

/** Object keys seen before, by their bytes: a hit skips decoding and re-internalising the string. */
class KeyCache {
  readonly #bytes: Array<Uint8Array | undefined> = new Array(KEY_CACHE_SLOTS).fill(undefined);
  readonly #texts: string[] = new Array(KEY_CACHE_SLOTS).fill('');

  get(main: Uint8Array, at: number, length: number): string {
    if (length > SHORT_STRING_CHARS) return decodeText(main, at, length);
    let hash = length;
    for (let i = at; i < at + length; i++) hash = (Math.imul(hash, 31) + main[i]!) | 0;
    const slot = hash & (KEY_CACHE_SLOTS - 1);
    const cached = this.#bytes[slot];
    if (cached !== undefined && cached.length === length) {
      let same = true;
      for (let i = 0; i < length && same; i++) same = cached[i] === main[at + i];
      if (same) return this.#texts[slot]!;
    }
    const text = decodeText(main, at, length);
    this.#bytes[slot] = main.slice(at, at + length);
    this.#texts[slot] = text;
    return text;
  }
}

function decodeText(main: Uint8Array, at: number, length: number): string {
  if (length > SHORT_STRING_CHARS) return decoder.decode(main.subarray(at, at + length));
  let text = '';
  for (let i = at; i < at + length; i++) {
    const code = main[i]!;
    if (code >= 0x80) return decoder.decode(main.subarray(at, at + length));
    text += String.fromCharCode(code);
  }
  return text;
}

/** Reads the fast format. */
class FastReader {
  #pos = 1;
  readonly #main: Uint8Array;
  readonly #view: DataView;
  readonly #buffers: readonly Uint8Array[];
  readonly #keys: KeyCache;

  constructor(main: Uint8Array, buffers: readonly Uint8Array[], keys: KeyCache) {
    this.#main = main;
    this.#view = new DataView(main.buffer, main.byteOffset, main.byteLength);
    this.#buffers = buffers;
    this.#keys = keys;
  }

  #take(bytes: number): number {
    const at = this.#pos;
    if (at + bytes > this.#main.byteLength) throw invalidType('message', 'a complete DefaultCodec message (it is truncated)', at);
    this.#pos = at + bytes;
    return at;
  }

  #u32(): number {
    return this.#view.getUint32(this.#take(4), true);
  }

  value(): unknown {
    const tag = this.#main[this.#take(1)];
    switch (tag) {
      case T_UNDEFINED: return undefined;
      case T_NULL: return null;
      case T_FALSE: return false;
      case T_TRUE: return true;
      case T_INT32: return this.#view.getInt32(this.#take(4), true);
      case T_FLOAT64: return this.#view.getFloat64(this.#take(8), true);
      case T_BIGINT64: return this.#view.getBigInt64(this.#take(8), true);
      case T_BIGINT_TEXT: return BigInt(this.#string());
      case T_STRING: return this.#string();
      case T_ARRAY: return this.#array();
      case T_OBJECT: return this.#object();
      case T_VIEW_INLINE: { const type = this.#main[this.#take(1)]!; return this.#inlineView(type); }
      case T_VIEW_OOB: { const type = this.#main[this.#take(1)]!; return makeView(type, this.#buffers[this.#u32()]!); }
      default: throw invalidType('message', 'a DefaultCodec message (unknown tag)', tag);
    }
  }

  #string(): string {
    const length = this.#u32();
    return decodeText(this.#main, this.#take(length), length);
  }

  #array(): unknown[] {
    const count = this.#u32();
    const out: unknown[] = [];
    for (let i = 0; i < count; i++) out.push(this.value());
    return out;
  }

  #object(): Record<string, unknown> {
    const count = this.#u32();
    const out: Record<string, unknown> = {};
    for (let i = 0; i < count; i++) {
      this.#take(1);
      const length = this.#u32();
      const key = this.#keys.get(this.#main, this.#take(length), length);
      const value = this.value();
      if (key === '__proto__') Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
      else out[key] = value;
    }
    return out;
  }

  #inlineView(type: number): ArrayBufferView {
    const length = this.#u32();
    const at = this.#take(length);
    return makeView(type, this.#main.slice(at, at + length));
  }
}
