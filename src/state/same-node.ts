/**
 * vLLM's `in_the_same_node_as` and FastVideo's `is_the_same_node_as` / `get_same_node_ranks`: a
 * collective over a group that tells, for every member, whether it runs on the same node as member
 * `sourceRank`. Upstream opens a shared-memory segment made by the source; here the source broadcasts
 * its host name and every member compares it with its own, then the answers are all-gathered. The
 * ranks of one process are always on one node; in a job of several processes the job's own node
 * numbering decides (`multirank run --nnodes` / torchrun's GROUP_RANK, else the host name: see
 * launch/process-rendezvous.ts), which every rank already holds, so no message is needed.
 */
import { hostname } from 'node:os';
import { checkGroupRank, invalidType } from '../errors.js';
import { GroupCoordinator } from '../group/coordinator.js';
import { nodeOfRank } from '../comm/process-world.js';
import { currentRank } from './current-rank.js';

function checkArgs(group: unknown, sourceRank: unknown): GroupCoordinator {
  if (!(group instanceof GroupCoordinator)) throw invalidType('group', 'a GroupCoordinator', group);
  checkGroupRank('sourceRank', sourceRank, group.worldSize);
  return group;
}

/**
 * For each member of `group` (in group order), whether it is on the same node as member `sourceRank`
 * (a rank within the group). Every member must call it.
 * @throws TypeError ERR_MULTIRANK_INVALID_ARG_TYPE when `group` is not a GroupCoordinator.
 * @throws RangeError ERR_MULTIRANK_OUT_OF_RANGE when `sourceRank` is not a rank of the group (TypeError when not an
 *   integer).
 */
export function sameNodeFlags(group: GroupCoordinator, sourceRank = 0): boolean[] {
  const g = checkArgs(group, sourceRank);
  const world = currentRank()?.context.processWorld;
  if (world !== undefined && world.processCount > 1) {
    if (g.isDestroyed) throw invalidType('group', 'a group that was not destroyed', `destroyed group ${g.groupName}`);
    const node = nodeOfRank(world, g.ranks[sourceRank]!);
    return g.ranks.map((r) => nodeOfRank(world, r) === node);
  }
  const mine = hostname();
  const source = g.broadcastObject(g.rankInGroup === sourceRank ? mine : '', { src: sourceRank });
  return g.allGatherObject(source === mine);
}

/**
 * The global ranks of `group` that are on the same node as member `sourceRank`. Every member must call it.
 * @throws as {@link sameNodeFlags}.
 */
export function sameNodeRanks(group: GroupCoordinator, sourceRank = 0): number[] {
  const flags = sameNodeFlags(group, sourceRank);
  return group.ranks.filter((_, i) => flags[i]);
}
