/**
 * The rank body of bench/remote-queue (4 ranks, 2 processes: ranks 0-1 and 2-3). Rank 0 writes to a reader
 * in its own process (rank 1: the shared-memory ring) and to one in the other process (rank 2: a remote
 * reader over a socket), through the same MessageQueue.createFromGroup, rounds interleaved. Per path and
 * size: the rate (messages streamed back to back, timed on the reader from its first message to its last)
 * and the one-way latency (half a ping-pong through a second queue written by the reader).
 */
import { initDistributedEnvironment, MessageQueue, type RankInfo } from '../src/index.js';
import { GroupCoordinator } from '../src/group/coordinator.js';

const SIZES = { small: 0, '1 MiB': 1 << 20 } as const;
const STREAM = { small: 2_000, '1 MiB': 100 } as const;
const PINGS = { small: 400, '1 MiB': 30 } as const;
type Size = keyof typeof SIZES;

function message(i: number, size: Size): unknown {
  return size === 'small' ? { i, op: 'step', args: [1, 2] } : { i, data: new Uint8Array(SIZES[size]) };
}

export default function main({ rank, args }: RankInfo): unknown {
  const rounds = Number((args as string[] | undefined)?.[0] ?? 3);
  const state = initDistributedEnvironment();
  const pair = (groupRanks: number[][], occurrence: number): GroupCoordinator =>
    new GroupCoordinator({ groupRanks, context: state.context, localRank: 0, occurrence });
  const paths = { ring: pair([[0, 1], [2, 3]], 11), socket: pair([[0, 2], [1, 3]], 12) };
  const out: Record<string, number[]> = {};
  const add = (key: string, value: number): void => void (out[key] ??= []).push(value);
  const queues = Object.fromEntries(Object.entries(paths).map(([path, group]) => [path, {
    group, down: MessageQueue.createFromGroup(group, 4 << 20, 6, 0),
    up: MessageQueue.createFromGroup(group, 4 << 20, 6, 1),
  }]));
  for (let round = 0; round < rounds; round++) {
    for (const [path, { group, down, up }] of Object.entries(queues)) {
      if (!group.ranks.includes(0)) continue; // the pair without rank 0 only made its queues
      const writer = group.rankInGroup === 0;
      for (const size of Object.keys(SIZES) as Size[]) {
        // Rate: the reader times its stream from the first message to the last.
        let first = 0;
        for (let i = 0; i < STREAM[size]; i++) {
          if (writer) down.enqueue(message(i, size));
          else {
            down.dequeue();
            if (i === 0) first = performance.now();
          }
        }
        if (!writer) add(`${path} ${size} msg/s`, (STREAM[size] - 1) / ((performance.now() - first) / 1000));
        // Latency: half the round trip of a ping through `down` and its pong through `up`.
        const start = performance.now();
        for (let i = 0; i < PINGS[size]; i++) {
          if (writer) {
            down.enqueue(message(i, size));
            up.dequeue();
          } else {
            down.dequeue();
            up.enqueue(message(i, 'small'));
          }
        }
        if (writer) add(`${path} ${size} one-way us`, ((performance.now() - start) * 1000) / PINGS[size] / 2);
      }
    }
  }
  for (const { down, up } of Object.values(queues)) {
    down.destroy();
    up.destroy();
  }
  return { rank, out };
}
