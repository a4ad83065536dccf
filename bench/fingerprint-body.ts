/**
 * Rank body of bench/fingerprint-cost: 4-byte allReduces on two groups of the same ranks in the same
 * job, one with the fingerprint checks and one without, in alternating rounds (so that thread placement
 * and machine noise hit both alike). Returns [checked, unchecked] µs per call for each round.
 */
import { initDistributedEnvironment, tensor } from '../src/index.js';
import { GroupCoordinator } from '../src/group/coordinator.js';
import type { RankInfo } from '../src/index.js';

export default function main({ args }: RankInfo): [number, number][] {
  const { iterations, rounds, control, swap } = args as {
    iterations: number; rounds: number; control: boolean; swap: boolean;
  };
  const state = initDistributedEnvironment();
  // Two groups made the same way, differing only in checkCalls. --control: both unchecked, to show what
  // the method reads when there is no difference.
  const make = (occurrence: number, checkCalls: boolean): GroupCoordinator =>
    new GroupCoordinator({
      groupRanks: [state.world.ranks], context: state.context, localRank: state.localRank, occurrence, checkCalls,
    });
  // `swap` (every other run) trades the two groups' blocks, so that whatever favours one block cancels.
  const checked = make(swap ? 1 : 2, !control);
  const unchecked = make(swap ? 2 : 1, false);
  const one = tensor([1], { dtype: 'float32' });
  const out = tensor([0], { dtype: 'float32' });
  const time = (group: GroupCoordinator): number => {
    group.barrier();
    const start = performance.now();
    for (let i = 0; i < iterations; i++) group.allReduce(one, { out });
    return ((performance.now() - start) * 1000) / iterations;
  };
  time(checked);
  time(unchecked);
  const perRound: [number, number][] = [];
  for (let r = 0; r < rounds; r++) {
    // Which group goes first alternates, so that whatever favours the first (or second) run of a round cancels.
    if (r % 2 === 0) perRound.push([time(checked), time(unchecked)]);
    else {
      const u = time(unchecked);
      perRound.push([time(checked), u]);
    }
  }
  return perRound;
}
