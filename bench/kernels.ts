/**
 * Kernel bandwidth against wasm `memory.copy` of the same buffers, measured in the same run.
 *
 *   node dist/bench/kernels.js [--json] [--reps 7] [--size-mib 64]
 *
 * Byte accounting as STREAM: bytes read + bytes written per call (copy = 2S, out-of-place sum of two =
 * 3S, fused k-input sum = (k+1)S, in-place `dst += src` = 3S). Each row alternates kernel and copy reps
 * so both see the same machine load; the figure is the median, the spread is [min, max] of the kernel.
 */
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { instantiateKernels, type Kernels } from '../src/shm/kernels.js';
import { dtypeInfo, REDUCE_OP_CODES, type DType } from '../src/tensor/dtype.js';

const PAGE_BYTES = 65536;
const MIB = 1 << 20;
const INPUTS_MAX = 4;
const WARMUP_SMALL_CALLS = 20;

interface Options {
  readonly json: boolean;
  readonly reps: number;
  readonly sizeBytes: number;
}

interface Row {
  readonly name: string;
  readonly bytesPerCall: number;
  readonly medianMs: number;
  readonly minMs: number;
  readonly maxMs: number;
  readonly gbPerS: number;
  readonly copyGbPerS: number;
  readonly ratioToCopy: number;
}

function parseOptions(argv: readonly string[]): Options {
  const value = (flag: string, fallback: number): number => {
    const at = argv.indexOf(flag);
    const parsed = at >= 0 ? Number(argv[at + 1]) : fallback;
    if (!Number.isInteger(parsed) || parsed < 1) {
      throw new RangeError(`Expected \`${flag}\` to be a positive integer, got ${argv[at + 1]}`);
    }
    return parsed;
  };
  return { json: argv.includes('--json'), reps: value('--reps', 7), sizeBytes: value('--size-mib', 64) * MIB };
}

/** Fixed layout: INPUTS_MAX inputs, one output and one scratch buffer of S bytes each, then the table. */
class Bench {
  readonly memory: WebAssembly.Memory;
  readonly kernels: Kernels;
  readonly src: number[];
  readonly dst: number;
  readonly scratch: number;
  readonly table: number;

  constructor(readonly options: Options) {
    const s = options.sizeBytes;
    const pages = Math.ceil(((INPUTS_MAX + 2) * s + PAGE_BYTES) / PAGE_BYTES);
    this.memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
    this.kernels = instantiateKernels(this.memory);
    this.src = Array.from({ length: INPUTS_MAX }, (_, j) => j * s);
    this.dst = INPUTS_MAX * s;
    this.scratch = (INPUTS_MAX + 1) * s;
    this.table = (INPUTS_MAX + 2) * s;
  }

  /** Fills the inputs with ordinary (normal, finite) values of the dtype: a 1 MiB pattern, then doubling copies. */
  fill(dtype: DType): void {
    const s = this.options.sizeBytes;
    const buffer = this.memory.buffer;
    for (let j = 0; j < INPUTS_MAX; j++) {
      const at = this.src[j]!;
      if (dtype === 'float32') {
        new Float32Array(buffer, at, MIB / 4).forEach((_, i, a) => (a[i] = 1 + (i % 1000) * 0.25 + j));
      } else if (dtype === 'float64') {
        new Float64Array(buffer, at, MIB / 8).forEach((_, i, a) => (a[i] = 1 + (i % 1000) * 0.25 + j));
      } else if (dtype === 'float16') {
        new Uint16Array(buffer, at, MIB / 2).forEach((_, i, a) => (a[i] = 0x3c00 + ((i + j) & 0x3ff)));
      } else if (dtype === 'bfloat16') {
        new Uint16Array(buffer, at, MIB / 2).forEach((_, i, a) => (a[i] = 0x3f80 + ((i + j) & 0x7f)));
      } else new Uint8Array(buffer, at, MIB).forEach((_, i, a) => (a[i] = (i * 7 + j) & 0xff));
      for (let done = MIB; done < s; done *= 2) this.kernels.copy(at + done, at, Math.min(done, s - done));
    }
    new Uint32Array(buffer, this.table, INPUTS_MAX).set(this.src);
  }

  /** Median time of `run` beside `memory.copy` of S bytes, reps interleaved. */
  measure(name: string, bytesPerCall: number, run: (count: number) => void, itemBytes: number): Row {
    const s = this.options.sizeBytes;
    for (let i = 0; i < WARMUP_SMALL_CALLS; i++) run(MIB / itemBytes); // tier up to the optimising compiler
    run(s / itemBytes);
    const times: number[] = [];
    const copyTimes: number[] = [];
    for (let r = 0; r < this.options.reps; r++) {
      times.push(timeMs(() => run(s / itemBytes)));
      copyTimes.push(timeMs(() => this.kernels.copy(this.scratch, this.src[0]!, s)));
    }
    const medianMs = median(times);
    const gbPerS = bytesPerCall / medianMs / 1e6;
    const copyGbPerS = (2 * s) / median(copyTimes) / 1e6;
    return {
      name, bytesPerCall, medianMs, minMs: Math.min(...times), maxMs: Math.max(...times), gbPerS, copyGbPerS,
      ratioToCopy: gbPerS / copyGbPerS,
    };
  }
}

function timeMs(fn: () => void): number {
  const start = performance.now();
  fn();
  return performance.now() - start;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Out-of-place sum (or another op) of two inputs of one dtype: 3S bytes. */
function pairRow(b: Bench, dtype: DType, op: 'sum' | 'max', name: string): Row {
  b.fill(dtype);
  const info = dtypeInfo(dtype);
  const s = b.options.sizeBytes;
  const run = (count: number): void => b.kernels.reduce2(
    info.code, REDUCE_OP_CODES[op], b.dst, b.src[0]!, b.src[1]!, count,
  );
  const row = b.measure(name, 3 * s, run, info.itemBytes);
  spotCheck(b, dtype, op);
  return row;
}

/** Checks 1000 spread-out elements of the last pair result against plain JS (f32, f64, i32, i64 rows). */
function spotCheck(b: Bench, dtype: DType, op: 'sum' | 'max'): void {
  const count = b.options.sizeBytes / dtypeInfo(dtype).itemBytes;
  const view = (at: number): ArrayLike<number | bigint> =>
    dtype === 'float32' ? new Float32Array(b.memory.buffer, at, count)
      : dtype === 'float64' ? new Float64Array(b.memory.buffer, at, count)
        : dtype === 'int32' ? new Int32Array(b.memory.buffer, at, count)
          : new BigInt64Array(b.memory.buffer, at, count);
  const expect = (x: number | bigint, y: number | bigint): number | bigint => {
    if (typeof x === 'bigint') return op === 'max' ? (x > y ? x : y) : BigInt.asIntN(64, x + (y as bigint));
    const r = op === 'max' ? Math.max(x, y as number) : x + (y as number);
    return dtype === 'float32' ? Math.fround(r) : dtype === 'int32' ? r | 0 : r;
  };
  if (!['float32', 'float64', 'int32', 'int64'].includes(dtype)) return;
  const [a, c, d] = [view(b.src[0]!), view(b.src[1]!), view(b.dst)];
  for (let i = 0; i < count; i += Math.floor(count / 1000)) {
    if (d[i] !== expect(a[i]!, c[i]!)) {
      throw new Error(`${dtype} ${op} element ${i}: expected ${expect(a[i]!, c[i]!)}, got ${d[i]}`);
    }
  }
}

/** Fused 4-input f32 sum (5S bytes) and the pairwise way: copy, then 3 in-place reduce2 (11S bytes). */
function fusedRows(b: Bench): Row[] {
  b.fill('float32');
  const s = b.options.sizeBytes;
  const f32 = dtypeInfo('float32').code;
  const sum = REDUCE_OP_CODES.sum;
  const fused = (count: number): void => b.kernels.reduce(f32, sum, b.dst, b.table, INPUTS_MAX, count);
  const pairwise = (count: number): void => {
    b.kernels.copy(b.dst, b.src[0]!, count * 4);
    for (let j = 1; j < INPUTS_MAX; j++) b.kernels.reduce2(f32, sum, b.dst, b.dst, b.src[j]!, count);
  };
  const rows = [
    b.measure('f32 sum, 4 inputs fused', 5 * s, fused, 4), b.measure('f32 sum, 4 inputs pairwise', 11 * s, pairwise, 4),
  ];
  b.kernels.copy(b.scratch, b.dst, s); // pairwise result
  fused(s / 4);
  if (Buffer.compare(new Uint8Array(b.memory.buffer, b.dst, s), new Uint8Array(b.memory.buffer, b.scratch, s)) !== 0) {
    throw new Error('fused and pairwise 4-input f32 sums differ: both must be ((s0 + s1) + s2) + s3');
  }
  return rows;
}

/** A conversion from S bytes of `from` elements: reads S, writes S * outBytes / inBytes. */
function convertRow(b: Bench, name: 'f32ToBf16' | 'bf16ToF32' | 'f32ToF16' | 'f16ToF32'): Row {
  const toF32 = name.endsWith('ToF32');
  b.fill(name.startsWith('f16') ? 'float16' : name.startsWith('bf16') ? 'bfloat16' : 'float32');
  const s = b.options.sizeBytes;
  const [inBytes, outBytes] = toF32 ? [2, 4] : [4, 2];
  const count = (n: number): number => Math.min(n, s / Math.max(inBytes, outBytes)); // output fits in S
  const run = (n: number): void => b.kernels[name](b.dst, b.src[0]!, count(n));
  const elements = count(s / inBytes);
  return b.measure(`convert ${name}`, elements * (inBytes + outBytes), run, inBytes);
}

interface Goal {
  readonly goal: string;
  readonly value: number;
  readonly target: number;
  readonly met: boolean;
}

function goals(rows: readonly Row[]): Goal[] {
  const row = (name: string): Row => rows.find((r) => r.name === name)!;
  const goal = (text: string, value: number, target: number): Goal => ({
    goal: text, value, target, met: value >= target,
  });
  // 16-bit rows against f32 with each normalised by the memory.copy interleaved with it, so that load from
  // other processes between the two rows cancels out.
  const f32 = row('f32 sum of 2').ratioToCopy;
  return [
    goal('f32 sum of 2 / memory.copy (bytes/s)', row('f32 sum of 2').ratioToCopy, 0.9),
    goal('f64 sum of 2 / memory.copy (bytes/s)', row('f64 sum of 2').ratioToCopy, 0.9),
    goal('i32 sum of 2 / memory.copy (bytes/s)', row('i32 sum of 2').ratioToCopy, 0.9),
    goal(
      'fused 4-input f32 speed-up over pairwise (time)',
      row('f32 sum, 4 inputs pairwise').medianMs / row('f32 sum, 4 inputs fused').medianMs, 1.5,
    ),
    goal('bf16 sum of 2 / f32 sum of 2 (bytes/s, per copy)', row('bf16 sum of 2').ratioToCopy / f32, 0.5),
    goal('f16 sum of 2 / f32 sum of 2 (bytes/s, per copy)', row('f16 sum of 2').ratioToCopy / f32, 0.2),
  ];
}

function runAll(b: Bench): Row[] {
  return [
    pairRow(b, 'float32', 'sum', 'f32 sum of 2'),
    pairRow(b, 'float64', 'sum', 'f64 sum of 2'),
    pairRow(b, 'int32', 'sum', 'i32 sum of 2'),
    pairRow(b, 'int64', 'sum', 'i64 sum of 2'),
    pairRow(b, 'float32', 'max', 'f32 max of 2'),
    ...fusedRows(b),
    pairRow(b, 'bfloat16', 'sum', 'bf16 sum of 2'),
    pairRow(b, 'float16', 'sum', 'f16 sum of 2'),
    convertRow(b, 'f32ToBf16'),
    convertRow(b, 'bf16ToF32'),
    convertRow(b, 'f32ToF16'),
    convertRow(b, 'f16ToF32'),
  ];
}

function printTable(rows: readonly Row[], gs: readonly Goal[], options: Options): void {
  const pad = (v: string, w: number): string => v.padStart(w);
  console.log(
    `# kernels: ${options.sizeBytes / MIB} MiB per buffer, median of ${options.reps} reps, node ${process.version}, ` +
      `${cpus()[0]?.model ?? 'unknown CPU'}`,
  );
  console.log(
    `# ${'kernel'.padEnd(28)} ${pad('MB/call', 8)} ${pad('ms', 8)} ${pad('[min-max ms]', 15)} ${pad('GB/s', 7)} ` +
      `${pad('copy GB/s', 10)} ${pad('ratio', 6)}`,
  );
  for (const r of rows) {
    const spread = `[${r.minMs.toFixed(1)}-${r.maxMs.toFixed(1)}]`;
    console.log(
      `  ${r.name.padEnd(28)} ${pad((r.bytesPerCall / MIB).toFixed(0), 8)} ${pad(r.medianMs.toFixed(2), 8)} ` +
        `${pad(spread, 15)} ${pad(r.gbPerS.toFixed(2), 7)} ${pad(r.copyGbPerS.toFixed(2), 10)} ` +
        `${pad(r.ratioToCopy.toFixed(2), 6)}`,
    );
  }
  console.log('# goals');
  for (const g of gs) {
    console.log(`  ${g.met ? 'met   ' : 'MISSED'} ${g.goal.padEnd(50)} ${g.value.toFixed(2)} (target >= ${g.target})`);
  }
}

function commit(): string {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

function main(): void {
  const options = parseOptions(process.argv.slice(2));
  const rows = runAll(new Bench(options));
  const gs = goals(rows);
  if (options.json) {
    const meta = {
      node: process.version, cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, commit: commit(),
      sizeBytes: options.sizeBytes, reps: options.reps, date: new Date().toISOString(),
    };
    console.log(JSON.stringify({ ...meta, rows, goals: gs }, null, 2));
  } else {
    printTable(rows, gs, options);
  }
}

main();
