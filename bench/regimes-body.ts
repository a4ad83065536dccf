/**
 * The rank module of bench/regimes: small allReduces on the world group, timed in each rank. Every
 * export returns this rank's per-call times in µs; the driver takes the slowest rank of each round.
 */
import { initDistributedEnvironment, tensor } from '../src/index.js';
import type { RankInfo } from '../src/index.js';

interface LoopArgs {
  readonly calls: number;
  readonly rounds: number;
}

/** µs per call of `calls` calls of `body`, once per round. */
function rounds(body: () => void, { calls, rounds }: LoopArgs): number[] {
  const out: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const start = performance.now();
    for (let i = 0; i < calls; i++) body();
    out.push(((performance.now() - start) * 1000) / calls);
  }
  return out;
}

/** The steady state: a 4-byte in-place allReduce, after one round of warm-up. */
export function steady({ args }: RankInfo<LoopArgs>): number[] {
  const world = initDistributedEnvironment().world;
  const x = tensor([1], { dtype: 'float32' });
  const call = (): void => void world.allReduce(x, { out: x });
  rounds(call, { calls: args.calls, rounds: 1 });
  return rounds(call, args);
}

/**
 * The first calls of a job against its steady state: a fresh input and a fresh result each call, as user
 * code does. Returns [the first `calls` calls, then `rounds` rounds of `calls`].
 */
export function firstCalls({ rank, args }: RankInfo<LoopArgs>): number[] {
  const world = initDistributedEnvironment().world;
  const call = (): void => void world.allReduce(tensor([rank], { dtype: 'float32' }));
  return rounds(call, { calls: args.calls, rounds: 1 + args.rounds });
}

/**
 * A big world: `first` small allReduces (the job's start), then `rounds` rounds of `calls`. Returns
 * [the wall-clock time (ms since the epoch) at which this rank finished the first ones, then µs per call].
 */
export function bigWorld({ rank, args }: RankInfo<LoopArgs & { first: number }>): number[] {
  const world = initDistributedEnvironment().world;
  const x = tensor([rank], { dtype: 'float32' });
  for (let i = 0; i < args.first; i++) world.allReduce(x);
  const startedUp = performance.timeOrigin + performance.now();
  return [startedUp, ...rounds(() => void world.allReduce(x, { out: x }), args)];
}
