/**
 * Thread pools for jobs. A job needs `worldSize` threads of its own for its whole life (its ranks block
 * on each other), so concurrent jobs never share a pool.
 *
 * By default a job runs on threads that never ran user code, and they are destroyed when it ends: a
 * fresh thread is the only way to give the rank module *and everything it imports* fresh module state
 * (a cache-busting query on the module's URL would renew the module itself, but not its imports, and
 * would keep every old copy alive). Starting a thread costs tens of milliseconds, so when a job of a size
 * that recurs (the second and later jobs of that size) ends, a **standby** pool of the same size starts
 * in the background for the next one; a size launched once costs no standby.
 *
 * A `keepModuleState` job instead takes a **warm** pool that earlier `keepModuleState` jobs ran on, and
 * gives it back warm. Idle pools are destroyed after STANDBY_IDLE_MS (standby: fresh threads, only
 * memory) or POOL_IDLE_MS (warm: they hold a job's module state). Every thread holds
 * the process-wide arena and the compiled kernels from birth (workerData), and piscina unrefs idle
 * threads: an idle pool never keeps the process alive.
 */
import { Piscina } from 'piscina';
import type { PoolWorkerData } from './protocol.js';
import { entryFile } from '../package-files.js';

/** How long an idle warm pool is kept. */
export const POOL_IDLE_MS = 5_000;
/** How long an idle standby pool is kept (booting one again costs more than keeping it). */
export const STANDBY_IDLE_MS = 30_000;

const WORKER_URL = entryFile('workers/rank-worker.js');

export interface PoolLease {
  readonly pool: Piscina;
  readonly size: number;
  /**
   * Gives the pool back. A `keepModuleState` pool whose job ended well is kept warm; any other is
   * destroyed (it ran user code, or, after a failure, its threads may be stuck).
   */
  release(healthy: boolean): Promise<void>;
  /** Where the pool's 'error' events go while this lease holds it (see PoolManager's #errors). */
  onError(handler: (error: unknown) => void): void;
}

interface Idle {
  readonly pool: Piscina;
  readonly timer: NodeJS.Timeout;
}

export class PoolManager {
  /** Fresh pools by size: never ran a task. */
  readonly #standby = new Map<number, Idle>();
  /** Pools of `keepModuleState` jobs by size, most recent last. */
  readonly #warm = new Map<number, Idle[]>();
  readonly #data: PoolWorkerData;
  readonly #live = new Set<Piscina>();
  /** Default (fresh-thread) jobs launched, by size: a standby is worth starting for sizes that recur. */
  readonly #jobs = new Map<number, number>();
  /** Standby pools about to start, by size. */
  readonly #planned = new Map<number, NodeJS.Timeout>();
  readonly #destroying = new Set<Promise<void>>();
  /**
   * Each leased pool's 'error' handler. Piscina emits 'error' when a thread fails with no task on it (an
   * exception thrown from a callback after its rank returned); unheard, that event ends the process.
   */
  readonly #errors = new Map<Piscina, (error: unknown) => void>();

  constructor(data: PoolWorkerData) {
    this.#data = data;
  }

  /** Threads of every live pool (running, standby and warm). */
  get threadCount(): number {
    let count = 0;
    for (const pool of this.#live) count += pool.threads.length;
    return count;
  }

  /** A pool of `size` threads for one job; `keepModuleState` allows one that earlier such jobs ran on. */
  acquire(size: number, keepModuleState: boolean): PoolLease {
    const idle = (keepModuleState ? this.#warm.get(size)?.pop() : undefined) ?? this.#takeStandby(size);
    if (idle !== undefined) clearTimeout(idle.timer);
    // A standby about to start would boot beside this job's own threads and slow both; this job's end
    // plans the next one.
    else this.#cancelPlanned(size);
    const pool = idle?.pool ?? this.#create(size);
    if (!keepModuleState) this.#jobs.set(size, (this.#jobs.get(size) ?? 0) + 1);
    return {
      pool, size, release: (healthy) => this.#release(pool, size, keepModuleState && healthy),
      onError: (handler) => void this.#errors.set(pool, handler),
    };
  }

  /**
   * Starts booting a standby pool of `size` threads now, for a job about to be launched (a worker process
   * of a job of several processes boots its threads while the processes meet). The next `acquire(size)`
   * takes it; untaken, it ends after STANDBY_IDLE_MS.
   */
  prepare(size: number): void {
    this.#cancelPlanned(size);
    this.#startStandby(size);
  }

  #takeStandby(size: number): Idle | undefined {
    const idle = this.#standby.get(size);
    this.#standby.delete(size);
    return idle;
  }

  #create(size: number): Piscina {
    const pool = new Piscina({
      filename: WORKER_URL.href,
      minThreads: size,
      maxThreads: size,
      concurrentTasksPerWorker: 1,
      // Idle workers must keep running their event loop: the driver calls ranks over RPC after main returns.
      atomics: 'disabled',
      idleTimeout: 2 ** 31 - 1,
      workerData: this.#data,
    });
    pool.on('error', (error: unknown) => {
      const handler = this.#errors.get(pool);
      if (handler !== undefined) handler(error);
      else process.emitWarning(`multirank: an idle rank thread failed: ${(error as Error)?.message ?? String(error)}`);
    });
    this.#live.add(pool);
    return pool;
  }

  /** An idle pool, destroyed after `idleMs` unless taken; `untrack` removes it from its list first. */
  #idle(pool: Piscina, idleMs: number, untrack: (entry: Idle) => void): Idle {
    const expire = (): void => {
      untrack(entry);
      this.#destroy(pool).catch(() => undefined); // nobody waits for it: shutdown() waits for #destroying
    };
    const entry: Idle = { pool, timer: setTimeout(expire, idleMs).unref() };
    return entry;
  }

  async #release(pool: Piscina, size: number, keepWarm: boolean): Promise<void> {
    this.#errors.delete(pool);
    if (keepWarm) {
      const list = this.#warm.get(size) ?? [];
      list.push(this.#idle(pool, POOL_IDLE_MS, (entry) => remove(list, entry)));
      this.#warm.set(size, list);
      return;
    }
    // The standby starts on the next turn of the event loop rather than now: a process that shuts down
    // (or ends) right after its last job does not boot threads for nothing.
    const recurs = (this.#jobs.get(size) ?? 0) >= 2;
    if (recurs && !this.#standby.has(size) && !this.#planned.has(size)) {
      this.#planned.set(size, setTimeout(() => this.#startStandby(size), 0).unref());
    }
    // Every task of the job has settled: its threads end in the background (shutdown() waits for them),
    // so that close() does not wait for thread teardown.
    this.#destroy(pool).catch(() => undefined);
  }

  #cancelPlanned(size: number): void {
    clearTimeout(this.#planned.get(size));
    this.#planned.delete(size);
  }

  #startStandby(size: number): void {
    this.#planned.delete(size);
    if (this.#standby.has(size)) return;
    this.#standby.set(size, this.#idle(this.#create(size), STANDBY_IDLE_MS, () => this.#standby.delete(size)));
  }

  #destroy(pool: Piscina): Promise<void> {
    this.#live.delete(pool);
    const done = pool.destroy();
    const forget = (): void => void this.#destroying.delete(settled);
    const settled: Promise<void> = done.then(forget, forget);
    this.#destroying.add(settled);
    return done;
  }

  /** Destroys every pool (standby and warm ones included), and waits for those being destroyed. */
  async destroyAll(): Promise<void> {
    const idle = [...this.#standby.values(), ...[...this.#warm.values()].flat()];
    for (const timer of [...idle.map((entry) => entry.timer), ...this.#planned.values()]) clearTimeout(timer);
    this.#planned.clear();
    this.#standby.clear();
    this.#warm.clear();
    const pools = [...this.#live];
    await Promise.all(pools.map((pool) => this.#destroy(pool)));
    await Promise.all([...this.#destroying]);
  }
}

function remove<T>(list: T[], item: T): void {
  const at = list.indexOf(item);
  if (at !== -1) list.splice(at, 1);
}
