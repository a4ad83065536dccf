/**
 * The machine's ceiling, measured by the ranks themselves in the same run as the collectives: for each
 * row, every rank runs the wasm kernels over buffers of the row's size at the same moment as its peers,
 * with no synchronisation inside the timed span (repetitions are interleaved with the row's iterations):
 *   copy   - every rank copies S bytes (memory.copy): 2·W·S bytes of traffic;
 *   reduce - every rank reduces its 1/W slice of all W ranks' S-byte buffers with the fused k-input
 *            kernel (the first phase of a traffic-minimal allReduce): (W+1)·S bytes.
 * A repetition is one barrier, then `ceilingInnerReps(S)` kernel calls; its span (first start to last
 * end over ranks, on the process clock) is the time all ranks took together. The driver turns the
 * median span into bandwidth and the better of the two into the row's memory floor (ceiling.ts).
 */
import { currentRank } from '../state/current-rank.js';
import type { GroupCoordinator } from '../group/coordinator.js';
import { dtypeInfo, effectiveReduceOp, REDUCE_OP_CODES } from '../tensor/dtype.js';
import { empty, type Tensor } from '../tensor/tensor.js';
import type { BenchCase } from './plan.js';
import type { ResultsBlock } from './results-block.js';
import { sliceOf } from '../comm/slices.js';

/** Each repetition moves at least this many bytes per rank (small rows repeat the kernel), ... */
export const CEILING_TARGET_BYTES = 1 << 20;
/** ... with at most this many kernel calls per repetition. */
export const CEILING_INNER_MAX = 1024;
/** The byte value the ceiling buffers are filled with (0x3f3f... is a normal number in every float dtype). */
const FILL_BYTE = 0x3f;
const COPY = 0, REDUCE = 1;

/** Kernel calls per timed repetition for buffers of `sizeBytes`. */
export function ceilingInnerReps(sizeBytes: number): number {
  if (sizeBytes <= 0) return 0;
  return Math.min(CEILING_INNER_MAX, Math.max(1, Math.ceil(CEILING_TARGET_BYTES / sizeBytes)));
}

/** Bytes all ranks move in one repetition of `kind` (0 copy, 1 reduce) for a row of `sizeBytes`. */
export function ceilingBytes(kind: number, sizeBytes: number, itemBytes: number, ranks: number): number {
  const inner = ceilingInnerReps(sizeBytes);
  const count = Math.floor(sizeBytes / itemBytes);
  return kind === COPY ? inner * ranks * 2 * sizeBytes : inner * (ranks + 1) * count * itemBytes;
}

/**
 * The ceiling buffers of one row on this rank (S-byte source and destination, and the k-input reduce's
 * table of every rank's source), allocated for the row so that repetitions can be interleaved with the
 * collective's iterations: both then see the same machine load.
 */
export class CeilingProbe {
  readonly #world: GroupCoordinator;
  readonly #block: ResultsBlock;
  readonly #clockBase: bigint;
  readonly #tensors: Tensor[];
  readonly #kernels: Array<() => void>;
  readonly #inner: number;

  /** Allocates and fills the buffers and exchanges the sources' offsets (a collective: every rank constructs one). */
  constructor(world: GroupCoordinator, row: BenchCase, block: ResultsBlock, clockBase: bigint) {
    const kernels = currentRank()?.threads.kernels;
    if (kernels === undefined) throw new TypeError('CeilingProbe must be made inside a rank of a multirank job');
    this.#world = world;
    this.#block = block;
    this.#clockBase = clockBase;
    const size = row.sizeBytes, info = dtypeInfo(row.dtype);
    const src = empty([size], { dtype: 'uint8', shared: true });
    const dst = empty([size], { dtype: 'uint8', shared: true });
    const table = empty([world.worldSize], { dtype: 'int32', shared: true });
    this.#tensors = [src, dst, table];
    kernels.fill(src.byteOffset, FILL_BYTE, size);
    kernels.fill(dst.byteOffset, FILL_BYTE, size); // touch every page before timing
    const [lo, hi] = sliceOf(
      Math.floor(size / info.itemBytes), info.itemBytes, world.worldSize, world.rankInGroup,
    );
    const words = table.data as Int32Array;
    world.allGatherObject(src.byteOffset).forEach((offset, j) => (words[j] = offset + lo * info.itemBytes));
    const opCode = REDUCE_OP_CODES[effectiveReduceOp(row.dtype, 'sum')];
    this.#inner = ceilingInnerReps(size);
    this.#kernels = [
      () => kernels.copy(dst.byteOffset, src.byteOffset, size),
      () => kernels.reduce(
        info.code, opCode, dst.byteOffset + lo * info.itemBytes, table.byteOffset, world.worldSize, hi - lo,
      ),
    ];
  }

  /** Repetition `rep` of both kernels: each after a barrier, its start and end recorded in the block. */
  rep(rep: number): void {
    const rank = this.#world.rankInGroup;
    for (const kind of [COPY, REDUCE]) {
      const kernel = this.#kernels[kind]!;
      this.#world.barrier();
      const start = process.hrtime.bigint();
      for (let m = 0; m < this.#inner; m++) kernel();
      this.#block.ceiling(kind, rank, true)[rep] = Number(process.hrtime.bigint() - this.#clockBase);
      this.#block.ceiling(kind, rank, false)[rep] = Number(start - this.#clockBase);
    }
  }

  /** Returns the buffers to the arena. */
  release(): void {
    for (const t of this.#tensors) t.release();
  }
}
