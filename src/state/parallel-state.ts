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

/**
 * How many groups with the same members each rank has made in its job, kept across destroy and
 * re-initialisation of the environment: a group made again after `destroyDistributedEnvironment()`
 * must get a fresh shared block, never the old one's counters (every rank makes the same calls, so the
 * counts agree).
 */
const occurrencesOf = new WeakMap<CommContext, Map<string, number>>();
/** vLLM's `_group_name_counter`: groups made per name by each rank of a job (`tp:0`, `tp:1`, ...). */
const nameCountsOf = new WeakMap<CommContext, Map<string, number>>();

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

  readonly #occurrences: Map<string, number>;
  readonly #nameCounts: Map<string, number>;
  /** This rank's live groups by unique name (vLLM's `_groups`). */
  readonly #byUniqueName = new Map<string, GroupCoordinator>();
  /** Default deadline of this rank's groups, ms (`initDistributedEnvironment({ timeoutMs })`, else the job's). */
  readonly timeoutMs: number;

  constructor(
    context: CommContext, worldSize: number, localRank: number, localWorldSize: number, backend: Backend,
    timeoutMs?: number,
  ) {
    this.context = context;
    this.timeoutMs = timeoutMs ?? context.timeoutMs;
    if (!occurrencesOf.has(context)) occurrencesOf.set(context, new Map());
    if (!nameCountsOf.has(context)) nameCountsOf.set(context, new Map());
    this.#occurrences = occurrencesOf.get(context)!;
    this.#nameCounts = nameCountsOf.get(context)!;
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
  newGroup(
    groupRanks: readonly (readonly number[])[], groupName: string, timeoutMs = this.timeoutMs,
    localRank = this.localRank,
  ): GroupCoordinator | undefined {
    const mine = groupRanks.find((ranks) => ranks.includes(this.rank));
    if (mine === undefined) return undefined;
    const key = mine.join(',');
    const occurrence = this.#occurrences.get(key) ?? 0;
    this.#occurrences.set(key, occurrence + 1);
    const count = this.#nameCounts.get(groupName) ?? 0;
    this.#nameCounts.set(groupName, count + 1);
    const uniqueName = `${groupName}:${count}`;
    const group = new GroupCoordinator({
      groupRanks: [mine], context: this.context, localRank, groupName, occurrence, timeoutMs, uniqueName,
      backend: this.backend,
    });
    this.#byUniqueName.set(uniqueName, group);
    return group;
  }

  /** This rank's group of vLLM unique name `name` (`tp:0`), while it is not destroyed. */
  groupByUniqueName(name: string): GroupCoordinator | undefined {
    const group = this.#byUniqueName.get(name);
    if (group?.isDestroyed) {
      this.#byUniqueName.delete(name);
      return undefined;
    }
    return group;
  }

  /** Destroys the model-parallel groups (the world group stays). */
  destroyModelParallel(): void {
    // A live tp / sp patch holds the caller's group in `groups`: put ours back first, so that ours is
    // destroyed and the caller's is left alone (upstream leaves its patching group alone too).
    type Patches = { tpPatch?: { restore(): void } | null; spPatch?: { restore(): void } | null } | undefined;
    const patches = this.modelParallel?.extra as Patches;
    patches?.tpPatch?.restore();
    patches?.spPatch?.restore();
    for (const group of this.groups.values()) group.destroy();
    this.groups.clear();
    this.modelParallel = undefined;
  }

  destroy(): void {
    this.destroyModelParallel();
    this.world.destroy();
  }
}
