/**
 * What crosses from a rank to the driver (an entry's result, a reply to `job.rank(i).call`): a value the
 * driver owns, whatever the rank returned. Views of shared memory are copied out of the arena, because a
 * later job reuses the arena and would change the driver's results under it. Tensors travel as dtype,
 * shape and a copy of their values, and arrive as Tensors (structured clone alone would deliver a plain
 * object without data). A value structured clone refuses is reported with where it sits in the result.
 */
import { invalidType } from '../errors.js';
import type { DType, StorageArray } from '../tensor/dtype.js';
import { fromTypedArray } from '../tensor/factory.js';
import { Tensor } from '../tensor/tensor.js';
import { isLeafObject, isSharedView, scanForClone, type ScanResult } from './clone-scan.js';

const CLONEABLE = 'data that can cross threads (structured clone copies data only: no functions, symbols, ' +
  'Promises, WeakMaps, WeakRefs, Proxies or MessagePorts outside a transfer list)';

/** A Tensor on its way: `at` is its placeholder in the value (structured clone keeps the identity). */
interface TensorWire {
  readonly at: object;
  readonly dtype: DType;
  readonly shape: number[];
  readonly data: StorageArray;
}

/** A result ready to cross, and the buffers of its own that may be transferred rather than copied. */
export interface EncodedResult {
  readonly value: unknown;
  readonly tensors: TensorWire[] | undefined;
  /** Where placeholders sit: an array or object with the key, or a Map or Set to rebuild in order. */
  readonly places: { readonly in: object; readonly key: string | number | undefined }[] | undefined;
}

/**
 * Checks that `value` can be structured-cloned, naming the first value that cannot: `nameAt(path)` is
 * its name in the error, given its path in `value` (`.a[1]`, `''` for `value` itself).
 * @throws TypeError (ERR_MULTIRANK_INVALID_ARG_TYPE).
 */
export function checkCloneable(value: unknown, nameAt: (path: string) => string): ScanResult {
  const scan = scanForClone(value);
  const bad = scan.uncloneable;
  if (bad !== undefined) throw invalidType(nameAt(bad.at), CLONEABLE, bad.value);
  if (scan.exotic) {
    try {
      structuredClone(value);
    } catch (error) {
      // An object the walk does not know (a host object): structured clone's own words say which.
      throw invalidType(`${nameAt('')} (structured clone: ${(error as Error).message})`, CLONEABLE, value);
    }
  }
  return scan;
}

/**
 * Makes `value` safe to send to the driver; `where` names it in errors (`the value rank 0's entry returned`).
 * Returns the encoded result and the buffers it owns (to transfer).
 */
export function encodeResult(value: unknown, where: string): { encoded: EncodedResult; transfer: ArrayBuffer[] } {
  if (!checkCloneable(value, (path) => (path === '' ? where : `${where}, at ${path}`)).needsEncoding) {
    return { encoded: { value, tensors: undefined, places: undefined }, transfer: [] };
  }
  const encoder = new Encoder();
  const encoded = encoder.encode(value);
  const { tensors, places, transfer } = encoder;
  return { encoded: { value: encoded, tensors, places }, transfer };
}

/** Copies of the containers on the way to Tensors and shared views; everything else is kept as is. */
class Encoder {
  readonly tensors: TensorWire[] = [];
  readonly places: { in: object; key: string | number | undefined }[] = [];
  readonly transfer: ArrayBuffer[] = [];
  readonly #done = new Map<object, unknown>();
  readonly #placeholders = new Set<unknown>();

  encode(value: unknown): unknown {
    if (typeof value !== 'object' || value === null) return value;
    const done = this.#done.get(value);
    if (done !== undefined) return done;
    if (value instanceof Tensor) return this.#tensor(value);
    if (isSharedView(value)) return this.#remember(value, copyView(value, this.transfer));
    if (isLeafObject(value)) return value;
    if (Array.isArray(value)) {
      const copy = this.#remember(value, new Array<unknown>(value.length));
      for (let i = 0; i < value.length; i++) this.#put(copy, i, this.encode(value[i]));
      return copy;
    }
    if (value instanceof Map) return this.#map(value);
    if (value instanceof Set) return this.#set(value);
    // Structured clone sends an object of any class as a plain object of its own enumerable properties.
    const copy = this.#remember(value, {} as Record<string, unknown>);
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) this.#put(copy, key, this.encode(record[key]));
    return copy;
  }

  #remember<T>(value: object, copy: T): T {
    this.#done.set(value, copy);
    return copy;
  }

  #put(copy: unknown[] | Record<string, unknown>, key: number | string, item: unknown): void {
    (copy as Record<string | number, unknown>)[key] = item;
    if (this.#placeholders.has(item)) this.places.push({ in: copy, key });
  }

  #map(value: Map<unknown, unknown>): Map<unknown, unknown> {
    const copy = this.#remember(value, new Map<unknown, unknown>());
    let holds = false;
    for (const [key, item] of value) {
      const [k, v] = [this.encode(key), this.encode(item)];
      holds ||= this.#placeholders.has(k) || this.#placeholders.has(v);
      copy.set(k, v);
    }
    if (holds) this.places.push({ in: copy, key: undefined });
    return copy;
  }

  #set(value: Set<unknown>): Set<unknown> {
    const copy = this.#remember(value, new Set<unknown>());
    let holds = false;
    for (const item of value) {
      const member = this.encode(item);
      holds ||= this.#placeholders.has(member);
      copy.add(member);
    }
    if (holds) this.places.push({ in: copy, key: undefined });
    return copy;
  }

  #tensor(tensor: Tensor): object {
    const at = this.#remember(tensor, {});
    this.#placeholders.add(at);
    const data = tensor.data.slice() as StorageArray; // a copy in a buffer of its own, out of any arena
    this.transfer.push(data.buffer as ArrayBuffer);
    this.tensors.push({ at, dtype: tensor.dtype, shape: [...tensor.shape], data });
    return at;
  }
}

/** A copy of a view of shared memory, of the same type, in a buffer of its own. */
function copyView(view: ArrayBufferView, transfer: ArrayBuffer[]): ArrayBufferView {
  const bytes = new Uint8Array(view.byteLength);
  bytes.set(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
  transfer.push(bytes.buffer);
  if (view instanceof DataView) return new DataView(bytes.buffer);
  if (Buffer.isBuffer(view)) return bytes; // a Buffer arrives as a Uint8Array anyway
  const Type = view.constructor as new (buffer: ArrayBuffer) => ArrayBufferView;
  return new Type(bytes.buffer);
}

/** The driver's side: the value with every placeholder replaced by its Tensor. */
export function decodeResult(encoded: EncodedResult): unknown {
  if (encoded.tensors === undefined) return encoded.value;
  const tensors = new Map<unknown, Tensor>();
  for (const t of encoded.tensors) tensors.set(t.at, fromTypedArray(t.data, { dtype: t.dtype, shape: t.shape }));
  const swap = (value: unknown): unknown => tensors.get(value) ?? value;
  for (const { in: container, key } of encoded.places ?? []) {
    if (container instanceof Map) {
      const entries = [...container];
      container.clear();
      for (const [k, v] of entries) container.set(swap(k), swap(v));
    } else if (container instanceof Set) {
      const members = [...container];
      container.clear();
      for (const member of members) container.add(swap(member));
    } else {
      const record = container as Record<string | number, unknown>;
      record[key!] = swap(record[key!]);
    }
  }
  return swap(encoded.value);
}
