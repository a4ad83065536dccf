/**
 * multirank's `mpi` communicator in the comparison, run under mpirun as mpi-bench.c is and measured the
 * same way: P processes of T rank threads (T = 1: each process one rank, calling MPI directly; T > 1:
 * hierarchical, the threads of a process meet in shared memory and one leader per process runs MPI).
 * Per size: `warmup` untimed allReduces (float32 sum, tensors in the arena), then `iters` timed ones
 * (each rank times each call), the slowest rank's time per iteration (a max allReduce), its median; one
 * checked call on integer-valued data counts the wrong elements. Process 0 prints mpi-bench's JSON lines.
 *
 *   mpirun -np P node mpi-multirank-bench.js T MINBYTES MAXBYTES FACTOR ITERS WARMUP [WARMUP_BYTES]
 *   (as mpi-bench.c: a size gets at least WARMUP_BYTES / size untimed calls)
 */
import { isMainThread } from 'node:worker_threads';
import { MpiCommunicator, type MpiContext } from '../../src/comm/mpi.js';
import { ThreadsCommunicator } from '../../src/comm/threads/communicator.js';
import { launch, shutdown } from '../../src/index.js';
import { mpiBinding } from '../../src/native/mpi.js';
import { Arena } from '../../src/shm/arena.js';
import { instantiateKernels } from '../../src/shm/kernels.js';
import { currentRank } from '../../src/state/current-rank.js';
import { empty } from '../../src/tensor/tensor.js';

interface Args {
  process: number;
  processes: number;
  threads: number;
  sizes: number[];
  iters: number;
  warmup: number;
  warmupBytes: number;
}

/** Integer-valued input of `rank` at `i` (mpi-bench.c's): sums stay exact in float32. */
const value = (rank: number, i: number): number => (((rank * 7 + (i % 251)) % 13) - 6);

/** Times every size on `comm` as world rank `rank`; returns the lines to print (on world rank 0). */
function measure(comm: MpiCommunicator, ctx: MpiContext, rank: number, ranks: number, a: Args): string[] {
  const lines: string[] = [];
  for (const size of a.sizes) {
    const count = Math.max(1, Math.floor(size / 4));
    const input = empty([count], { arena: ctx.arena }), out = empty([count], { arena: ctx.arena });
    const data = input.data as Float32Array;
    for (let i = 0; i < count; i++) data[i] = value(rank, i);
    comm.barrier();
    const warmup = Math.max(a.warmup, Math.ceil(a.warmupBytes / (count * 4)));
    for (let i = 0; i < warmup; i++) comm.allReduce(input, 'sum', { out });
    const times = empty([a.iters], { dtype: 'float64' });
    const t = times.data as Float64Array;
    for (let i = 0; i < a.iters; i++) {
      const start = performance.now();
      comm.allReduce(input, 'sum', { out });
      t[i] = (performance.now() - start) * 1000;
    }
    const slowest = comm.allReduce(times, 'max').data as Float64Array;
    const got = out.data as Float32Array;
    let wrong = 0;
    for (let i = 0; i < count; i++) {
      let expected = 0;
      for (let r = 0; r < ranks; r++) expected += value(r, i);
      if (got[i] !== expected) wrong++;
    }
    const totalWrong = (comm.allReduce(empty([1], { dtype: 'int32' }).fill(wrong), 'sum').data as Int32Array)[0];
    const sorted = Array.from(slowest).sort((x, y) => x - y);
    const mid = sorted.length >> 1;
    const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
    lines.push(JSON.stringify({
      impl: a.threads === 1 ? 'multirank-mpi' : 'multirank-mpi-x4', op: 'allReduce', ranks, size: count * 4, count,
      time_us: median, min_us: sorted[0], max_us: sorted[sorted.length - 1], nwrong: totalWrong,
    }));
    input.release();
    out.release();
  }
  return rank === 0 ? lines : [];
}

/** A rank thread of a hierarchical run (T > 1). */
export default function rankMain({ rank: local, args }: { rank: number; args: Args }): string[] {
  const threads = currentRank()!.threads;
  const rank = args.process * args.threads + local, ranks = args.processes * args.threads;
  const ctx: MpiContext = {
    binding: mpiBinding(), arena: threads.arena, kernels: threads.kernels, owner: threads.job.owner, abort: threads.job.abortWord,
    rank, processOf: (r) => Math.floor(r / args.threads),
    local: (spec) => new ThreadsCommunicator(threads, { ...spec, ranks: spec.ranks.map((r) => r - args.process * args.threads) }),
  };
  const comm = new MpiCommunicator(ctx, { ranks: Array.from({ length: ranks }, (_, r) => r), occurrence: 0, name: 'world', timeoutMs: 300_000, checkCalls: false });
  try {
    return measure(comm, ctx, rank, ranks, args);
  } finally {
    comm.destroy();
  }
}

async function main(): Promise<void> {
  const [threadsArg, min, max, factor, iters, warmup, warmupBytes = 0] = process.argv.slice(2).map(Number) as number[];
  const mpi = mpiBinding();
  const world = mpi.init();
  const sizes: number[] = [];
  for (let s = min!; s <= max!; s *= factor!) sizes.push(s);
  const args: Args = {
    process: world.rank, processes: world.size, threads: threadsArg!, sizes,
    iters: iters!, warmup: warmup!, warmupBytes,
  };
  let lines: string[];
  if (args.threads === 1) {
    const arena = Arena.create({ initialBytes: 4 * max! + (16 << 20) });
    const ctx: MpiContext = { binding: mpi, arena, kernels: instantiateKernels(arena.memory), owner: 0, rank: world.rank, processOf: (r) => r };
    const comm = new MpiCommunicator(ctx, { ranks: Array.from({ length: world.size }, (_, r) => r), occurrence: 0, name: 'world', timeoutMs: 300_000, checkCalls: false });
    lines = measure(comm, ctx, world.rank, world.size, args);
    comm.destroy();
  } else {
    const job = await launch({ worldSize: args.threads, module: new URL(import.meta.url), args, checkCalls: false, timeoutMs: 300_000 });
    lines = ((await job.results) as string[][]).flat();
    await job.close();
    await shutdown();
  }
  for (const line of lines) console.log(line);
  mpi.finalize();
}

if (isMainThread) await main();
