/**
 * A rank module that imports the library from `lib`, the launcher's build (bench/build.ts), and returns at
 * once: what bench/regimes-cold and bench/ts-startup launch.
 */
import type { Library } from './build.js';

export default async function main({ rank, args }: { rank: number; args: { lib: string } }): Promise<number> {
  const { tensor } = (await import(args.lib)) as Library;
  return tensor([rank]).numel;
}
