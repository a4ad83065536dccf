/**
 * The rank module of bench/regimes' big worlds. It imports nothing of the library statically: it loads
 * it from `lib`, the launcher's build (bench/build.ts), as a user's rank module imports the package, so a
 * rank thread loads that build only. (The types below are erased.)
 */
import type { RankInfo } from '../src/index.js';
import type { Library } from './build.js';
import { rounds, type LoopArgs } from './loop.js';

interface WorldArgs extends LoopArgs {
  readonly first: number;
  readonly lib: string;
}

/**
 * A big world: `first` small allReduces (the job's start), then `rounds` rounds of `calls`. Returns
 * [the wall-clock time (ms since the epoch) at which this rank finished the first ones, then µs per call].
 */
export async function bigWorld({ rank, args }: RankInfo<WorldArgs>): Promise<number[]> {
  const { initDistributedEnvironment: init, tensor: make } = (await import(args.lib)) as Library;
  const world = init().world;
  const x = make([rank], { dtype: 'float32' });
  for (let i = 0; i < args.first; i++) world.allReduce(x);
  const startedUp = performance.timeOrigin + performance.now();
  return [startedUp, ...rounds(() => void world.allReduce(x, { out: x }), args)];
}

