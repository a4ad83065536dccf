/**
 * One process's part of a job of several processes, in its driver: the store proxy of its ranks
 * (store-proxy.ts), and failure across processes through the job's store.
 *
 * - The first failure of the job is one key, `multirank/abort` (compare-and-set from empty, so the first
 *   writer wins): `{ rank, message }`. A rank failing here (or a deadlock found here) writes it; every
 *   process waits on it and, when it appears, raises its own job's abort word with that rank, so every
 *   local wait ends at once with an error naming the failed rank. `multirank run`'s agent writes it for a
 *   process that died (exit code or signal), naming that process's ranks.
 * - Heartbeats: each process sets `multirank/alive/{p}` every HEARTBEAT_MS and reads the others'; one
 *   whose counter stood still for HEARTBEAT_LOST_MS (a machine that went away with its agent) fails the
 *   job naming its ranks. A process that finished sets `multirank/done/{p}` and is not watched any more.
 * - Losing the store itself (its host ended) fails the job too.
 */
import { CLOSED_BY_DRIVER, DEADLOCK, type JobControl } from '../comm/threads/job-control.js';
import { processLabel, ranksOfProcess, type ProcessWorld } from '../comm/process-world.js';
import type { Store } from '../store/types.js';
import { StoreProxy } from './store-proxy.js';

/** How often a process says it is alive, and how long a silent one is taken for lost. */
export const HEARTBEAT_MS = 1_000;
export const HEARTBEAT_LOST_MS = 15_000;
/** How often the driver looks for a failure of its own ranks to publish. */
const LOCAL_POLL_MS = 50;
/** How long one wait for the abort key lasts before it is asked again (the store's deadline is longer). */
const ABORT_WAIT_MS = 60_000;

export const ABORT_KEY = 'multirank/abort';
export const aliveKey = (p: number): string => `multirank/alive/${p}`;
export const doneKey = (p: number): string => `multirank/done/${p}`;

export class ProcessJob {
  readonly proxy: StoreProxy;
  readonly #store: Store;
  readonly #world: ProcessWorld;
  readonly #control: JobControl;
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #seen = new Map<number, { value: string; sinceMs: number }>();
  #published = false;
  #closed = false;
  #beats = 0;

  constructor(store: Store, world: ProcessWorld, control: JobControl) {
    this.#store = store;
    this.#world = world;
    this.#control = control;
    this.proxy = new StoreProxy(store, world.storeAddress);
  }

  start(): void {
    this.#timers.push(setInterval(() => this.#publishLocalFailure(), LOCAL_POLL_MS).unref());
    this.#timers.push(setInterval(() => void this.#heartbeat(), HEARTBEAT_MS).unref());
    void this.#heartbeat();
    void this.#watchAbort();
  }

  /** Raises this process's abort word for `rank`, unless the job already failed or ended. */
  #fail(rank: number, message: string): void {
    if (this.#closed || this.#control.abortValue !== 0) return;
    this.#published = true; // it came from the store (or the store is gone): nothing to tell the others
    this.#control.fail(rank, message);
  }

  #publishLocalFailure(): void {
    const value = this.#control.abortValue;
    if (this.#published || value === 0 || value === CLOSED_BY_DRIVER) return;
    this.#published = true;
    const rank = value === DEADLOCK ? ranksOfProcess(this.#world).first : value - 1;
    const where = processLabel(this.#world, this.#world.processIndex);
    const what = value === DEADLOCK ? `a deadlock in ${where}` : `rank ${rank} (${where})`;
    const record = JSON.stringify({ rank, message: `${what}: ${this.#control.failureMessage}` });
    this.#store.compareSet(ABORT_KEY, '', record).catch(() => undefined);
  }

  async #watchAbort(): Promise<void> {
    while (!this.#closed) {
      try {
        await this.#store.wait([ABORT_KEY], ABORT_WAIT_MS);
      } catch (error) {
        if (this.#closed) return;
        if ((error as { code?: string }).code === 'ERR_MULTIRANK_TIMEOUT') continue;
        return this.#storeLost(error);
      }
      if (this.#closed) return;
      try {
        const text = Buffer.from(await this.#store.get(ABORT_KEY)).toString('utf8');
        const { rank, message } = JSON.parse(text) as { rank: number; message: string };
        this.#fail(rank, message);
      } catch (error) {
        if (!this.#closed) this.#storeLost(error);
      }
      return;
    }
  }

  #storeLost(error: unknown): void {
    const host = this.#world.storeAddress;
    const at = host === undefined ? '' : ` at ${host.host}:${host.port}`;
    this.#fail(0, `lost the job's store${at} (its host process or machine went away?): ${(error as Error).message}`);
  }

  async #heartbeat(): Promise<void> {
    if (this.#closed) return;
    const w = this.#world;
    try {
      await this.#store.set(aliveKey(w.processIndex), String(++this.#beats));
      const others = Array.from({ length: w.processCount }, (_, p) => p).filter((p) => p !== w.processIndex);
      const checks = await Promise.all(others.map(async (p) => ({
        p, done: await this.#store.check([doneKey(p)]), alive: await this.#store.check([aliveKey(p)]),
      })));
      const now = performance.now();
      for (const { p, done, alive } of checks) {
        if (done || !alive) continue;
        const value = Buffer.from(await this.#store.get(aliveKey(p))).toString('utf8');
        const seen = this.#seen.get(p);
        if (seen === undefined || seen.value !== value) this.#seen.set(p, { value, sinceMs: now });
        else if (now - seen.sinceMs > HEARTBEAT_LOST_MS) {
          const message = `${processLabel(w, p)} stopped answering: no heartbeat for ${HEARTBEAT_LOST_MS} ms (lost?)`;
          this.#fail(ranksOfProcess(w, p).first, message);
        }
      }
    } catch (error) {
      if (!this.#closed) this.#storeLost(error);
    }
  }

  /** This process's ranks are done: it stops being watched, and stops watching. */
  async finish(): Promise<void> {
    if (this.#closed) return;
    this.#publishLocalFailure();
    this.#closed = true;
    for (const timer of this.#timers) clearInterval(timer);
    this.proxy.close();
    await this.#store.set(doneKey(this.#world.processIndex), '1').catch(() => undefined);
  }
}
