/**
 * The rank module of bench/regimes: small allReduces on the world group, timed in each rank. Every
 * export returns this rank's per-call times in µs; the driver takes the slowest rank of each round.
 */
import { initDistributedEnvironment, tensor } from '../src/index.js';
import type { RankInfo } from '../src/index.js';
import { rounds, type LoopArgs } from './loop.js';

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
