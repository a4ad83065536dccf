/** Rank body of bench/fingerprint-cost: time N 4-byte allReduces on the world group. */
import { initDistributedEnvironment, tensor } from '../src/index.js';
import type { RankInfo } from '../src/index.js';

export default function main({ args }: RankInfo): number[] {
  const { iterations, rounds } = args as { iterations: number; rounds: number };
  const world = initDistributedEnvironment().world;
  const one = tensor([1], { dtype: 'float32' });
  const out = tensor([0], { dtype: 'float32' });
  for (let i = 0; i < iterations; i++) world.allReduce(one, { out });
  const perRound: number[] = [];
  for (let r = 0; r < rounds; r++) {
    world.barrier();
    const start = performance.now();
    for (let i = 0; i < iterations; i++) world.allReduce(one, { out });
    perRound.push(((performance.now() - start) * 1000) / iterations);
  }
  return perRound;
}
