/**
 * The process-wide runtime of the driver: one shared arena (the `WebAssembly.Memory` every rank thread
 * imports) and the thread pools, which hand each thread the memory and the compiled kernels. Created on
 * first use; `shutdown()` ends its threads.
 */
import { Arena, type ArenaOptions } from '../shm/arena.js';
import { recoverOnThreadExit } from '../shm/arena-recovery.js';
import { kernelModule } from '../shm/kernels.js';
import { PoolManager } from './pool.js';

export interface Runtime {
  readonly arena: Arena;
  readonly pools: PoolManager;
}

let current: Runtime | undefined;

/** The runtime of this process; `options` apply only when this call creates it. */
export function processRuntime(options: ArenaOptions = {}): Runtime {
  if (current === undefined) {
    const arena = Arena.create(options);
    recoverOnThreadExit(arena); // a rank thread terminated inside an allocation must not keep the lock
    current = { arena, pools: new PoolManager({ memory: arena.memory, kernelModule: kernelModule() }) };
  }
  return current;
}

/**
 * Destroys every thread pool of the process (standby and warm ones too) and waits for the threads of
 * finished jobs that are still ending. Jobs still running are terminated.
 */
export async function shutdown(): Promise<void> {
  const runtime = current;
  if (runtime === undefined) return;
  await runtime.pools.destroyAll();
}
