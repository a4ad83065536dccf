/** The reading side of `DefaultCodec`'s fast format (serialize.ts describes the format). */
import { invalidType } from '../errors.js';
import {
  decoder, makeView, SHORT_STRING_CHARS, T_ARRAY, T_BIGINT64, T_BIGINT_TEXT, T_FALSE, T_FLOAT64, T_INT32, T_NULL,
  T_OBJECT, T_STRING,
  T_TRUE, T_UNDEFINED, T_VIEW_INLINE, T_VIEW_OOB,
} from './serialize-format.js';

const KEY_CACHE_SLOTS = 256;

/** Object keys seen before, by their bytes: a hit skips decoding and re-internalising the string. */
export class KeyCache {
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
export class FastReader {
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
    if (at + bytes > this.#main.byteLength) {
      throw invalidType('message', 'a complete DefaultCodec message (it is truncated)', at);
    }
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
      if (key === '__proto__') {
        Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
      } else out[key] = value;
    }
    return out;
  }

  #inlineView(type: number): ArrayBufferView {
    const length = this.#u32();
    const at = this.#take(length);
    return makeView(type, this.#main.slice(at, at + length));
  }
}
