// A .ts rank module for test/runtime/typescript.test.ts, which asserts the line numbers below: type-only
// syntax, an enum, a parameter property, a NodeNext import of a .ts file, the tsc build (not the bundle).
import { initDistributedEnvironment, tensor, type RankInfo } from '../../dist/src/index.js';
import { scaled, Scale } from './helper.js';

class Counter {
  constructor(private readonly start: number) {}
  next(): number {
    return this.start + 1;
  }
}

export default function main({ rank, worldSize }: RankInfo): { sum: number[]; next: number; worldSize: number } {
  const world = initDistributedEnvironment().world;
  const sum = world.allReduce(tensor([scaled(rank, Scale.Double), 1]), { op: 'sum' });
  return { sum: sum.toArray() as number[], next: new Counter(rank).next(), worldSize };
}

export function fails({ rank }: RankInfo): never {
  if (rank === 2) throw new Error(`failed on purpose on rank ${rank as number}`); // line 20
  initDistributedEnvironment().world.barrier();
  throw new Error('not reached');
}

export function mismatch({ rank }: RankInfo): void {
  const world = initDistributedEnvironment().world;
  if (rank === 0) world.allGather(tensor([rank])); // line 27
  else world.allReduce(tensor([rank]), { op: 'sum' }); // line 28
}
