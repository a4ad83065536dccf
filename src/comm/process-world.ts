/**
 * THE CONTRACT about processes, between whoever starts a job's processes (`multirank run --procs`,
 * `--nnodes`, an `env://` / `tcp://` rendezvous, mpirun) and the communicators that move data between
 * them (mpi, nccl / hccl unique ids, the store-backed object plane). It is stable: extend it, never rename.
 *
 * A job of `worldSize` ranks runs in `processCount` processes; each process holds a contiguous block of
 * thread-ranks (consecutive ranks in one process, as torchrun places consecutive ranks on one node):
 * process p holds the world ranks `processStarts[p] .. processStarts[p + 1] - 1`. Processes are numbered
 * in rank order, and each sits on a node (`processNodes[p]`, nodes numbered from 0, in process order).
 * A job of one process (every `launch()` without a process world) is `singleProcessWorld(worldSize)`.
 *
 * Where a rank reads it: `CommContext.processWorld` (comm/types.ts), equal objects in every rank
 * of a process (frozen); the rank runtime puts it there (launch/rank-context.ts), so a communicator factory
 * registered in that registry reads it from the CommContext it was built for. Where it comes from is
 * pluggable (`ProcessWorldSource`): the store rendezvous of `multirank run` (launch/), an mpirun's
 * environment (OMPI_COMM_WORLD_*), or a world given as is (`fromBlocks`). The launcher passes it to
 * `launch({ processWorld })`, which runs this process's block of ranks only.
 */
import { checkInteger, invalidType, outOfRange } from '../errors.js';

/** Where a process world came from (for reports; behaviour never depends on it). */
export type ProcessWorldKind = 'single' | 'store' | 'mpi' | 'given';

/** The job's processes: which world ranks each holds, on which node, and where this process stands. */
export interface ProcessWorld {
  readonly kind: ProcessWorldKind;
  /** Ranks in the job, all processes together. */
  readonly worldSize: number;
  readonly processCount: number;
  /** This process, 0..processCount-1. */
  readonly processIndex: number;
  /** First world rank of each process, then `worldSize` (length processCount + 1, increasing). */
  readonly processStarts: readonly number[];
  /** The node of each process (length processCount; non-decreasing, from 0). */
  readonly processNodes: readonly number[];
  readonly nodeCount: number;
  /** This process's node. */
  readonly nodeRank: number;
  /** The job's TCPStore (`host:port`), when the processes met through one; undefined in one process. */
  readonly storeAddress?: { readonly host: string; readonly port: number } | undefined;
}

/** How a process learns its world: a rendezvous (store, mpirun's environment) or a given world. */
export interface ProcessWorldSource {
  readonly kind: ProcessWorldKind;
  /** Resolves this process's world; rejects with an error that names what is missing or disagrees. */
  resolve(): Promise<ProcessWorld>;
}

/** The world of a job whose ranks all live in this process. */
export function singleProcessWorld(worldSize: number): ProcessWorld {
  checkInteger('worldSize', worldSize, 1);
  return Object.freeze({
    kind: 'single', worldSize, processCount: 1, processIndex: 0, processStarts: Object.freeze([0, worldSize]),
    processNodes: Object.freeze([0]), nodeCount: 1, nodeRank: 0, storeAddress: undefined,
  } satisfies ProcessWorld);
}

/**
 * A world from each process's number of ranks and node, in process order (what a rendezvous collects).
 * @throws TypeError / RangeError naming the argument when a count, a node or `processIndex` is out of range.
 */
export function fromBlocks(
  kind: ProcessWorldKind, rankCounts: readonly number[], nodes: readonly number[], processIndex: number,
  storeAddress?: { host: string; port: number },
): ProcessWorld {
  if (!Array.isArray(rankCounts) || rankCounts.length === 0) {
    throw invalidType('rankCounts', 'a non-empty array of rank counts (one per process)', rankCounts);
  }
  if (!Array.isArray(nodes) || nodes.length !== rankCounts.length) {
    throw invalidType('nodes', `an array of ${rankCounts.length} node numbers (one per process)`, nodes);
  }
  const starts = [0];
  rankCounts.forEach((n, p) => starts.push(starts[p]! + checkInteger(`rankCounts[${p}]`, n, 1)));
  nodes.forEach((node, p) => {
    const previous = p === 0 ? 0 : nodes[p - 1]!;
    checkInteger(`nodes[${p}]`, node, previous, p === 0 ? 0 : previous + 1);
  });
  checkInteger('processIndex', processIndex, 0, rankCounts.length - 1);
  return Object.freeze({
    kind, worldSize: starts[starts.length - 1]!, processCount: rankCounts.length, processIndex,
    processStarts: Object.freeze(starts), processNodes: Object.freeze([...nodes]),
    nodeCount: nodes[nodes.length - 1]! + 1,
    nodeRank: nodes[processIndex]!,
    storeAddress: storeAddress === undefined ? undefined : Object.freeze({ ...storeAddress }),
  });
}

/** The process that holds world rank `rank`. */
export function processOfRank(world: ProcessWorld, rank: number): number {
  if (!(rank >= 0 && rank < world.worldSize)) {
    throw outOfRange(`rank ${rank} is not a rank of the job (0..${world.worldSize - 1})`);
  }
  const starts = world.processStarts;
  let lo = 0, hi = world.processCount - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= rank) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** The world ranks of process `p` (default: this one) as `{ first, count }`. */
export function ranksOfProcess(world: ProcessWorld, p = world.processIndex): { first: number; count: number } {
  return { first: world.processStarts[p]!, count: world.processStarts[p + 1]! - world.processStarts[p]! };
}

/** `process 1 (ranks 4-7)`, for messages. */
export function processLabel(world: ProcessWorld, p: number): string {
  const { first, count } = ranksOfProcess(world, p);
  return `process ${p} (${count === 1 ? `rank ${first}` : `ranks ${first}-${first + count - 1}`})`;
}

/** The node of world rank `rank`. */
export function nodeOfRank(world: ProcessWorld, rank: number): number {
  return world.processNodes[processOfRank(world, rank)]!;
}

/** Whether `ranks` (world ranks) live in more than one process. Constant time for a one-process job. */
export function spansProcesses(world: ProcessWorld, ranks: readonly number[]): boolean {
  if (world.processCount === 1 || ranks.length < 2) return false;
  const p = processOfRank(world, ranks[0]!);
  const { first, count } = ranksOfProcess(world, p);
  return ranks.some((r) => r < first || r >= first + count);
}

/** World rank `rank`'s place on its node (torch's LOCAL_RANK) and how many ranks its node holds. */
export function localPlace(world: ProcessWorld, rank: number): { localRank: number; localWorldSize: number } {
  const node = nodeOfRank(world, rank);
  let first = -1, end = 0;
  for (let p = 0; p < world.processCount; p++) {
    if (world.processNodes[p] !== node) continue;
    if (first === -1) first = world.processStarts[p]!;
    end = world.processStarts[p + 1]!;
  }
  return { localRank: rank - first, localWorldSize: end - first };
}

/** torch's `tcp://host:port` init method (a query allowed), parsed; undefined unless it is one. */
export function tcpInitUrl(value: unknown): URL | undefined {
  if (typeof value !== 'string' || !value.startsWith('tcp://')) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  return url.hostname === '' || url.port === '' ? undefined : url;
}
