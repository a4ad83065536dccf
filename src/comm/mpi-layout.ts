/**
 * Where the members of a group live: which processes the group spans (in the order of their first member
 * in the group), the members in each process, and this member's place. The `mpi` communicator runs its
 * hierarchy on it: the members in one process meet through shared memory, one leader per process (its
 * first member in group order) talks MPI.
 */
export class GroupLayout {
  /** MPI world ranks of the processes the group spans, in the order of their first member. */
  readonly processes: readonly number[];
  /** Group ranks of the members in each of those processes, in group order. */
  readonly membersOf: readonly (readonly number[])[];
  /** The process of each member (an index into `processes`). */
  readonly processIndexOf: readonly number[];
  /** This member's process (index into `processes`) and its index among that process's members. */
  readonly process: number;
  readonly localIndex: number;
  /** The most members any process holds. */
  readonly maxLocal: number;

  /** `processOf`: the MPI world rank that runs world rank r. `me`: this member's group rank. */
  constructor(ranks: readonly number[], processOf: (rank: number) => number, me: number) {
    const processes: number[] = [], membersOf: number[][] = [], processIndexOf: number[] = [];
    ranks.forEach((rank, m) => {
      const p = processOf(rank);
      let index = processes.indexOf(p);
      if (index < 0) {
        index = processes.push(p) - 1;
        membersOf.push([]);
      }
      membersOf[index]!.push(m);
      processIndexOf.push(index);
    });
    this.processes = processes;
    this.membersOf = membersOf;
    this.processIndexOf = processIndexOf;
    this.process = processIndexOf[me]!;
    this.localIndex = membersOf[this.process]!.indexOf(me);
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
