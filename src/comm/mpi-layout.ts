/**
 * Where the members of a group live: which processes the group spans (in the order of their first member
 * in the group), the members in each process, and this member's place. The `mpi` communicator runs its
 * hierarchy on it: the members in one process meet through shared memory, one leader per process (its
 * first member in group order) talks MPI.
 */
import { ErrorCodes, MultirankError } from '../errors.js';
import { MPI_WORLD } from '../native/mpi.js';
import { fromTypedArray } from '../tensor/factory.js';
import type { MpiContext } from './mpi.js';
import type { ThreadsCommunicator } from './threads/communicator.js';
import type { GroupSpec } from './types.js';

export class GroupLayout {
  /** MPI world ranks of the processes the group spans, in the order of their first member. */
  readonly processes: readonly number[];
  /** Group ranks of the members in each of those processes, in group order. */
  readonly membersOf: readonly (readonly number[])[];
  /** The process of each member (an index into `processes`). */
  readonly processIndexOf: readonly number[];
  /** Each member's index among the members of its process. */
  readonly localIndexOf: readonly number[];
  /** This member's process (index into `processes`) and its index among that process's members. */
  readonly process: number;
  readonly localIndex: number;
  /** The most members any process holds. */
  readonly maxLocal: number;

  /** `processOf`: the MPI world rank that runs world rank r. `me`: this member's group rank. */
  constructor(ranks: readonly number[], processOf: (rank: number) => number, me: number) {
    const processes: number[] = [], membersOf: number[][] = [];
    const processIndexOf: number[] = [], localIndexOf: number[] = [];
    ranks.forEach((rank, m) => {
      const p = processOf(rank);
      let index = processes.indexOf(p);
      if (index < 0) {
        index = processes.push(p) - 1;
        membersOf.push([]);
      }
      localIndexOf.push(membersOf[index]!.push(m) - 1);
      processIndexOf.push(index);
    });
    this.processes = processes;
    this.membersOf = membersOf;
    this.processIndexOf = processIndexOf;
    this.localIndexOf = localIndexOf;
    this.process = processIndexOf[me]!;
    this.localIndex = localIndexOf[me]!;
    this.maxLocal = Math.max(...membersOf.map((m) => m.length));
  }

  /** Whether this member talks MPI for its process (the first of its process in group order). */
  get leader(): boolean {
    return this.localIndex === 0;
  }

  /** Group ranks of the members in this process. */
  get localMembers(): readonly number[] {
    return this.membersOf[this.process]!;
  }

  /** True when every process holds one member (the group calls MPI directly). */
  get flat(): boolean {
    return this.maxLocal === 1;
  }
}

/**
 * The communicators of a group laid out as `layout`: a shared-memory one over the members in this process
 * (undefined when this member is alone in it), and the MPI communicator of the processes' leaders (`tag`
 * tells concurrent creations apart), which the leader makes and tells its process.
 */
export function openGroup(ctx: MpiContext, group: GroupSpec, layout: GroupLayout, tag: number):
  { local: ThreadsCommunicator | undefined; handle: number } {
  const { ranks, name, timeoutMs } = group;
  const locals = layout.localMembers.map((m) => ranks[m]!);
  if (locals.length > 1 && ctx.local === undefined) {
    throw new MultirankError(ErrorCodes.BACKEND_UNAVAILABLE, `Group ${name} [${ranks.join(', ')}] has ` +
      'several members in one process, and this rank has no shared-memory communicator for them');
  }
  const local = locals.length > 1
    ? ctx.local!({ ...group, ranks: locals, name: `${name}/local` }) : undefined;
  const handle = new Int32Array(1);
  if (layout.leader) {
    handle[0] = ctx.binding.commCreate(MPI_WORLD, Int32Array.from(layout.processes), tag, timeoutMs);
  }
  local?.broadcast(fromTypedArray(handle), 0);
  if (handle[0]! < 0) {
    const why = layout.leader ? ctx.binding.lastError().text : 'its leader could not create it';
    const what = `Creating group ${name} [${ranks.join(', ')}] over MPI failed: ${why}`;
    throw new MultirankError(ErrorCodes.MPI, what);
  }
  return { local, handle: handle[0]! };
}
