/** The rank module of bench/launch-isolation: a small user module (it imports the package, returns at once). */
import { tensor } from '../src/index.js';
import type { RankInfo } from '../src/index.js';

export default function main({ rank }: RankInfo): number {
  return tensor([rank]).numel;
}
