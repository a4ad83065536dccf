/**
 * What `MessageQueue.createFromGroup` needs of a group (GroupCoordinator provides it): its members, where
 * its shared memory is, and a way to tell the readers where the writer put the ring; and how a member
 * waiting in a broadcast through the queue is described to the deadlock report.
 */
import { groupLabel, STALL_MS } from '../debug/rank-status.js';
import type { Arena } from './arena.js';
import { ranksText, type BlockedRecord, type QueueHandleOptions, type QueueWaitMarker } from './queue-end.js';
import type { AbortWord } from './wait.js';
import type { RelayOpener } from './relay-channel.js';

/**
 * Where a group's queue lives: `owner` is the arena tag of the ring (the job's; see `Arena.alloc`);
 * `record`, this rank's status record, where a long wait marks the rank blocked for the watchdog.
 */
export interface QueueContext {
  readonly arena: Arena;
  readonly owner: number;
  readonly timeoutMs: number;
  readonly spinIterations: number;
  readonly abort: AbortWord;
  readonly record?: BlockedRecord | undefined;
}

/** What a group gives the queue (GroupCoordinator has it). */
export interface QueueGroup {
  readonly rankInGroup: number;
  readonly worldSize: number;
  readonly ranks: readonly number[];
  /** The group's name (tp, dp, ...), for the deadlock report. */
  readonly groupName?: string;
  readonly queueContext: QueueContext;
  /**
   * Collective: `offset` from member `src` on every member. Tensor collectives do it (not the object
   * plane, which may itself run on a queue).
   */
  broadcastOffset(offset: number, src: number): number;
  /** Present when the members live in several processes: the queue then has remote readers (queue-span.ts). */
  readonly span?: QueueSpan | undefined;
}

/** What a queue over a group that spans processes needs besides a QueueGroup's (process-span.ts has it). */
export interface QueueSpan {
  /** Whether member `member` (a group rank) lives in this process, whose arena holds the writer's ring. */
  isLocal(member: number): boolean;
  /** Collective: the writer's `handle` (plain data) on every member, through the job's store. */
  shareHandle(handle: unknown, src: number): unknown;
  /** Hands a remote-reader channel to this process's relay. */
  readonly openRelay: RelayOpener;
  /** A member for messages: `rank 5, process 1`. */
  describeMember(member: number): string;
}

/**
 * Tells the deadlock report what a member waiting in a broadcast through this queue waits for.
 * `ringReaders`: the members that read the ring, in ring order (default: every member but the writer;
 * a queue over a group that spans processes has only the writer's process's members there).
 */
export function broadcastMarker(
  group: QueueGroup, writerRank: number, record: BlockedRecord, ringReaders?: readonly number[],
): QueueWaitMarker {
  const call = `broadcastObject from root ${writerRank} of group ${groupLabel(group.groupName, group.ranks)}`;
  const writer = group.ranks[writerRank]!;
  const readerRank = (k: number): number => group.ranks[ringReaders?.[k] ?? (k < writerRank ? k : k + 1)]!;
  return {
    afterMs: STALL_MS,
    mark: (r) => record.markBlockedOn(r.role === 'reader'
      ? `${call}: reading message #${r.message}, waiting for rank ${writer} to write it`
      : `${call}: writing message #${r.message}, waiting for ${ranksText(r.pendingReaders.map(readerRank))} ` +
        `to read message #${r.unreadMessage ?? '?'}`),
    clear: () => record.clearBlocked(),
  };
}

/**
 * The options of a member's end of a group queue (`ringReaders` as broadcastMarker's). A broadcast that
 * times out closes the queue for every end: the next call must not get the message meant for the one
 * given up on.
 */
export function groupEndOptions(
  group: QueueGroup, writerRank: number, ringReaders?: readonly number[],
): QueueHandleOptions {
  const { timeoutMs, spinIterations, abort, record } = group.queueContext;
  return {
    timeoutMs, spinIterations, abort, closeOnTimeout: true,
    ...(record === undefined ? {} : { marker: broadcastMarker(group, writerRank, record, ringReaders) }),
  };
}
