/**
 * Host side of the wasm kernels (`assembly/`, built to `dist/kernels.wasm`): compile once, instantiate on
 * a shared `WebAssembly.Memory` per thread, call through a thin typed wrapper.
 *
 * The wrapper asserts what the kernels cannot: every byte range lies inside the memory, is aligned to its
 * element size, and an output overlaps an input only when it is exactly equal to it. The checks are a few
 * compares against a cached byte length (re-read only when a check fails, since shared memory can grow and
 * `memory.buffer` then returns a longer buffer); the kernel's own status code is checked after the call.
 *
 * ABI: dtype codes are `dtypeInfo(d).code`, op codes `REDUCE_OP_CODES` (src/tensor/dtype.ts). Offsets are
 * byte offsets into the memory, counts are element counts (a complex element is one (re, im) pair; its
 * offsets need only the alignment of a part: 4 bytes for complex64, 8 for complex128).
 */
import { readFileSync } from 'node:fs';
import { checkInteger, describe, dtypeError, ErrorCodes, invalidType, MultirankError, outOfRange } from '../errors.js';
import { DTYPES, dtypeFromCode, dtypeInfo, REDUCE_OP_CODES, REDUCE_OPS, reduceOpRefusal } from '../tensor/dtype.js';
import { distFile } from '../package-files.js';

/** Status codes returned by the `reduce`/`reduce2` exports (same numbers as `assembly/abi.ts`). */
export const KERNEL_STATUS = {
  OK: 0, BAD_DTYPE: 1, BAD_OP: 2, OP_NOT_ALLOWED: 3, BAD_K: 4, BAD_N: 5, TAG_MISMATCH: 6,
} as const;

/** Largest element count a kernel takes (its `n` is an i32). */
export const KERNEL_COUNT_MAX = 0x7fffffff;

/** Bytes of the tag `reduceStrided` compares before each input (an inline buffer's header). */
export const KERNEL_TAG_BYTES = 16;

/** The kernels over one shared memory. Every method throws on a bad argument and returns nothing. */
export interface Kernels {
  readonly memory: WebAssembly.Memory;
  /**
   * `dst[i] = fold(src_0[i], ..., src_{k-1}[i])` (left fold, one pass); `src_j` is the u32 at `tableOffset + 4*j`.
   * dst may be exactly equal to a src; it must not overlap the table or part of a src.
   * @throws TypeError `ERR_MULTIRANK_DTYPE` for an op the dtype refuses (`reduceOpRefusal`); RangeError
   * `ERR_MULTIRANK_OUT_OF_RANGE` for an unknown code, k < 1, or a range outside the memory, misaligned or overlapping.
   */
  reduce(dtypeCode: number, opCode: number, dstOffset: number, tableOffset: number, k: number, count: number): void;
  /**
   * `reduce` of k inputs `strideBytes` apart from `src0Offset`; the kernel writes their table at
   * `tableOffset` (k u32s) itself. With `tagBackBytes` > 0 (then at least KERNEL_TAG_BYTES) each input
   * carries a 16-byte tag that many bytes before its data (the call fingerprint in an inline buffer's
   * header): when any tag differs from the first input's in any byte it returns false and writes nothing,
   * else it writes the table, reduces and returns true.
   * The inputs (with their tags), the table and dst must be pairwise disjoint, and the inputs must not
   * overlap each other (strideBytes >= count * item size). Throws as `reduce`.
   */
  reduceStrided(
    dtypeCode: number, opCode: number, dstOffset: number, tableOffset: number, src0Offset: number, strideBytes: number,
    k: number, count: number, tagBackBytes: number,
  ): boolean;
  /** `dst[i] = a[i] op b[i]` (k = 2, no table); dst may equal a or b. Throws as `reduce`. */
  reduce2(dtypeCode: number, opCode: number, dstOffset: number, aOffset: number, bOffset: number, count: number): void;
  /** `memory.copy` of sizeBytes (ranges may overlap). */
  copy(dstOffset: number, srcOffset: number, sizeBytes: number): void;
  /** `memory.fill` of sizeBytes with the byte `value` (0..255). */
  fill(dstOffset: number, value: number, sizeBytes: number): void;
  /** float16 -> float32, count elements. */
  f16ToF32(dstOffset: number, srcOffset: number, count: number): void;
  /** float32 -> float16 (nearest even), count elements. */
  f32ToF16(dstOffset: number, srcOffset: number, count: number): void;
  /** bfloat16 -> float32, count elements. */
  bf16ToF32(dstOffset: number, srcOffset: number, count: number): void;
  /** float32 -> bfloat16 (nearest even), count elements. */
  f32ToBf16(dstOffset: number, srcOffset: number, count: number): void;
}

interface RawKernels {
  reduce(dtype: number, op: number, dst: number, table: number, k: number, n: number): number;
  reduceStrided(
    dtype: number, op: number, dst: number, table: number, src0: number, stride: number, k: number, n: number,
    tagBack: number,
  ): number;
  reduce2(dtype: number, op: number, dst: number, a: number, b: number, n: number): number;
  copy(dst: number, src: number, nbytes: number): void;
  fill(dst: number, value: number, nbytes: number): void;
  f16ToF32(dst: number, src: number, n: number): void;
  f32ToF16(dst: number, src: number, n: number): void;
  bf16ToF32(dst: number, src: number, n: number): void;
  f32ToBf16(dst: number, src: number, n: number): void;
}

/** Element size in bytes by dtype code; built from the dtype table so the codes are written once. */
const ITEM_BYTES: readonly number[] = DTYPES.reduce<number[]>((sizes, name) => {
  sizes[dtypeInfo(name).code] = dtypeInfo(name).itemBytes;
  return sizes;
}, []);
/** The alignment an offset needs by dtype code: the item size, or a part's size for complex dtypes. */
const ALIGN_BYTES: readonly number[] = DTYPES.reduce<number[]>((aligns, name) => {
  const info = dtypeInfo(name);
  aligns[info.code] = info.isComplex ? info.itemBytes / 2 : info.itemBytes;
  return aligns;
}, []);

const codeList = (names: readonly string[], codeOf: (name: string) => number): string =>
  names.map((n) => `${n}=${codeOf(n)}`).join(', ');

// The one compiled module of this thread (immutable once set): compiling costs milliseconds, a Module can be
// posted to workers, and instantiating it again is almost free.
let compiled: WebAssembly.Module | undefined;

/**
 * The compiled kernel module (`dist/kernels.wasm`), compiled on first use. Post it to workers through
 * `workerData` and instantiate it there with `instantiateKernels`.
 * @throws MultirankError `ERR_MULTIRANK_BACKEND_UNAVAILABLE` when the wasm file is missing or invalid.
 */
export function kernelModule(): WebAssembly.Module {
  if (compiled === undefined) {
    const url = distFile('kernels.wasm');
    try {
      compiled = new WebAssembly.Module(readFileSync(url));
    } catch (cause) {
      throw new MultirankError(
        ErrorCodes.BACKEND_UNAVAILABLE,
        `Cannot load the wasm kernels from ${url.pathname} (build them with \`npm run build:wasm\`)`, { cause },
      );
    }
  }
  return compiled;
}

/**
 * Instantiates the kernels on `memory`, which must be a shared memory (`shared: true`) whose maximum is
 * at most 65536 pages.
 * @throws TypeError `ERR_MULTIRANK_INVALID_ARG_TYPE` when memory is not a shared WebAssembly.Memory.
 */
export function instantiateKernels(memory: WebAssembly.Memory, module: WebAssembly.Module = kernelModule()): Kernels {
  if (!(memory instanceof WebAssembly.Memory) || !(memory.buffer instanceof SharedArrayBuffer)) {
    throw invalidType('memory', 'a shared WebAssembly.Memory (shared: true)', memory);
  }
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  return new WasmKernels(memory, instance.exports as unknown as RawKernels);
}

class WasmKernels implements Kernels {
  readonly memory: WebAssembly.Memory;
  readonly #raw: RawKernels;
  #limitBytes = 0;
  #words: Uint32Array<ArrayBufferLike> = new Uint32Array(0);

  constructor(memory: WebAssembly.Memory, raw: RawKernels) {
    this.memory = memory;
    this.#raw = raw;
    this.#refresh();
  }

  reduce(dtypeCode: number, opCode: number, dstOffset: number, tableOffset: number, k: number, count: number): void {
    this.#checkTable(dtypeCode, dstOffset, tableOffset, k, count);
    const status = this.#raw.reduce(dtypeCode, opCode, dstOffset, tableOffset, k, count);
    if (status !== 0) throw statusError(status, dtypeCode, opCode, k, count);
  }

  reduceStrided(
    dtypeCode: number, opCode: number, dstOffset: number, tableOffset: number, src0Offset: number, strideBytes: number,
    k: number, count: number, tagBackBytes: number,
  ): boolean {
    const item = itemBytes(dtypeCode), align = ALIGN_BYTES[dtypeCode]!;
    const size = sizeOf(count, item);
    if (!(k >= 1 && (k | 0) === k)) checkInteger('k', k, 1, KERNEL_COUNT_MAX);
    if (!(strideBytes >= size && strideBytes % item === 0)) {
      throw outOfRange(
        `\`strideBytes\` (${strideBytes}) must be a multiple of the item size (${item}) and at least the input size ` +
          `(${size} bytes)`,
      );
    }
    const tagOk = tagBackBytes === 0 || (tagBackBytes >= KERNEL_TAG_BYTES && (tagBackBytes | 0) === tagBackBytes);
    if (!tagOk) badTagBack(tagBackBytes);
    this.#span('dstOffset', dstOffset, size, align);
    this.#span('tableOffset', tableOffset, k * 4, 4);
    // Every input and its tag lie in [inputs, inputsEnd).
    const inputs = src0Offset - tagBackBytes, inputsEnd = src0Offset + (k - 1) * strideBytes + size;
    this.#span('src0Offset - tagBackBytes', inputs, inputsEnd - inputs, 1);
    if (src0Offset % align !== 0) this.#span('src0Offset', src0Offset, size, align); // throws: misaligned
    if (
      !disjoint(dstOffset, size, inputs, inputsEnd - inputs) ||
        !disjoint(tableOffset, 4 * k, inputs, inputsEnd - inputs) || !disjoint(tableOffset, 4 * k, dstOffset, size)
    ) {
      throw outOfRange(
        `The inputs (${inputs}..${inputsEnd}), \`tableOffset\` (${tableOffset}, ${4 * k} bytes) and \`dstOffset\` ` +
          `(${dstOffset}, ${size} bytes) must not overlap`,
      );
    }
    const status = this.#raw.reduceStrided(
      dtypeCode, opCode, dstOffset, tableOffset, src0Offset, strideBytes, k, count, tagBackBytes,
    );
    if (status === KERNEL_STATUS.TAG_MISMATCH) return false;
    if (status !== 0) throw statusError(status, dtypeCode, opCode, k, count);
    return true;
  }

  /** The arguments of a table reduce: dst and the table in bounds and apart, every input fits. */
  #checkTable(dtypeCode: number, dstOffset: number, tableOffset: number, k: number, count: number): void {
    const item = itemBytes(dtypeCode), align = ALIGN_BYTES[dtypeCode]!;
    const size = sizeOf(count, item);
    if (!(k >= 1 && (k | 0) === k)) checkInteger('k', k, 1, KERNEL_COUNT_MAX);
    this.#span('dstOffset', dstOffset, size, align);
    this.#span('tableOffset', tableOffset, k * 4, 4);
    if (tableOffset < dstOffset + size && dstOffset < tableOffset + k * 4) {
      throw outOfRange(
        `\`tableOffset\` (${tableOffset}, ${k * 4} bytes) overlaps \`dstOffset\` (${dstOffset}, ${size} bytes): the ` +
          `kernel reads the table while it writes dst`,
      );
    }
    const words = this.#words;
    const limit = this.#limitBytes;
    for (let j = 0, at = tableOffset >>> 2; j < k; j++, at++) {
      const src = words[at]!; // a u32: never negative or fractional
      const fits = src % align === 0 && src + size <= limit &&
        (src === dstOffset || src >= dstOffset + size || dstOffset >= src + size);
      if (!fits) this.#input(`table[${j}]`, src, dstOffset, size, align); // throws with the reason
    }
  }

  reduce2(dtypeCode: number, opCode: number, dstOffset: number, aOffset: number, bOffset: number, count: number): void {
    const item = itemBytes(dtypeCode), align = ALIGN_BYTES[dtypeCode]!;
    const size = sizeOf(count, item);
    this.#span('dstOffset', dstOffset, size, align);
    this.#input('aOffset', aOffset, dstOffset, size, align);
    this.#input('bOffset', bOffset, dstOffset, size, align);
    const status = this.#raw.reduce2(dtypeCode, opCode, dstOffset, aOffset, bOffset, count);
    if (status !== 0) throw statusError(status, dtypeCode, opCode, 2, count);
  }

  copy(dstOffset: number, srcOffset: number, sizeBytes: number): void {
    checkBytes(sizeBytes);
    this.#span('dstOffset', dstOffset, sizeBytes, 1);
    this.#span('srcOffset', srcOffset, sizeBytes, 1);
    this.#raw.copy(dstOffset, srcOffset, sizeBytes);
  }

  fill(dstOffset: number, value: number, sizeBytes: number): void {
    if (!(value >= 0 && value <= 255 && (value | 0) === value)) checkInteger('value', value, 0, 255);
    checkBytes(sizeBytes);
    this.#span('dstOffset', dstOffset, sizeBytes, 1);
    this.#raw.fill(dstOffset, value, sizeBytes);
  }

  f16ToF32(dstOffset: number, srcOffset: number, count: number): void {
    this.#convert(this.#raw.f16ToF32, dstOffset, 4, srcOffset, 2, count);
  }

  f32ToF16(dstOffset: number, srcOffset: number, count: number): void {
    this.#convert(this.#raw.f32ToF16, dstOffset, 2, srcOffset, 4, count);
  }

  bf16ToF32(dstOffset: number, srcOffset: number, count: number): void {
    this.#convert(this.#raw.bf16ToF32, dstOffset, 4, srcOffset, 2, count);
  }

  f32ToBf16(dstOffset: number, srcOffset: number, count: number): void {
    this.#convert(this.#raw.f32ToBf16, dstOffset, 2, srcOffset, 4, count);
  }

  #convert(
    fn: (dst: number, src: number, n: number) => void, dst: number, dstItem: number, src: number, srcItem: number,
    count: number,
  ): void {
    const dstSize = sizeOf(count, dstItem);
    const srcSize = count * srcItem;
    this.#span('dstOffset', dst, dstSize, dstItem);
    this.#span('srcOffset', src, srcSize, srcItem);
    if (dst < src + srcSize && src < dst + dstSize && count > 0) {
      throw outOfRange(
        `\`dstOffset\` (${dst}, ${dstSize} bytes) overlaps \`srcOffset\` (${src}, ${srcSize} bytes): a conversion ` +
          `needs separate buffers`,
      );
    }
    fn(dst, src, count);
  }

  /** An input range: in bounds, aligned, and either exactly dst or disjoint from it. */
  #input(name: string, offset: number, dst: number, size: number, align: number): void {
    this.#span(name, offset, size, align);
    if (offset !== dst && offset < dst + size && dst < offset + size) {
      throw outOfRange(
        `\`${name}\` (${offset}) overlaps \`dstOffset\` (${dst}) by part of ${size} bytes: an input must be exactly ` +
          `dst or disjoint from it`,
      );
    }
  }

  /** Asserts `[offset, offset + size)` lies in the memory and offset is a multiple of align. */
  #span(name: string, offset: number, size: number, align: number): void {
    if (offset >= 0 && offset % align === 0 && offset + size <= this.#limitBytes) return;
    this.#refresh();
    checkInteger(name, offset, 0);
    if (offset % align !== 0) {
      throw outOfRange(`\`${name}\` (${offset}) must be a multiple of the element size ${align}`);
    }
    if (offset + size > this.#limitBytes) {
      throw outOfRange(
        `\`${name}\` range [${offset}, ${offset + size}) is outside the shared memory (${this.#limitBytes} bytes)`,
      );
    }
  }

  #refresh(): void {
    const buffer = this.memory.buffer;
    this.#limitBytes = buffer.byteLength;
    this.#words = new Uint32Array(buffer);
  }
}

function itemBytes(dtypeCode: number): number {
  const item = ITEM_BYTES[dtypeCode];
  if (item === undefined) {
    throw outOfRange(
      `Expected \`dtypeCode\` to be a dtype code (${codeList(DTYPES, (d) => dtypeInfo(d).code)}), got ` +
        `${describe(dtypeCode)}`,
    );
  }
  return item;
}

/** `count * item` after checking count is an integer in 0..KERNEL_COUNT_MAX. */
function sizeOf(count: number, item: number): number {
  if (!(count >= 0 && count <= KERNEL_COUNT_MAX && (count | 0) === count)) {
    checkInteger('count', count, 0, KERNEL_COUNT_MAX);
  }
  return count * item;
}

/** Throws for a `tagBackBytes` that is not 0 or an integer from KERNEL_TAG_BYTES up. */
function badTagBack(tagBackBytes: number): never {
  checkInteger('tagBackBytes', tagBackBytes, 0, KERNEL_COUNT_MAX);
  const what = `\`tagBackBytes\` (${tagBackBytes})`;
  throw outOfRange(`${what} must be 0 or at least the tag size (${KERNEL_TAG_BYTES} bytes)`);
}

/** A byte count for copy/fill: an integer that fits the kernels' u32. */
function checkBytes(sizeBytes: number): void {
  if ((sizeBytes >>> 0) !== sizeBytes) checkInteger('sizeBytes', sizeBytes, 0, 0xffffffff);
}

/** Whether byte ranges [a, a + aBytes) and [b, b + bBytes) share no byte. */
function disjoint(a: number, aBytes: number, b: number, bBytes: number): boolean {
  return aBytes === 0 || bBytes === 0 || a + aBytes <= b || b + bBytes <= a;
}

function statusError(status: number, dtypeCode: number, opCode: number, k: number, count: number): Error {
  switch (status) {
    case KERNEL_STATUS.OP_NOT_ALLOWED: {
      const dtype = dtypeFromCode(dtypeCode)!, op = REDUCE_OPS.find((o) => REDUCE_OP_CODES[o] === opCode)!;
      const what = `Reduce op "${op}" (code ${opCode}) is not allowed on dtype "${dtype}" (code ${dtypeCode})`;
      return dtypeError(`${what}: ${reduceOpRefusal(dtype, op)}`);
    }
    case KERNEL_STATUS.BAD_OP:
      return outOfRange(
        `Expected \`opCode\` to be a reduce op code ` +
          `(${codeList(REDUCE_OPS, (o) => REDUCE_OP_CODES[o as keyof typeof REDUCE_OP_CODES])}), got ${opCode}`,
      );
    case KERNEL_STATUS.BAD_DTYPE:
      return outOfRange(`Expected \`dtypeCode\` to be a dtype code, got ${dtypeCode}`);
    case KERNEL_STATUS.BAD_K:
      return outOfRange(`Expected \`k\` to be an integer >= 1, got ${k}`);
    case KERNEL_STATUS.BAD_N:
      return outOfRange(`Expected \`count\` to be a non-negative integer, got ${count}`);
    default:
      return new MultirankError(ErrorCodes.INVALID_ARG_VALUE, `The reduce kernel returned an unknown status ${status}`);
  }
}
