/**
 * Thread pools for jobs. A job needs `worldSize` threads of its own for its whole life (its ranks block
 * on each other), so concurrent jobs never share a pool; a finished job's pool is kept warm for the next
 * job of the same size, then destroyed when idle. Every pool's threads hold the process-wide arena and
 * the compiled kernels from birth (workerData), so a warm launch only posts tasks.
 */
import { Piscina } from 'piscina';
import type { PoolWorkerData } from './protocol.js';

/** How long an idle warm pool is kept. */
export const POOL_IDLE_MS = 5_000;

const WORKER_URL = new URL('../../workers/rank-worker.js', import.meta.url);

export interface PoolLease {
  readonly pool: Piscina;
  readonly size: number;
  /** Returns the pool for reuse (warm) or destroys it (after a failure, its threads may be stuck). */
  release(reuse: boolean): Promise<void>;
}

export class PoolManager {
  readonly #idle = new Map<number, { pool: Piscina; timer: NodeJS.Timeout }[]>();
  readonly #data: PoolWorkerData;
  readonly #live = new Set<Piscina>();

  constructor(data: PoolWorkerData) {
    this.#data = data;
  }

  acquire(size: number): PoolLease {
    const warm = this.#idle.get(size)?.pop();
    let pool: Piscina;
    if (warm !== undefined) {
      clearTimeout(warm.timer);
      pool = warm.pool;
    } else {
      pool = new Piscina({
        filename: WORKER_URL.href,
        minThreads: size,
        maxThreads: size,
        concurrentTasksPerWorker: 1,
        // Idle workers must keep running their event loop: the driver calls ranks over RPC after main returns.
        atomics: 'disabled',
        idleTimeout: 2 ** 31 - 1,
        workerData: this.#data,
      });
      this.#live.add(pool);
    }
    return { pool, size, release: (reuse) => this.#release(pool, size, reuse) };
  }

  async #release(pool: Piscina, size: number, reuse: boolean): Promise<void> {
    if (!reuse) {
      this.#live.delete(pool);
      await pool.destroy();
      return;
    }
    const list = this.#idle.get(size) ?? [];
    const entry = { pool, timer: setTimeout(() => void this.#expire(size, entry), POOL_IDLE_MS).unref() };
    list.push(entry);
    this.#idle.set(size, list);
  }

  async #expire(size: number, entry: { pool: Piscina; timer: NodeJS.Timeout }): Promise<void> {
    const list = this.#idle.get(size) ?? [];
    const at = list.indexOf(entry);
    if (at === -1) return;
    list.splice(at, 1);
    this.#live.delete(entry.pool);
    await entry.pool.destroy();
  }

  /** Destroys every pool (warm ones included). */
  async destroyAll(): Promise<void> {
    for (const list of this.#idle.values()) for (const entry of list) clearTimeout(entry.timer);
    this.#idle.clear();
    const pools = [...this.#live];
    this.#live.clear();
    await Promise.all(pools.map((pool) => pool.destroy()));
  }
}
