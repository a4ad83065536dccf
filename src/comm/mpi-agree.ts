/**
 * The `mpi` backend's `agree` (for the checks wrapper): the members of a process agree through shared
 * memory, then each process's leader sends its call's description (cut to AGREE_BYTES, with a hash of the
 * whole) to every other; any difference fails every member, each process's call listed.
 */
import { MismatchError } from '../errors.js';
import type { GroupLayout } from './mpi-layout.js';
import type { ProcessOps } from './mpi-process-ops.js';
import { hashString } from './threads/job-control.js';
import { fromTypedArray } from '../tensor/factory.js';
import type { CallDescriptor, DeviceCommunicator, GroupSpec } from './types.js';
import { nulTerminated } from '../debug/rank-status.js';

/** Bytes of a call description (longer descriptions are cut; they still compare by hash). */
const AGREE_BYTES = 256;

const encoder = new TextEncoder();

/**
 * Returns when every member of `group` called `call`; else throws a MismatchError on every member. `local`:
 * the members in this process (shared memory), undefined when this member is alone in its process.
 */
export function agreeAcross(ops: ProcessOps, layout: GroupLayout, group: GroupSpec,
  local: DeviceCommunicator | undefined, call: CallDescriptor, timeoutMs: number): void {
  local?.agree(call, { timeoutMs });
  const verdict = new Int32Array(1);
  let failure: MismatchError | undefined;
  if (layout.leader) {
    failure = compareAcross(ops, layout, group, call, timeoutMs);
    verdict[0] = failure === undefined ? 0 : 1;
  }
  local?.broadcast(fromTypedArray(verdict), 0, { timeoutMs });
  if (failure !== undefined) throw failure;
  if (verdict[0] !== 0) {
    const leader = group.ranks[layout.localMembers[0]!];
    throw new MismatchError(`Ranks of group ${group.name} [${group.ranks.join(', ')}] in other processes ` +
      `called something else than ${JSON.stringify(call)} (the report names each call on rank ${leader})`);
  }
}

/** Undefined when every process of the group called `call`; else the error that lists each one's call. */
function compareAcross(
  ops: ProcessOps, layout: GroupLayout, group: GroupSpec, call: CallDescriptor, timeoutMs: number,
): MismatchError | undefined {
  const text = JSON.stringify(call), p = layout.processes.length;
  const mine = new Uint8Array(AGREE_BYTES);
  mine.set(encoder.encode(text).subarray(0, AGREE_BYTES - 4));
  new DataView(mine.buffer).setInt32(AGREE_BYTES - 4, hashString(text));
  const all = new Uint8Array(AGREE_BYTES * p);
  ops.allGather(mine, all, timeoutMs, `agreeing on ${call.op}`);
  let same = true;
  for (let i = 0; i < all.length && same; i++) same = all[i] === mine[i % AGREE_BYTES];
  if (same) return undefined;
  const calls: string[] = [];
  for (let q = 0; q < p; q++) {
    const theirs = all.subarray(q * AGREE_BYTES, (q + 1) * AGREE_BYTES);
    const members = layout.membersOf[q]!.map((m) => group.ranks[m]).join(', ');
    const described = nulTerminated(theirs.subarray(0, AGREE_BYTES - 4));
    calls.push(`  ranks [${members}]: ${described}`);
  }
  return new MismatchError(`Ranks of group ${group.name} [${group.ranks.join(', ')}] called different ` +
    `collectives:\n${calls.join('\n')}`);
}
