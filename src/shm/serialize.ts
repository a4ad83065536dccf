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
import { ErrorCodes, invalidType, notSerializable } from '../errors.js';
import {
  DEPTH_MAX, encoder, FALLBACK, FORMAT_FAST, FORMAT_V8, OUT_OF_BAND_MIN_BYTES, SHORT_STRING_CHARS, T_ARRAY, T_BIGINT64,
  T_BIGINT_TEXT, T_FALSE, T_FLOAT64, T_INT32, T_NULL, T_OBJECT, T_STRING, T_TRUE, T_UNDEFINED, T_VIEW_INLINE,
  T_VIEW_OOB, viewType,
} from './serialize-format.js';
import { FastReader, KeyCache } from './serialize-read.js';
import { OutOfBandDeserializer, OutOfBandSerializer } from './serialize-v8.js';

export { allocateBuffer, DEPTH_MAX, FORMAT_FAST, FORMAT_V8, OUT_OF_BAND_MIN_BYTES } from './serialize-format.js';

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

/** The default codec: the fast tagged format for plain data, node:v8 for the rest (see the file header). */
export class DefaultCodec implements ObjectCodec {
  #scratch = new Uint8Array(256);
  #view = new DataView(this.#scratch.buffer);
  #pos = 0;
  #buffers: Uint8Array[] = [];
  readonly #keys = new KeyCache();

  /**
   * @throws MultirankError (ERR_MULTIRANK_NOT_SERIALIZABLE) when the value cannot be cloned (a function, a symbol...).
   */
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
      const code = (error as { code?: unknown }).code;
      if (code !== undefined && code !== ErrorCodes.INVALID_ARG_TYPE) throw error;
      throw notSerializable('value', value, error);
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
    if (written < 0 && !(value as unknown as { isWellFormed(): boolean }).isWellFormed()) {
      throw FALLBACK; // lone surrogates: UTF-8 cannot carry them
    }
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
