/** The rank module of bench/still-waiting-cost: every rank but the last waits for it in an allReduce. */
import { initDistributedEnvironment, tensor } from '../src/index.js';
import type { RankInfo } from '../src/index.js';

export default async function main({ rank, worldSize, args }: RankInfo): Promise<unknown> {
  const world = initDistributedEnvironment().world;
  world.barrier();
  if (rank === worldSize - 1) await new Promise((resolve) => setTimeout(resolve, args as number));
  return world.allReduce(tensor([1])).toArray();
}
