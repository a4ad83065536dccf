/**
 * A running job: its ranks' outcomes, driver -> rank RPC, and its end. A rank that fails ends the job:
 * its peers' waits are released at once (the job control block's abort word), `results` rejects with an
 * error that names the failed rank and carries its stack, and ranks that do not return within
 * FAILURE_GRACE_MS afterwards (stuck outside any multirank wait) are terminated.
 */
import type { MessagePort } from 'node:worker_threads';
import * as Comlink from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { checkInteger, ErrorCodes, MultirankError } from '../errors.js';
import { CLOSED_BY_DRIVER, DEADLOCK } from '../comm/threads/job-control.js';
import { Watchdog } from '../debug/watchdog.js';
import { RankState } from '../debug/rank-status.js';
import { StillWaitingReporter, type StillWaitingTimes } from '../debug/still-waiting.js';
import { dumpNote, writeFlightRecorderDump, type DumpResult } from '../debug/flight-dump.js';
import { writeTrace } from '../debug/trace.js';
import type { RpcQueue, RpcRequest } from './rpc-queue.js';
import type { JobControl } from '../comm/threads/job-control.js';
import type { PoolLease } from './pool.js';
import { unwatchDumpSignal, watchDumpSignal } from './dump-signal.js';
import type { RankOutcome } from './rank-runtime.js';
import { serializeError } from './serialize-error.js';
import { closedByDriver, rankFailure, remoteFailure, threadExited } from './job-failure.js';
import { decodeResult, type EncodedResult } from './result-codec.js';
import { arenaLockSettled } from '../shm/arena-recovery.js';
import type { ProcessJob } from './process-job.js';

/** How long the other ranks get to return after a rank failed, before their threads are terminated. */
export const FAILURE_GRACE_MS = 2_000;
/**
 * `1`: no who-was-where summary on stderr when a job fails (the error and the dump are unchanged), and no
 * "still waiting" lines.
 */
export const QUIET_ENV = 'MULTIRANK_QUIET';

const quiet = (): boolean => process.env[QUIET_ENV] === '1';

interface RankApi {
  call(name: string, args: unknown[]): Promise<unknown>;
  runQueued(id: number): Promise<unknown>;
}

export interface RankHandle {
  /** Calls the export `name` of the rank module in this rank's thread; `T` is what it returns. */
  call<T = unknown>(name: string, ...args: unknown[]): Promise<T>;
}

export class Job<Result = unknown> {
  /** Ranks of this job in this process (the whole job's, unless it spans several processes). */
  readonly worldSize: number;
  /** World rank of this process's first rank (0 unless the job spans several processes). */
  readonly firstRank: number;
  /** Each rank's return value, in rank order; rejects with a RankFailedError when a rank fails. */
  readonly results: Promise<Result[]>;
  readonly #control: JobControl;
  readonly #lease: PoolLease;
  readonly #ports: MessagePort[];
  readonly #apis: Comlink.Remote<RankApi>[];
  /** Driver -> rank calls not yet settled, per rank (for the watchdog: such a rank is live), and all. */
  readonly #calls: number[];
  readonly #inFlight = new Set<Promise<unknown>>();
  readonly #abort: AbortController;
  readonly #settled: Promise<RankOutcome[]>;
  readonly #watchdog: Watchdog;
  readonly #stillWaiting: StillWaitingReporter | undefined;
  #closed: Promise<void> | undefined;
  #failed = false;

  readonly #tracePath: string | undefined;
  readonly #onSignal = (): void => {
    const dump = this.dumpFlightRecorder('SIGUSR2');
    process.stderr.write(`multirank: SIGUSR2: ${dumpNote(dump)} (job of ${this.worldSize} ranks)\n${dump.summary}\n`);
  };

  readonly #rpc: RpcQueue;
  /** This process's part of a job of several processes (store proxy, failures across processes). */
  readonly #crossing: ProcessJob | undefined;
  #rpcId = 0;

  constructor(
    control: JobControl, lease: PoolLease, ports: MessagePort[], tasks: Promise<RankOutcome>[],
    abort: AbortController, rpc: RpcQueue, stillWaiting: StillWaitingTimes | undefined, tracePath?: string,
    firstRank = 0, crossing?: ProcessJob,
  ) {
    this.#crossing = crossing;
    this.#tracePath = tracePath;
    this.#rpc = rpc;
    this.worldSize = ports.length;
    this.firstRank = firstRank;
    this.#control = control;
    this.#lease = lease;
    this.#ports = ports;
    this.#abort = abort;
    this.#apis = ports.map((port) => Comlink.wrap<RankApi>(nodeEndpoint(port as never)));
    // Comlink's listener refs each port: only a call on its way may keep the process alive (#counted), so
    // that a driver that forgets `await job.close()` still ends when its work ends.
    for (const port of ports) port.unref();
    this.#calls = ports.map(() => 0);
    this.#watchdog = new Watchdog(control, this.worldSize, (slot) => this.#calls[slot]! > 0, firstRank);
    this.#watchdog.start();
    rpc.whileWaiting = () => void this.#watchdog.poll(); // the driver blocked in a large call cannot run the timer
    if (stillWaiting !== undefined && !quiet()) {
      const write = (text: string): void => void process.stderr.write(text);
      this.#stillWaiting = new StillWaitingReporter(control, this.worldSize, stillWaiting, write, firstRank);
      this.#stillWaiting.start();
    }
    lease.onError((error) => this.#threadError(error));
    watchDumpSignal(this.#onSignal);
    this.#settled = Promise.all(tasks.map((task, slot) => this.#watch(task, slot)));
    this.results = this.#collect();
    this.results.catch(() => undefined); // the caller may never read results; close() still works.
  }

  /** A handle to call functions of rank `index`'s module. */
  rank(index: number): RankHandle {
    checkInteger('index', index, 0, this.worldSize - 1);
    const api = this.#apis[index]!;
    return {
      call: async <T>(name: string, ...args: unknown[]) =>
        decodeResult((await this.#counted(index, api.call(name, args))) as EncodedResult) as T,
    };
  }

  /**
   * Calls `method` on every rank at once; resolves with each rank's return value in rank order. The call
   * crosses shared memory once for all ranks (the job's RPC queue); replies come over each rank's port.
   * A rank that throws rejects the call with its error, its message prefixed with its rank.
   */
  async collectiveRpc<T = unknown>(method: string, ...args: unknown[]): Promise<T[]> {
    const id = ++this.#rpcId;
    // Ask the ranks first, so that they are reading while a call larger than the ring streams through it.
    const replies = Promise.all(this.#apis.map((api, rank) => this.#counted(rank, api.runQueued(id))));
    try {
      this.#rpc.writer.enqueue({ id, method, args } satisfies RpcRequest);
    } catch (error) {
      // The job failed while the call streamed (a deadlock the watchdog found meanwhile, a closed job).
      replies.catch(() => undefined);
      return Promise.reject(error);
    }
    return (await replies).map((reply) => decodeResult(reply as EncodedResult) as T);
  }

  /** Counts `call` as on its way to `rank` until it settles. */
  #counted<T>(rank: number, call: Promise<T>): Promise<T> {
    if (this.#calls[rank]!++ === 0) this.#ports[rank]!.ref();
    const counted = call.finally(() => {
      if (--this.#calls[rank]! === 0) this.#ports[rank]!.unref();
      this.#inFlight.delete(counted);
    });
    this.#inFlight.add(counted);
    return counted;
  }

  /**
   * Ends the job: releases waiting ranks, waits for them, and gives the threads back (a `keepModuleState`
   * job's stay warm for the next such job; any other job's end, since they ran user code). Idempotent.
   */
  close(): Promise<void> {
    return (this.#closed ??= this.#close());
  }

  /**
   * Writes the flight recorder of every rank to a JSON file; returns its path (none when it could not be
   * written: a warning says why, and nothing throws) and a summary of who was where.
   */
  dumpFlightRecorder(reason: string): DumpResult {
    return writeFlightRecorderDump(this.#control, { first: this.firstRank, count: this.worldSize }, reason);
  }

  /** Every rank's chaos schedule (the delays taken, in call order), once the ranks returned. */
  async chaosSchedules(): Promise<(number[] | undefined)[]> {
    return (await this.#settled).map((o) => o.chaosSchedule);
  }

  async #close(): Promise<void> {
    unwatchDumpSignal(this.#onSignal);
    this.#watchdog.stop();
    this.#stillWaiting?.stop();
    this.#control.close();
    const timer = setTimeout(() => this.#abort.abort(), FAILURE_GRACE_MS).unref();
    await this.#settled;
    await this.#crossing?.finish();
    // Calls still running in ranks (`rank(i).call`, `collectiveRpc`) use the job's memory: let them end
    // (the abort word released their waits) before it is freed; threads whose call does not end within
    // the grace period are terminated with their pool rather than reused.
    const callsEnded = await settledWithin([...this.#inFlight], FAILURE_GRACE_MS);
    clearTimeout(timer);
    for (const api of this.#apis) api[Comlink.releaseProxy]();
    for (const port of this.#ports) port.close();
    await this.#lease.release(!this.#failed && !this.#abort.signal.aborted && callsEnded);
    await arenaLockSettled(this.#control.arena); // a rank terminated inside an allocation (arena-recovery.ts)
    this.#rpc.destroy();
    this.#control.free();
  }

  async #watch(task: Promise<RankOutcome>, slot: number): Promise<RankOutcome> {
    const rank = this.firstRank + slot;
    let outcome: RankOutcome;
    try {
      outcome = await task;
    } catch (error) {
      // The thread died (process.exit in the rank, an uncaught error outside the entry, or termination);
      // what it died of may not even be an Error.
      const serialized = serializeError(error);
      const exited = threadExited(serialized);
      // A thread that exited left its record as it was (running): reports must not show it so.
      if (exited !== serialized) this.#control.record(rank).setState(RankState.FAILED);
      outcome = { ok: false, error: { ...exited, rank } };
    }
    if (!outcome.ok) {
      this.#failed = true;
      this.#control.fail(rank, `${outcome.error.name}: ${outcome.error.message}`);
      setTimeout(() => this.#abort.abort(), FAILURE_GRACE_MS).unref();
    }
    return outcome;
  }

  /**
   * A rank thread failed after its task settled (piscina's 'error' event: an exception thrown from a
   * callback after the rank returned). The host lives on: the job's threads are not reused, and it is said.
   */
  #threadError(error: unknown): void {
    this.#failed = true;
    const { name, message } = serializeError(error);
    // The thread recorded its failure before it ended (lost-rejections.ts), unless another came first.
    const slot = this.#failedSlot();
    const who = slot === undefined ? 'a rank thread' : `rank ${this.firstRank + slot}'s thread`;
    process.stderr.write(`multirank: ${who} failed after the rank returned: ${name}: ${message}\n`);
  }

  /**
   * The slot of this process's rank whose failure the job control block recorded first; undefined when it
   * recorded none, a deadlock, the driver's close, or a rank of another process.
   */
  #failedSlot(abort = this.#control.abortValue): number | undefined {
    const slot = abort - 1 - this.firstRank;
    return slot >= 0 && slot < this.worldSize ? slot : undefined;
  }

  async #collect(): Promise<Result[]> {
    const outcomes = await this.#settled;
    if (this.#tracePath !== undefined) writeTrace(this.#tracePath, outcomes.map((o) => o.trace ?? []));
    const abort = this.#control.abortValue;
    // A job the watchdog ended failed, even when its ranks caught the error and returned; so did a job one
    // of whose ranks recorded a failure after it returned (a promise it left rejected, nobody handling it).
    const deadlocked = abort === DEADLOCK;
    // The first failure recorded in the control block is the cause; the others were released by it.
    const first = this.#failedSlot(abort);
    const failedLate = first !== undefined && outcomes[first]!.ok;
    // Each value arrives as the rank's own copy; Tensors are rebuilt from theirs.
    if (!deadlocked && !failedLate && outcomes.every((o) => o.ok)) {
      return outcomes.map((o) => decodeResult((o as { value: EncodedResult }).value) as Result);
    }
    if (abort === CLOSED_BY_DRIVER) throw closedByDriver(outcomes, this.firstRank);
    const dump = this.dumpFlightRecorder(deadlocked ? 'deadlock' : 'failure');
    const where = dump.path ?? 'not written';
    if (!quiet()) process.stderr.write(`multirank: the job failed; flight recorder: ${where}\n${dump.summary}\n`);
    const recorder = `\n${dumpNote(dump)}`;
    if (deadlocked) throw new MultirankError(ErrorCodes.DEADLOCK, this.#control.failureMessage + recorder);
    const cause = this.#control.failureMessage;
    if (first !== undefined) throw rankFailure(outcomes, first, recorder, cause, this.firstRank);
    // A rank of another process of the job (reported through the job's store) failed first.
    if (abort >= 1 && abort < DEADLOCK) {
      throw remoteFailure(outcomes, abort - 1, cause, recorder, this.firstRank);
    }
    throw rankFailure(outcomes, outcomes.findIndex((o) => !o.ok), recorder, '', this.firstRank);
  }
}

/** Whether every one of `calls` settled within `ms`. */
async function settledWithin(calls: readonly Promise<unknown>[], ms: number): Promise<boolean> {
  if (calls.length === 0) return true;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const ended = await Promise.race([Promise.allSettled(calls).then(() => true), late]);
  clearTimeout(timer);
  return ended;
}
