/**
 * ParallelState: everything one rank knows about its distributed setup, in one object (Megatron keeps
 * this in dozens of module globals; here it is one object per rank). The flavour front-ends
 * (vllm.ts, megatron.ts, fastvideo.ts) fill `groups` from the topology planners and read it back in
 * their getters; nothing computes groups twice.
 */
import type { CommContext } from '../comm/types.js';
import type { Backend } from '../comm/backends.js';
import { GroupCoordinator } from '../group/coordinator.js';

export { BACKENDS, type Backend } from '../comm/backends.js';

export class ParallelState {
  readonly context: CommContext;
  readonly rank: number;
  readonly worldSize: number;
  readonly localRank: number;
  readonly localWorldSize: number;
  readonly backend: Backend;
  readonly world: GroupCoordinator;
  /** Model-parallel groups by kind (`tp`, `pp`, `dp`, ... as the flavour names them); this rank's group of each. */
  readonly groups = new Map<string, GroupCoordinator>();
  /** Which front-end initialised model parallelism, and its plan (the planner's result). */
  modelParallel: { flavour: string; plan: unknown; extra: Record<string, unknown> } | undefined;
  readonly #occurrences = new Map<string, number>();

  constructor(context: CommContext, worldSize: number, localRank: number, localWorldSize: number, backend: Backend) {
    this.context = context;
    this.rank = context.rank;
    this.worldSize = worldSize;
    this.localRank = localRank;
    this.localWorldSize = localWorldSize;
    this.backend = backend;
    const all = Array.from({ length: worldSize }, (_, i) => i);
    this.world = this.newGroup([all], 'world')!;
  }

  /**
   * A GroupCoordinator for the group of `groupRanks` that holds this rank, or undefined when none does.
   * Every member must create its groups in the same order (as torch's new_group requires).
   */
  newGroup(groupRanks: readonly (readonly number[])[], groupName: string): GroupCoordinator | undefined {
    const mine = groupRanks.find((ranks) => ranks.includes(this.rank));
    if (mine === undefined) return undefined;
    const key = mine.join(',');
    const occurrence = this.#occurrences.get(key) ?? 0;
    this.#occurrences.set(key, occurrence + 1);
    return new GroupCoordinator({
      groupRanks: [mine], context: this.context, localRank: this.localRank, groupName, occurrence, backend: this.backend,
    });
  }

  /** Destroys the model-parallel groups (the world group stays). */
  destroyModelParallel(): void {
    for (const group of this.groups.values()) group.destroy();
    this.groups.clear();
    this.modelParallel = undefined;
  }

  destroy(): void {
    this.destroyModelParallel();
    this.world.destroy();
  }
}
