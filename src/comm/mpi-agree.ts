/**
 * The `mpi` backend's call comparison across processes (the leaders' half of `agree`, for the checks
 * wrapper): each process's leader sends its call's description (cut to AGREE_BYTES, with a hash of the
 * whole) to every other; any difference fails every member, each process's call listed.
 */
import { MismatchError } from '../errors.js';
import type { GroupLayout } from './mpi-layout.js';
import type { ProcessOps } from './mpi-process-ops.js';
import { hashString } from './threads/job-control.js';
import type { CallDescriptor, GroupSpec } from './types.js';

/** Bytes of a call description (longer descriptions are cut; they still compare by hash). */
const AGREE_BYTES = 256;

/** Undefined when every process of the group called `call`; else the error that lists each one's call. */
export function compareAcross(
  ops: ProcessOps, layout: GroupLayout, group: GroupSpec, call: CallDescriptor, timeoutMs: number,
): MismatchError | undefined {
  const text = JSON.stringify(call), p = layout.processes.length;
  const mine = new Uint8Array(AGREE_BYTES);
  mine.set(new TextEncoder().encode(text).subarray(0, AGREE_BYTES - 4));
  new DataView(mine.buffer).setInt32(AGREE_BYTES - 4, hashString(text));
  const all = new Uint8Array(AGREE_BYTES * p);
  ops.allGather(mine, all, timeoutMs, `agreeing on ${call.op}`);
  const calls: string[] = [];
  let same = true;
  for (let q = 0; q < p; q++) {
    const theirs = all.subarray(q * AGREE_BYTES, (q + 1) * AGREE_BYTES);
    if (theirs.some((b, i) => b !== mine[i])) same = false;
    const end = theirs.indexOf(0);
    const members = layout.membersOf[q]!.map((m) => group.ranks[m]).join(', ');
    const described = new TextDecoder().decode(theirs.subarray(0, end < 0 ? AGREE_BYTES - 4 : end));
    calls.push(`  ranks [${members}]: ${described}`);
  }
  if (same) return undefined;
  return new MismatchError(`Ranks of group ${group.name} [${group.ranks.join(', ')}] called different ` +
    `collectives:\n${calls.join('\n')}`);
}
