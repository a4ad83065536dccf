/**
 * Rank body of bench/native-overhead.ts: times a 1-element float32 sum all-reduce at each layer, in
 * alternating rounds on the same threads: the library driven from C (enqueue, poll the stream), the
 * addon's raw call from JavaScript (enqueue + the watchdog's wait), the communicator
 * (VendorCommunicator.allReduce into a given `out`), and the group (GroupCoordinator.allReduce with
 * `out`) without and with the call checks. Returns per layer the per-round mean µs per call.
 */
import { GroupCoordinator, initDistributedEnvironment, tensor, zeros, type RankInfo } from '../src/index.js';
import type { CheckedCommunicator } from '../src/comm/checked.js';
import { NCCL } from '../src/native/addon.js';
import { loadVendor } from '../src/native/vendors.js';

export interface OverheadArgs { rounds: number; iterations: number }
export const LAYERS = ['C', 'addon', 'communicator', 'group', 'group+checks'] as const;

export default function main({ rank, worldSize, args }: RankInfo): number[][] {
  const { rounds, iterations } = args as OverheadArgs;
  const state = initDistributedEnvironment({ backend: 'nccl' });
  const all = [Array.from({ length: worldSize }, (_, r) => r)];
  const checked = state.newGroup(all, 'checked')!;
  const unchecked = new GroupCoordinator({
    groupRanks: all, context: state.context, localRank: rank, groupName: 'unchecked', occurrence: 1000,
    checkCalls: false, backend: 'nccl',
  });
  const x = tensor([1], { device: `cuda:${rank}` }), out = zeros([1], { device: `cuda:${rank}` });
  unchecked.allReduce(x, { out });
  checked.allReduce(x, { out });
  const comm = (unchecked.deviceCommunicator as CheckedCommunicator).inner;
  const { addon } = loadVendor('nccl');
  const id = state.world.broadcast(
    tensor(Array.from(rank === 0 ? addon.uniqueId(NCCL) : new Uint8Array(128)), { dtype: 'uint8' }),
  );
  const h = addon.commInit(NCCL, worldSize, new Uint8Array(id.bytes()), rank, rank);
  const send = addon.malloc(NCCL, rank, 4), recv = addon.malloc(NCCL, rank, 4);
  const bodies: Record<(typeof LAYERS)[number], () => void> = {
    C: () => void addon.benchLoop(h, send, recv, 1, 1),
    addon: () => void addon.allReduce(h, send, recv, 1, 7, 0, 60_000),
    communicator: () => void comm.allReduce(x, 'sum', { out }),
    group: () => void unchecked.allReduce(x, { out }),
    'group+checks': () => void checked.allReduce(x, { out }),
  };
  const times = LAYERS.map(() => [] as number[]);
  for (let round = -3; round < rounds; round++) {
    LAYERS.forEach((layer, i) => {
      state.world.barrier();
      const body = bodies[layer];
      const start = performance.now();
      if (layer === 'C') addon.benchLoop(h, send, recv, 1, iterations);
      else for (let k = 0; k < iterations; k++) body();
      const us = ((performance.now() - start) * 1000) / iterations;
      if (round >= 0) times[i]!.push(us);
    });
  }
  addon.commDestroy(h, false);
  return times;
}
