/**
 * The results block: one SharedArrayBuffer that the driver allocates and hands to every rank (in the
 * launch args), where the ranks leave each row's measurements and the driver reads them while the job
 * runs (rows are printed as they finish, as nccl-tests does).
 *
 *   byte 0                 CONTROL_BYTES                scratch                              summaries
 *   +---------------------+---------------------------------------------+-----------------------------------+
 *   | Int32 control words | Float64 scratch of the current row          | Float64 summary of row 0, 1, ...  |
 *   +---------------------+---------------------------------------------+-----------------------------------+
 *   control: [0] MAGIC  [1] rowsDone (summaries 0..rowsDone-1 are final)  [15] MAGIC (canary)
 *   scratch (rank r writes only its own slices):
 *     times[mode][r][iter]                per-iteration time of rank r, µs (mode 0 out-of-place, 1 in-place)
 *     ceilStart[kind][r][rep], ceilEnd[kind][r][rep]   ceiling kernel start/end, ns on the process clock
 *     wrong[mode][r]                      #wrong of rank r's checked result (-1: not checked)
 *   summary of a row (rank 0 writes it): iterMax[mode][iter] | wrong[mode] | ceilSpanNs[kind][rep]
 *
 * Order of a row: start barrier -> every rank writes its scratch slices -> end barrier -> rank 0 folds
 * scratch into the row's summary -> rank 0 stores rowsDone = row + 1 (Atomics.store) and notifies.
 * Invariants and why the order is safe: (1) the barriers are sequentially consistent Atomics, so every
 * plain Float64 write before a barrier is visible to rank 0 after it; (2) no rank writes scratch for the
 * next row before that row's start barrier, which rank 0 joins only after it finished folding, so the
 * fold never reads a half-overwritten scratch; (3) the driver reads a summary only after an Atomics.load
 * of rowsDone has shown it, and rank 0 wrote it before the Atomics.store, so it reads final values.
 */
import { outOfRange } from '../errors.js';
import { maxOverRanks, spanOverRanks } from './stats.js';

/** `Atomics.waitAsync` (Node 16+; not in the ES2022 lib typings this package compiles against). */
type WaitAsync = (array: Int32Array, index: number, value: number, timeoutMs: number) =>
  { async: boolean; value: Promise<string> | string };
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

const MAGIC = 0x62656e63; // "benc"
const C_MAGIC = 0, C_ROWS_DONE = 1, C_CANARY = 15;
const CONTROL_BYTES = 64;
/** Out-of-place (0) and in-place (1). */
export const MODES = 2;
/** Ceiling kernels: copy (0) and reduce (1). */
export const CEILING_KINDS = 2;
/** Largest results block (a guard against huge iteration counts times many rows). */
export const RESULTS_BYTES_MAX = 512 * 1024 * 1024;

/** The dimensions a results block is laid out for (rows, ranks, iterations, ceiling repetitions). */
export interface ResultsShape {
  readonly rows: number;
  readonly ranks: number;
  readonly iters: number;
  readonly reps: number;
}

/** One row's folded measurements (copies: the block may be reused). */
export interface RowSummary {
  /** Per mode, each iteration's slowest-rank time in µs. */
  readonly iterMaxUs: [Float64Array, Float64Array];
  /** Per mode, #wrong summed over ranks (-1 when not checked). */
  readonly wrong: [number, number];
  /** Per ceiling kind, each repetition's span (first start to last end over ranks) in ns. */
  readonly ceilingSpanNs: [Float64Array, Float64Array];
}

/** Typed access to the block, for the driver and for the ranks (see the layout above). */
export class ResultsBlock {
  readonly buffer: SharedArrayBuffer;
  readonly shape: ResultsShape;
  readonly #control: Int32Array;
  readonly #f64: Float64Array;
  readonly #scratchWords: number;
  readonly #summaryWords: number;

  /** Float64 words of the scratch area and of one row's summary. */
  static words(shape: ResultsShape): { scratch: number; summary: number } {
    const { ranks, iters, reps } = shape;
    return {
      scratch: MODES * ranks * iters + 2 * CEILING_KINDS * ranks * reps + MODES * ranks,
      summary: MODES * iters + MODES + CEILING_KINDS * reps,
    };
  }

  /** A new, formatted block. @throws RangeError when it would exceed RESULTS_BYTES_MAX. */
  static create(shape: ResultsShape): ResultsBlock {
    const { scratch, summary } = ResultsBlock.words(shape);
    const bytes = CONTROL_BYTES + 8 * (scratch + shape.rows * summary);
    if (bytes > RESULTS_BYTES_MAX) {
      throw outOfRange(
        `The run's results need ${bytes} bytes (rows x iterations); ask for fewer rows or iterations (at most ` +
          `${RESULTS_BYTES_MAX} bytes)`,
      );
    }
    const buffer = new SharedArrayBuffer(bytes);
    const control = new Int32Array(buffer, 0, CONTROL_BYTES / 4);
    control[C_MAGIC] = MAGIC;
    control[C_CANARY] = MAGIC;
    return new ResultsBlock(buffer, shape);
  }

  /** Attaches to a block made by `create` (in a rank). @throws RangeError when the canaries do not match. */
  constructor(buffer: SharedArrayBuffer, shape: ResultsShape) {
    this.buffer = buffer;
    this.shape = shape;
    this.#control = new Int32Array(buffer, 0, CONTROL_BYTES / 4);
    if (Atomics.load(this.#control, C_MAGIC) !== MAGIC || Atomics.load(this.#control, C_CANARY) !== MAGIC) {
      throw outOfRange('The results block is not formatted (its magic words do not match)');
    }
    const { scratch, summary } = ResultsBlock.words(shape);
    this.#scratchWords = scratch;
    this.#summaryWords = summary;
    this.#f64 = new Float64Array(buffer, CONTROL_BYTES, scratch + shape.rows * summary);
  }

  /** Rank `rank`'s per-iteration times of `mode` (write-only for that rank). */
  times(mode: number, rank: number): Float64Array {
    const { ranks, iters } = this.shape;
    return this.#f64.subarray((mode * ranks + rank) * iters, (mode * ranks + rank + 1) * iters);
  }

  /** Rank `rank`'s ceiling start (`end` false) or end times of `kind`. */
  ceiling(kind: number, rank: number, end: boolean): Float64Array {
    const { ranks, iters, reps } = this.shape;
    const at = MODES * ranks * iters + ((end ? CEILING_KINDS : 0) + kind) * ranks * reps + rank * reps;
    return this.#f64.subarray(at, at + reps);
  }

  /** Records rank `rank`'s #wrong for `mode` (-1: not checked). */
  setWrong(mode: number, rank: number, wrong: number): void {
    const { ranks, iters, reps } = this.shape;
    this.#f64[MODES * ranks * iters + 2 * CEILING_KINDS * ranks * reps + mode * ranks + rank] = wrong;
  }

  #wrongOf(mode: number, rank: number): number {
    const { ranks, iters, reps } = this.shape;
    return this.#f64[MODES * ranks * iters + 2 * CEILING_KINDS * ranks * reps + mode * ranks + rank]!;
  }

  /** Rank 0, after the row's end barrier: folds the scratch into row `row`'s summary and publishes it. */
  publish(row: number): void {
    const { ranks, iters, reps } = this.shape;
    const base = this.#scratchWords + row * this.#summaryWords;
    const all = Array.from({ length: ranks }, (_, r) => r);
    for (let mode = 0; mode < MODES; mode++) {
      this.#f64.set(maxOverRanks(all.map((r) => this.times(mode, r)), iters), base + mode * iters);
      const wrongs = all.map((r) => this.#wrongOf(mode, r));
      this.#f64[base + MODES * iters + mode] = wrongs.some((w) => w < 0) ? -1 : wrongs.reduce((a, b) => a + b, 0);
    }
    for (let kind = 0; kind < CEILING_KINDS; kind++) {
      const spans = spanOverRanks(
        all.map((r) => this.ceiling(kind, r, false)), all.map((r) => this.ceiling(kind, r, true)), reps,
      );
      this.#f64.set(spans, base + MODES * iters + MODES + kind * reps);
    }
    Atomics.store(this.#control, C_ROWS_DONE, row + 1);
    Atomics.notify(this.#control, C_ROWS_DONE);
  }

  /** Rows whose summaries are final. */
  rowsDone(): number {
    return Atomics.load(this.#control, C_ROWS_DONE);
  }

  /** Resolves when rowsDone differs from `seen`, or after `timeoutMs` (driver side; does not block). */
  async waitRows(seen: number, timeoutMs: number): Promise<number> {
    const waiter = waitAsync(this.#control, C_ROWS_DONE, seen, timeoutMs);
    if (waiter.async) await waiter.value;
    return this.rowsDone();
  }

  /** A copy of row `row`'s summary. */
  summary(row: number): RowSummary {
    const { iters, reps } = this.shape;
    const base = this.#scratchWords + row * this.#summaryWords;
    const slice = (at: number, n: number): Float64Array => this.#f64.slice(base + at, base + at + n);
    return {
      iterMaxUs: [slice(0, iters), slice(iters, iters)],
      wrong: [this.#f64[base + MODES * iters]!, this.#f64[base + MODES * iters + 1]!],
      ceilingSpanNs: [slice(MODES * iters + MODES, reps), slice(MODES * iters + MODES + reps, reps)],
    };
  }
}
