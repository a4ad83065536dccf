/**
 * `MessageQueue.createFromGroup`: one writer and the other members of a group as readers, over a ring
 * in the job's arena (vLLM's `MessageQueue.create_from_process_group`). Collective over the group: the
 * writer allocates and formats the ring, broadcasts its place with a tensor broadcast (not the object
 * plane, which may itself run on a queue), and every member attaches with its role.
 */
import { outOfRange } from '../errors.js';
import { groupLabel, STALL_MS } from '../debug/rank-status.js';
import type { Arena } from './arena.js';
import { MessageQueue, type QueueReader, type QueueWriter } from './message-queue.js';
import { ranksText, type BlockedRecord, type QueueWaitMarker } from './queue-end.js';
import type { AbortWord } from './wait.js';
import { tensor } from '../tensor/factory.js';
import type { Tensor } from '../tensor/tensor.js';

/** What a group gives the queue (GroupCoordinator has it). */
export interface QueueGroup {
  readonly rankInGroup: number;
  readonly worldSize: number;
  readonly ranks: readonly number[];
  /** The group's name (tp, dp, ...), for the deadlock report. */
  readonly groupName?: string;
  /**
   * `owner`: the arena tag of the ring (the job's; see `Arena.alloc`); `record`: this rank's status record,
   * where a long wait marks the rank blocked, so that the deadlock watchdog sees it.
   */
  readonly queueContext: {
    arena: Arena; owner: number; timeoutMs: number; spinIterations: number; abort: AbortWord; record?: BlockedRecord;
  };
  broadcast(t: Tensor, options: { src: number }): Tensor;
}

/** This member's end of a group queue, with the means to close it and free its ring. */
export interface GroupQueueEnd {
  readonly queue: MessageQueue;
  readonly end: QueueWriter | QueueReader;
  /**
   * The writer waits until every reader consumed every message, then closes the queue and returns the
   * ring to the arena; a reader does nothing (the writer owns the ring's life). When the readers do not
   * drain in time the ring is closed but not freed: a late reader must not read reused memory.
   */
  destroy(): void;
}

/** `MessageQueue.createFromGroup` (which gives the defaults). */
export function createQueueFromGroup(group: QueueGroup, maxChunkBytes: number, maxChunks: number, writerRank: number): GroupQueueEnd {
  if (!Number.isInteger(writerRank) || writerRank < 0 || writerRank >= group.worldSize) {
    throw outOfRange(`\`writerRank\` (${writerRank}) must be a rank of this group (0..${group.worldSize - 1})`);
  }
  const { arena, owner, timeoutMs, spinIterations, abort, record } = group.queueContext;
  const sizes = { nReaders: group.worldSize - 1, maxChunkBytes, maxChunks };
  const isWriter = group.rankInGroup === writerRank;
  const created = isWriter ? MessageQueue.createInArena(arena, sizes, owner) : undefined;
  const region = created?.region;
  // Every member knows the ring's size; only its place travels.
  const place = group.broadcast(tensor([region?.byteOffset ?? 0], { dtype: 'int64' }), { src: writerRank });
  const queue = created?.queue ?? MessageQueue.attachInArena(arena, { byteOffset: Number(place.getFlat(0)), byteLength: MessageQueue.bytesNeeded(sizes) });
  const marker = record === undefined ? {} : { marker: broadcastMarker(group, writerRank, record) };
  const options = { timeoutMs, spinIterations, abort, closeOnTimeout: true, ...marker };
  const readerIndex = group.rankInGroup < writerRank ? group.rankInGroup : group.rankInGroup - 1;
  const end = isWriter ? queue.writer(options) : queue.reader(readerIndex, options);
  return {
    queue, end,
    destroy: () => {
      if (region === undefined) return;
      try {
        (end as QueueWriter).drain();
      } catch {
        queue.close();
        return;
      }
      queue.close();
      arena.free(region);
    },
  };
}

/** Tells the deadlock report what a member waiting in a broadcast through this queue waits for. */
function broadcastMarker(group: QueueGroup, writerRank: number, record: BlockedRecord): QueueWaitMarker {
  const call = `broadcastObject from root ${writerRank} of group ${groupLabel(group.groupName, group.ranks)}`;
  const writer = group.ranks[writerRank]!;
  const readerRank = (k: number): number => group.ranks[k < writerRank ? k : k + 1]!;
  return {
    afterMs: STALL_MS,
    mark: (r) => record.markBlockedOn(r.role === 'reader'
      ? `${call}: reading message #${r.message}, waiting for rank ${writer} to write it`
      : `${call}: writing message #${r.message}, waiting for ${ranksText(r.pendingReaders.map(readerRank))} ` +
        `to read message #${r.unreadMessage ?? '?'}`),
    clear: () => record.clearBlocked(),
  };
}
