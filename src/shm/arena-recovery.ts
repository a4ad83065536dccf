/**
 * Recovering the arena's lock from a thread that died holding it (arena-lock.ts). Node tells the thread
 * that created a worker when it exits ('exit' on the Worker, in that thread's event loop); the driver
 * creates every rank thread, so it watches them all and recovers the lock of any that died holding it.
 *
 * The exit is seen only while the driver's event loop runs, and an allocation in the driver blocks it:
 * before allocating after ranks may have been terminated, the driver awaits `arenaLockSettled`, which
 * lets the loop run until the lock is free (released by a live holder within microseconds, or recovered).
 */
import type { Worker } from 'node:worker_threads';
import { ARENA_LOCK_TIMEOUT_MS } from './arena-lock.js';
import type { Arena } from './arena.js';

/** Watches every worker this thread creates from now on; returns the function that stops watching. */
export function recoverOnThreadExit(arena: Arena): () => void {
  const onWorker = (worker: Worker): void => {
    const id = worker.threadId;
    worker.once('exit', () => {
      try {
        arena.recoverLockOf(id);
      } catch (error) {
        // A heap that cannot be repaired is a bug; the lock stays held and allocations time out naming it.
        const reason = (error as Error).message;
        process.emitWarning(`multirank: could not recover the shared arena after thread ${id} exited: ${reason}`);
      }
    });
  };
  process.on('worker', onWorker);
  return () => void process.off('worker', onWorker);
}

/**
 * Resolves once the arena's lock is free, or after `timeoutMs` (then the allocation that follows waits,
 * and fails, as it would have), without blocking this thread's event loop meanwhile.
 */
export async function arenaLockSettled(arena: Arena, timeoutMs = ARENA_LOCK_TIMEOUT_MS): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (arena.lockHolder !== undefined && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}
