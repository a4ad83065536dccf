/**
 * `Tensor`: a dtype, a shape, contiguous row-major strides, a device, and a view of some Storage.
 * Every tensor is contiguous; ops that would need other strides (movedim, narrow off dim 0) copy.
 */
import { checkInteger, invalidType, outOfRange, shapeError } from '../errors.js';
import { dtypeInfo, storageView, type DType, type DTypeInfo, type StorageArray } from './dtype.js';
import { bf16ToNumber, f16ToNumber, numberToBf16, numberToF16 } from './half.js';
import { checkShape, contiguousStrides, formatShape, inferShape, normalizeDim, numelOf, type Shape } from './shape.js';
import { allocateStorage, type SharedMemory, type Storage } from './storage.js';
import { copyBytes, deviceStorage, parseDevice, type Device } from './device.js';

/** The device kinds a tensor can live on (`cuda:N` and `npu:N` through the nccl / hccl native layer). */
export const DEVICES = ['cpu', 'cuda', 'npu'] as const;
export type { Device };

/**
 * One element as JS sees it: number for floats and 8/32-bit ints, bigint for int64, boolean for bool, and
 * a `[re, im]` pair of numbers for complex64 / complex128.
 */
export type Scalar = number | bigint | boolean | ComplexPair;

/** A complex element: `[re, im]` (what `getFlat` returns for complex dtypes; `setFlat` takes it too). */
export type ComplexPair = readonly [re: number, im: number];

export class Tensor {
  readonly dtype: DType;
  readonly shape: Shape;
  readonly strides: readonly number[];
  readonly storage: Storage;
  /** Offset of element 0 from the start of the storage, in bytes. */
  readonly storageOffsetBytes: number;
  readonly numel: number;
  /** The dtype's table row (size, kernel code). */
  readonly info: DTypeInfo;
  #data: StorageArray | undefined;
  #bytes: Uint8Array | undefined;

  /**
   * Low level: wraps `storage` at `storageOffsetBytes`. Use the factories (`tensor`, `zeros`, ...).
   * `like` reuses the checked, frozen shape and strides of another tensor (collectives' hot path).
   */
  constructor(dtype: DType, shape: Shape, storage: Storage, storageOffsetBytes = 0, like?: Tensor) {
    const info = like !== undefined && like.dtype === dtype ? like.info : dtypeInfo(dtype);
    this.dtype = dtype;
    this.info = info;
    if (like !== undefined && like.shape === shape) {
      this.shape = like.shape;
      this.strides = like.strides;
      this.numel = like.numel;
    } else {
      this.shape = checkShape(shape);
      this.strides = Object.freeze(contiguousStrides(this.shape));
      this.numel = numelOf(this.shape);
    }
    storage.assertLive(); // a view of released memory would read whatever took it
    if (storageOffsetBytes + this.numel * info.itemBytes > storage.byteLength) {
      throw shapeError(
        `A tensor of shape ${formatShape(this.shape)} (${dtype}) needs ${this.numel * info.itemBytes} bytes at ` +
          `offset ${storageOffsetBytes}, but its storage has ${storage.byteLength}`,
      );
    }
    this.storage = storage;
    this.storageOffsetBytes = storageOffsetBytes;
  }

  get itemBytes(): number {
    return this.info.itemBytes;
  }

  /** Where the elements live: `cpu`, `cuda:N` or `npu:N` (the storage's). */
  get device(): Device {
    return this.storage.device;
  }

  /** This tensor on `device` (`cpu`, `cuda:N`, `npu:N`): itself when already there, else a copy there. */
  to(device: string): Tensor {
    const target = parseDevice(device);
    if (target === this.device) return this;
    return new Tensor(this.dtype, this.shape, deviceStorage(this.byteLength, target), 0, this).copyFrom(this);
  }

  get byteLength(): number {
    return this.numel * this.info.itemBytes;
  }

  /** Offset of element 0 in `buffer`, in bytes (an offset into the arena memory for shared tensors). */
  get byteOffset(): number {
    return this.storage.byteOffset + this.storageOffsetBytes;
  }

  get buffer(): ArrayBufferLike {
    return this.storage.buffer;
  }

  get ndim(): number {
    return this.shape.length;
  }

  /** The raw elements as a typed array (16-bit floats as u16 bits; complex: 2 entries per element, re first). */
  get data(): StorageArray {
    // The cached view outlives a release(): check the storage on every access, not only the first.
    this.storage.assertLive();
    return (this.#data ??= storageView(this.dtype, this.storage.buffer, this.byteOffset, this.numel));
  }

  /** Reads element `flatIndex` as a JS value (a new `[re, im]` array for complex dtypes). */
  getFlat(flatIndex: number): Scalar {
    if (this.info.isComplex) {
      const data = this.data as Float32Array | Float64Array;
      return [data[2 * flatIndex]!, data[2 * flatIndex + 1]!];
    }
    const raw = this.data[flatIndex]!;
    switch (this.dtype) {
      case 'float16': return f16ToNumber(raw as number);
      case 'bfloat16': return bf16ToNumber(raw as number);
      case 'bool': return raw !== 0;
      default: return raw;
    }
  }

  /**
   * Writes element `flatIndex` from a JS value (converted as torch converts a Python scalar; a complex
   * element takes `[re, im]` or a real value, whose imaginary part is 0).
   */
  setFlat(flatIndex: number, value: Scalar): void {
    if (this.info.isComplex) {
      const [re, im] = encodeComplex(value);
      const data = this.data as Float32Array | Float64Array;
      data[2 * flatIndex] = re;
      data[2 * flatIndex + 1] = im;
      return;
    }
    this.data[flatIndex] = encodeScalar(this.dtype, value) as never;
  }

  /** Element at a multi-index. */
  get(...index: number[]): Scalar {
    return this.getFlat(this.#flatIndex(index));
  }

  set(index: readonly number[], value: Scalar): void {
    this.setFlat(this.#flatIndex(index), value);
  }

  /** The single value of a one-element tensor. */
  item(): Scalar {
    if (this.numel !== 1) {
      throw shapeError(`item() needs a tensor of one element, got shape ${formatShape(this.shape)}`);
    }
    return this.getFlat(0);
  }

  /** All elements, flat, in row-major order. */
  toArray(): Scalar[] {
    const out = new Array<Scalar>(this.numel);
    for (let i = 0; i < this.numel; i++) out[i] = this.getFlat(i);
    return out;
  }

  /** Elements as nested arrays following the shape (torch's `tolist`). */
  toNestedArray(): unknown {
    const flat = this.toArray();
    const build = (dim: number, offset: number): unknown =>
      dim === this.ndim
        ? flat[offset]
        : Array.from({ length: this.shape[dim]! }, (_, i) => build(dim + 1, offset + i * this.strides[dim]!));
    return build(0, 0);
  }

  /** A tensor of another shape over the same storage (always possible: tensors are contiguous). */
  view(...shape: number[] | [readonly number[]]): Tensor {
    const target = Array.isArray(shape[0]) ? (shape[0] as readonly number[]) : (shape as number[]);
    return new Tensor(this.dtype, inferShape(target, this.numel, this.shape), this.storage, this.storageOffsetBytes);
  }

  /** Same as `view`: contiguous tensors reshape without copying. */
  reshape(...shape: number[] | [readonly number[]]): Tensor {
    return this.view(...shape);
  }

  /**
   * `length` entries of `dim` from `start`. A view exactly when torch's narrow would be contiguous (every
   * dim before `dim` has size 1, the whole dim is taken, or the result is empty); a copy otherwise.
   */
  narrow(dim: number, start: number, length: number): Tensor {
    const d = normalizeDim(dim, this.ndim);
    const size = this.shape[d]!;
    checkInteger('start', start, 0);
    checkInteger('length', length, 0);
    if (start + length > size) {
      throw outOfRange(`narrow: \`start\` (${start}) + \`length\` (${length}) exceeds the size ${size} of dim ${d}`);
    }
    const shape = [...this.shape];
    shape[d] = length;
    const hollow = shape.includes(0); // no element: its offset stays where the input's is (inside the storage)
    if (length === size || hollow || this.shape.slice(0, d).every((s) => s === 1)) {
      const skipped = hollow ? 0 : start * this.strides[d]! * this.itemBytes;
      return new Tensor(this.dtype, shape, this.storage, this.storageOffsetBytes + skipped);
    }
    const out = empty(shape, { dtype: this.dtype, arena: this.storage.arena });
    copyBlocks(this, out, d, start, 0, length);
    return out;
  }

  /** A copy in new storage on the same device (on the CPU: plain memory unless `shared` or `arena` say otherwise). */
  clone(options: { arena?: SharedMemory; shared?: boolean } = {}): Tensor {
    const onHost = options.arena !== undefined || options.shared === true;
    return empty(this.shape, { dtype: this.dtype, device: onHost ? 'cpu' : this.device, ...options }).copyFrom(this);
  }

  /** Copies `src` (same dtype and numel) into this tensor. Returns this. */
  copyFrom(src: Tensor): this {
    if (src.dtype !== this.dtype) {
      throw invalidType('src.dtype', `"${this.dtype}" (the destination's dtype)`, src.dtype);
    }
    if (src.numel !== this.numel) {
      throw shapeError(
        `copyFrom: \`src\` has ${src.numel} elements (shape ${formatShape(src.shape)}), the destination ` +
          `${this.numel} (shape ${formatShape(this.shape)})`,
      );
    }
    copyBytes(this, src);
    return this;
  }

  /** Sets every element to `value`. Returns this. */
  fill(value: Scalar): this {
    if (this.info.isComplex) {
      for (let i = 0; i < this.numel; i++) this.setFlat(i, value);
      return this;
    }
    const encoded = encodeScalar(this.dtype, value);
    (this.data as { fill(v: unknown): unknown }).fill(encoded);
    return this;
  }

  /** The raw bytes (one view per tensor, made on first use). */
  bytes(): Uint8Array {
    this.storage.assertLive();
    return (this.#bytes ??= new Uint8Array(this.buffer, this.byteOffset, this.byteLength));
  }

  /** Returns arena memory now (this tensor and its views must not be used afterwards). */
  release(): void {
    this.storage.release();
  }

  toString(): string {
    return `Tensor(shape=${formatShape(this.shape)}, dtype=${this.dtype}, device=${this.device})`;
  }

  #flatIndex(index: readonly number[]): number {
    if (index.length !== this.ndim) {
      throw shapeError(`Expected ${this.ndim} indices for shape ${formatShape(this.shape)}, got ${index.length}`);
    }
    let flat = 0;
    index.forEach((i, d) => {
      checkInteger(`index[${d}]`, i);
      const size = this.shape[d]!;
      if (i < -size || i >= size) {
        throw outOfRange(`\`index[${d}]\` (${i}) is out of range for dim ${d} of size ${size}`);
      }
      flat += (i < 0 ? i + size : i) * this.strides[d]!;
    });
    return flat;
  }
}

/** Converts a JS value to the stored representation of a real `dtype` (complex values: `encodeComplex`). */
export function encodeScalar(dtype: DType, value: Scalar): number | bigint {
  if (typeof value === 'boolean') value = value ? 1 : 0;
  if (typeof value === 'object') {
    throw invalidType('value', `a number, bigint or boolean for ${dtype} (a pair needs a complex dtype)`, value);
  }
  switch (dtype) {
    case 'int64':
      if (typeof value === 'bigint') return BigInt.asIntN(64, value);
      if (!Number.isFinite(value)) throw invalidType('value', 'a finite number or a bigint for int64', value);
      return BigInt.asIntN(64, BigInt(Math.trunc(value)));
    case 'float16': return numberToF16(Number(value));
    case 'bfloat16': return numberToBf16(Number(value));
    case 'bool': return value !== 0 && value !== 0n ? 1 : 0;
    default: return Number(value);
  }
}

/** A complex element's `[re, im]` from a pair of numbers, or from a real value (imaginary part 0). */
export function encodeComplex(value: Scalar): ComplexPair {
  if (Array.isArray(value)) {
    const [re, im] = value as unknown[];
    if (value.length === 2 && typeof re === 'number' && typeof im === 'number') return [re, im];
    throw invalidType('value', 'a [re, im] pair of numbers, or a real number', value);
  }
  return [Number(value), 0];
}

/**
 * Copies `count` entries of dim `d` from `src` (starting at `srcStart`) to `dst` (starting at `dstStart`),
 * where both tensors agree on every dim but `d`. The blocks are the contiguous runs below `d`.
 */
export function copyBlocks(
  src: Tensor, dst: Tensor, d: number, srcStart: number, dstStart: number, count: number,
): void {
  const inner = src.strides[d]! * src.itemBytes;
  const outer = numelOf(src.shape.slice(0, d));
  const srcBytes = src.bytes(), dstBytes = dst.bytes();
  const srcRow = src.shape[d]! * inner, dstRow = dst.shape[d]! * inner;
  for (let o = 0; o < outer; o++) {
    const from = o * srcRow + srcStart * inner;
    dstBytes.set(srcBytes.subarray(from, from + count * inner), o * dstRow + dstStart * inner);
  }
}

export interface TensorOptions {
  dtype?: DType;
  /** In the rank's shared arena (zero-copy collectives) instead of plain memory. */
  shared?: boolean;
  /** An explicit arena for the storage (takes precedence over `shared`). */
  arena?: SharedMemory | undefined;
  /** `cpu` (default), `cuda:N` or `npu:N`: device memory owned by the tensor (not with `shared` / `arena`). */
  device?: string | undefined;
}

/** A new tensor with `t`'s shape (and dtype unless given), in plain memory, zeroed. */
export function emptyLike(t: Tensor, dtype: DType = t.dtype): Tensor {
  return new Tensor(dtype, t.shape, allocateStorage(t.numel * dtypeInfo(dtype).itemBytes), 0, t);
}

/** An uninitialised tensor (zeroed when in plain memory). */
export function empty(shape: readonly number[], options: TensorOptions = {}): Tensor {
  const dtype = options.dtype ?? 'float32';
  const checked = checkShape(shape);
  const bytes = numelOf(checked) * dtypeInfo(dtype).itemBytes;
  const device = options.device === undefined ? 'cpu' : parseDevice(options.device, 'options.device');
  if (device !== 'cpu') {
    if (options.arena !== undefined || options.shared === true) {
      throw invalidType('options.device', '"cpu" with `shared` or `arena`', device);
    }
    return new Tensor(dtype, checked, deviceStorage(bytes, device));
  }
  return new Tensor(dtype, checked, allocateStorage(bytes, options.arena, options.shared === true));
}
