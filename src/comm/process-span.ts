/**
 * The CPU side of a group whose members live in several processes where the mpi backend cannot connect
 * them (its binding is missing, or mpirun did not start the processes: mpi-context.ts): control only.
 * `barrier` and `agree` (the checks wrapper's and the object plane's) run through the job's store
 * (store-link.ts; one StatelessProcessGroup per member in its process's driver), and the group's
 * objects go the same way (group/store-objects.ts). CPU tensor collectives between processes
 * belong to the mpi backend ("we write no home-made network collectives"): every tensor call here
 * throws BACKEND_UNAVAILABLE saying so, with the processes the group spans. Given this process's queue
 * memory, it also hosts the group's broadcast queues (`queueContext`, `queueSpan`: the writer's ring for
 * the members in its process, sockets for the others; shm/queue-span.ts).
 */
import { deserialize, serialize } from 'node:v8';
import { ErrorCodes, MismatchError, MultirankError } from '../errors.js';
import type { DType } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';
import { mpiUnavailableFor } from './mpi-context.js';
import { processLabel, processOfRank, type ProcessWorld } from './process-world.js';
import type { StoreAnswer, StoreLink, StoreRequest } from './store-link.js';
import type {
  CallDescriptor, CallOptions, CommCapabilities, CpuCommunicator, GroupSpec, OutOptions, ProcessQueues, Received,
  RecvAnyOptions,
} from './types.js';
import type { BlockedRecord } from '../shm/queue-end.js';
import type { QueueContext, QueueSpan } from '../shm/queue-group.js';

const CAPABILITIES: CommCapabilities = Object.freeze({
  devices: Object.freeze(['cpu'] as const), dtypes: Object.freeze([]), reduceOps: Object.freeze([]),
  checksCallsInBand: true, eagerSendMessages: 0, p2pTags: false, p2pAnySource: false,
});

/** The group's key in the store: its members and how many identical groups came before it. */
export function groupStoreKey(group: GroupSpec): string {
  return `${group.ranks.join(',')}@${group.occurrence}`;
}

/** Which processes (and their ranks) the group spans, for messages: `process 0 (ranks 0-3), process 1 (ranks 4-7)`. */
export function spannedProcesses(world: ProcessWorld, ranks: readonly number[]): string {
  const processes = [...new Set(ranks.map((r) => processOfRank(world, r)))].sort((a, b) => a - b);
  return processes.map((p) => processLabel(world, p)).join(', ');
}

export class ProcessSpanCommunicator implements CpuCommunicator {
  readonly name = 'store';
  readonly rankInGroup: number;
  readonly worldSize: number;
  readonly capabilities = CAPABILITIES;
  readonly recordKey = 0;
  readonly queueContext: QueueContext | undefined;
  readonly queueSpan: QueueSpan | undefined;
  readonly #group: GroupSpec;
  readonly #world: ProcessWorld;
  readonly #link: StoreLink;
  readonly #key: string;
  #calls = 0;

  constructor(
    group: GroupSpec, rank: number, world: ProcessWorld, link: StoreLink,
    queues?: ProcessQueues, record?: BlockedRecord,
  ) {
    this.#group = group;
    this.#world = world;
    this.#link = link;
    this.#key = groupStoreKey(group);
    this.rankInGroup = group.ranks.indexOf(rank);
    this.worldSize = group.ranks.length;
    this.queueContext = queues === undefined ? undefined : { ...queues, timeoutMs: group.timeoutMs, record };
    this.queueSpan = queues === undefined ? undefined : {
      isLocal: (member) => processOfRank(world, group.ranks[member]!) === world.processIndex,
      shareHandle: (handle, src) => {
        const reply = this.request('broadcast', this.rankInGroup === src ? serialize(handle) : undefined, src);
        return this.rankInGroup === src ? handle : deserialize(reply.bytes!);
      },
      openRelay: (place, transfer) => link.openRelay(place, transfer),
      describeMember: (member) => `rank ${group.ranks[member]} (process ${processOfRank(world, group.ranks[member]!)})`,
    };
  }

  get calls(): number {
    return this.#calls;
  }

  /** The refusal of a CPU tensor collective: what it needs (mpi) and why it is not here. */
  #refuse(op: string): never {
    const why = mpiUnavailableFor(this.#world) ?? 'not registered in this rank';
    throw new MultirankError(
      ErrorCodes.BACKEND_UNAVAILABLE,
      `${op} of CPU tensors on group "${this.#group.name}" (ranks [${this.#group.ranks.join(', ')}]) spans ` +
        `${spannedProcesses(this.#world, this.#group.ranks)}: CPU tensor collectives between processes run on ` +
        `the "mpi" backend, which is ${why}. Objects (broadcastObject, allGatherObject, sendObject, ` +
        `recvObject, tensor dicts) and barrier work across processes; for tensors, keep the group in one process.`,
    );
  }

  allReduce(_t: Tensor): Tensor { return this.#refuse('allReduce'); }
  allGather(_t: Tensor): Tensor { return this.#refuse('allGather'); }
  reduceScatter(_t: Tensor): Tensor { return this.#refuse('reduceScatter'); }
  gather(_t: Tensor): Tensor | null { return this.#refuse('gather'); }
  broadcast(_t: Tensor): Tensor { return this.#refuse('broadcast'); }
  reduce(_t: Tensor): Tensor { return this.#refuse('reduce'); }
  allToAll(_t: Tensor): Tensor { return this.#refuse('allToAll'); }
  send(_t: Tensor): void { this.#refuse('send'); }
  recv(_shape: readonly number[], _dtype: DType, _src: number, _o?: OutOptions): Tensor {
    return this.#refuse('recv');
  }
  recvAnySource(_shape: readonly number[], _dtype: DType, _o?: RecvAnyOptions): Received {
    return this.#refuse('recv');
  }
  probe(_src: number | 'any'): boolean { return this.#refuse('irecv'); }

  barrier(options?: CallOptions): void {
    this.#calls++;
    this.request('barrier', undefined, undefined, options);
  }

  /** Every member's call, compared: a member that called something else fails every member, each call listed. */
  agree(call: CallDescriptor, options?: CallOptions): void {
    this.#calls++;
    const mine = JSON.stringify(call);
    const reply = this.request('allGather', serialize(mine), undefined, options);
    const all = reply.all!.map((b) => deserialize(b) as string);
    if (all.every((c) => c === mine)) return;
    const lines = all.map((c, m) => `  rank ${this.#group.ranks[m]}: ${describeCall(c)}`).join('\n');
    throw new MismatchError(`The members of group "${this.#group.name}" called different operations:\n${lines}`);
  }

  /** One request to the store for this member (the object plane's too), with the group's deadline. */
  request(method: StoreRequest['method'], bytes?: Uint8Array, peer?: number, options?: CallOptions): StoreAnswer {
    const timeoutMs = options?.timeoutMs ?? this.#group.timeoutMs;
    const { name, ranks } = this.#group;
    const describe = (): string => `${method} of group "${name}" (ranks [${ranks.join(', ')}]) across processes`;
    const request = {
      group: this.#key, rankInGroup: this.rankInGroup, groupSize: this.worldSize, method, bytes, peer, timeoutMs,
    };
    return this.#link.call(request, describe);
  }

  destroy(): void {
    // Nothing of its own: its keys live under the group's prefix in the job's store, ended with the job.
  }
}

function describeCall(json: string): string {
  const call = JSON.parse(json) as CallDescriptor;
  const parts = Object.entries(call).filter(([k]) => k !== 'op').map(([k, v]) => `${k} ${JSON.stringify(v)}`);
  return parts.length === 0 ? call.op : `${call.op} (${parts.join(', ')})`;
}
