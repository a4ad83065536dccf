/**
 * What `MessageQueue.createFromGroup` needs of a group (GroupCoordinator provides it): its members, where
 * its shared memory is, and a way to tell the readers where the writer put the ring.
 */
import type { Arena } from './arena.js';
import type { AbortWord } from './wait.js';

/** Where a group's queue lives: `owner` is the arena tag of the ring (the job's; see `Arena.alloc`). */
export interface QueueContext {
  readonly arena: Arena;
  readonly owner: number;
  readonly timeoutMs: number;
  readonly spinIterations: number;
  readonly abort: AbortWord;
}

/** What a group gives the queue (GroupCoordinator has it). */
export interface QueueGroup {
  readonly rankInGroup: number;
  readonly worldSize: number;
  readonly ranks: readonly number[];
  readonly queueContext: QueueContext;
  /**
   * Collective: `offset` from member `src` on every member. Tensor collectives do it (not the object
   * plane, which may itself run on a queue).
   */
  broadcastOffset(offset: number, src: number): number;
}
