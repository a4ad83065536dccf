/**
 * Runs one reduction case through the wasm kernels and checks it against the JS reference: places the
 * inputs at (mis)aligned offsets in a shared memory, surrounds the output with guard bytes, calls
 * `reduce` (table form) or `reduce2` (pair form), optionally in place, and compares bit for bit.
 */
import { instantiateKernels, type Kernels } from '../../src/shm/kernels.js';
import { dtypeInfo, REDUCE_OP_CODES, storageView, type DType, type ReduceOp, type StorageArray } from '../../src/tensor/dtype.js';
import type { Rng } from '../helpers/mulberry32.js';
import { compareOutputs, referenceReduce } from '../helpers/reference.js';

const GUARD_BYTES = 64;
const GUARD_BYTE = 0xa5;

/** A shared memory with the kernels instantiated on it. */
export interface Env {
  readonly memory: WebAssembly.Memory;
  readonly kernels: Kernels;
}

/** A shared memory of `pages` 64 KiB pages (maximum 4096 pages). */
export function createEnv(pages = 256): Env {
  const memory = new WebAssembly.Memory({ initial: pages, maximum: 4096, shared: true });
  return { memory, kernels: instantiateKernels(memory) };
}

/**
 * The ops a dtype allows, restated from torch's rules (not read from src): floats take sum, prod, min,
 * max and avg; integers and bool sum, prod, min, max, band, bor and bxor; complex only sum and avg.
 */
export function opsFor(dtype: DType): ReduceOp[] {
  if (dtype === 'complex64' || dtype === 'complex128') return ['sum', 'avg'];
  if (['float32', 'float64', 'float16', 'bfloat16'].includes(dtype)) return ['sum', 'prod', 'min', 'max', 'avg'];
  return ['sum', 'prod', 'min', 'max', 'band', 'bor', 'bxor'];
}

/** Bytes of one storage entry: the element, or one part (re or im) of a complex element. */
export function entryBytes(dtype: DType): number {
  return dtype === 'complex64' ? 4 : dtype === 'complex128' ? 8 : dtypeInfo(dtype).itemBytes;
}

/** A bump allocator over the memory: 64-byte aligned blocks shifted by `misalignBytes`, guards between. */
class Placer {
  #next = GUARD_BYTES;
  constructor(readonly limitBytes: number) {}

  place(sizeBytes: number, misalignBytes: number): number {
    const offset = this.#next + misalignBytes;
    this.#next = Math.ceil((offset + sizeBytes + GUARD_BYTES) / 64) * 64;
    if (this.#next > this.limitBytes) throw new Error(`test case needs more than ${this.limitBytes} bytes`);
    return offset;
  }

  get usedBytes(): number {
    return this.#next;
  }
}

/** One reduction to run and check: the inputs (plain arrays) and how to lay them out. */
export interface ReduceCase {
  readonly dtype: DType;
  readonly op: ReduceOp;
  readonly inputs: readonly StorageArray[];
  /** 'table': `reduce` with k inputs; 'pair': `reduce2` (needs exactly 2 inputs). */
  readonly form: 'table' | 'pair';
  /** Write the output over input 0 or input k-1 instead of a separate buffer. */
  readonly inPlace?: 'first' | 'last';
  /** Shift each buffer by a random whole number of entries (0..15; a complex part) off 64-byte alignment. */
  readonly misalign: boolean;
}

function write(memory: WebAssembly.Memory, offset: number, data: StorageArray): void {
  new Uint8Array(memory.buffer, offset, data.byteLength).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
}

function guardsIntact(memory: WebAssembly.Memory, offset: number, sizeBytes: number): boolean {
  const bytes = new Uint8Array(memory.buffer);
  for (let i = 1; i <= GUARD_BYTES; i++) {
    if (bytes[offset - i] !== GUARD_BYTE || bytes[offset + sizeBytes + i - 1] !== GUARD_BYTE) return false;
  }
  return true;
}

/** Runs the case in the kernels; returns the output and whether the guards and untouched inputs survived. */
export function runCase(env: Env, c: ReduceCase, rng: Rng): { actual: StorageArray; damage?: string } {
  const { memory, kernels } = env;
  const info = dtypeInfo(c.dtype);
  const count = elementsOf(c);
  const sizeBytes = count * info.itemBytes;
  const shift = (): number => (c.misalign ? rng.int(0, 15) * entryBytes(c.dtype) : 0);
  const placer = new Placer(memory.buffer.byteLength);
  const table = placer.place(c.inputs.length * 4, c.misalign ? rng.int(0, 15) * 4 : 0);
  const srcs = c.inputs.map(() => placer.place(sizeBytes, shift()));
  const dst = c.inPlace === 'first' ? srcs[0]! : c.inPlace === 'last' ? srcs[srcs.length - 1]! : placer.place(sizeBytes, shift());
  new Uint8Array(memory.buffer, 0, placer.usedBytes).fill(GUARD_BYTE);
  c.inputs.forEach((input, j) => write(memory, srcs[j]!, input));
  new Uint32Array(memory.buffer, table, c.inputs.length).set(srcs);
  const opCode = REDUCE_OP_CODES[c.op];
  if (c.form === 'pair') kernels.reduce2(info.code, opCode, dst, srcs[0]!, srcs[1]!, count);
  else kernels.reduce(info.code, opCode, dst, table, c.inputs.length, count);
  const actual = storageView(c.dtype, memory.buffer, dst, count).slice();
  if (!guardsIntact(memory, dst, sizeBytes)) return { actual, damage: 'a byte next to dst was overwritten' };
  for (let j = 0; j < srcs.length; j++) {
    if (srcs[j] === dst) continue;
    const input = c.inputs[j]!;
    const now = new Uint8Array(memory.buffer, srcs[j]!, sizeBytes);
    const was = new Uint8Array(input.buffer, input.byteOffset, sizeBytes);
    if (now.some((x, i) => x !== was[i])) return { actual, damage: `input ${j} was modified` };
  }
  return { actual };
}

/** Runs the case and returns undefined when it matches the reference, else a message saying what differs. */
export function checkCase(env: Env, c: ReduceCase, rng: Rng): string | undefined {
  const { actual, damage } = runCase(env, c, rng);
  const where = `${c.dtype} ${c.op} k=${c.inputs.length} n=${elementsOf(c)} form=${c.form}${c.inPlace ? ` inPlace=${c.inPlace}` : ''}`;
  if (damage !== undefined) return `${where}: ${damage}`;
  const expected = referenceReduce(c.dtype, c.op, c.inputs, elementsOf(c));
  const bad = compareOutputs(c.dtype, expected, actual);
  if (bad === undefined) return undefined;
  const inputsAt = c.inputs.map((x) => String(x[bad.index])).join(', ');
  return `${where}: ${bad.count} wrong; first at ${bad.index}: expected ${bad.expected}, got ${bad.actual}; inputs there [${inputsAt}]`;
}

/** The element count of a case's inputs (a complex input has two entries per element). */
function elementsOf(c: ReduceCase): number {
  return c.inputs[0]!.byteLength / dtypeInfo(c.dtype).itemBytes;
}

/** A small stable hash of a string, to seed each test differently but repeatably. */
export function seedOf(name: string): number {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
  return h >>> 0;
}
