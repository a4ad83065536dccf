/** `launch`: start a job of `worldSize` ranks, each a worker thread running the rank module. */
import { setMaxListeners } from 'node:events';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { JobControl } from '../comm/threads/job-control.js';
import { Job } from './job.js';
import type { RankOutcome } from './rank-runtime.js';
import type { RankTask } from './protocol.js';
import { checkLaunchOptions, type LaunchOptions } from './options.js';
import { processRuntime } from './runtime.js';
import { arenaLockSettled } from '../shm/arena-recovery.js';
import { createRpcQueue, type RpcQueue } from './rpc-queue.js';
import { stillWaitingFromEnv } from '../debug/still-waiting.js';
import { isTypeScriptUrl, JobSources } from './ts-source.js';
import { localPlace, ranksOfProcess } from '../comm/process-world.js';
import { ProcessJob } from './process-job.js';

export { CHECK_CALLS_ENV, type LaunchOptions } from './options.js';

/**
 * Starts the job and returns it once every rank's task was posted. `Args` is the type of `options.args`,
 * `Result` what each rank's entry returns (`job.results` is a `Result[]`): see RankEntry. Every option is checked
 * before anything is taken, so a launch that throws leaves no thread and no arena memory behind.
 * @throws TypeError/RangeError (ERR_MULTIRANK_INVALID_ARG_TYPE / _INVALID_ARG_VALUE / _OUT_OF_RANGE)
 *   on a bad option.
 */
export async function launch<Args = unknown, Result = unknown>(options: LaunchOptions<Args>): Promise<Job<Result>> {
  const o = checkLaunchOptions(options);
  const { worldSize, timeoutMs, processWorld } = o;
  // A TypeScript entry is transpiled here, once for every rank, before anything is taken: a syntax error
  // fails the launch, naming the file, line and column.
  const sources = isTypeScriptUrl(o.moduleUrl) ? new JobSources() : undefined;
  await sources?.prepare(o.moduleUrl);
  const stillWaiting = stillWaitingFromEnv();
  // This process runs its block of the job's ranks; the control block has a record for every world rank,
  // so that a failure anywhere (a rank here, or one another process reports) names its world rank.
  const { first, count } = ranksOfProcess(processWorld);
  const runtime = processRuntime(o.arenaMaxBytes === undefined ? {} : { maxBytes: o.arenaMaxBytes });
  await arenaLockSettled(runtime.arena); // see arena-recovery.ts: a terminated rank's exit must be seen first
  const control = JobControl.create(runtime.arena, worldSize);
  let rpc: RpcQueue;
  try {
    rpc = createRpcQueue(runtime.arena, count, { timeoutMs, spinIterations: 0, abort: control.abortWord });
  } catch (error) {
    control.free();
    throw error;
  }
  // The threads last: nothing after this point can throw before the Job owns them.
  const crossing = o.store === undefined ? undefined : new ProcessJob(o.store, processWorld, control);
  const lease = runtime.pools.acquire(count, o.keepModuleState);
  const abort = new AbortController();
  setMaxListeners(count + 1, abort.signal); // one listener per rank's task
  const ports: MessagePort[] = [];
  const tasks: Promise<RankOutcome>[] = [];
  for (let rank = first; rank < first + count; rank++) {
    const place = localPlace(processWorld, rank);
    const storeLink = crossing?.proxy.open();
    const { port1, port2 } = new MessageChannel();
    port1.unref();
    ports.push(port1);
    const source = sources === undefined ? undefined : new MessageChannel();
    if (source !== undefined) sources!.serve(source.port1);
    const task: RankTask = {
      moduleUrl: o.moduleUrl, exportName: o.exportName, rank, worldSize, processWorld,
      localRank: processWorld.processCount > 1 ? place.localRank : rank % o.localWorldSize,
      localWorldSize: processWorld.processCount > 1 ? place.localWorldSize : o.localWorldSize,
      args: o.args, env: o.env, controlOffset: control.byteOffset, timeoutMs,
      outputPrefix: o.outputPrefix, chaos: o.chaos, trace: o.tracePath !== undefined, checkCalls: o.checkCalls,
      rpcQueue: rpc.place, port: port2, sources: source?.port2, storeLink,
    };
    const transferList: MessagePort[] = [port2];
    if (source !== undefined) transferList.push(source.port2);
    if (storeLink !== undefined) transferList.push(storeLink.port);
    tasks.push(lease.pool.run(task, { transferList, signal: abort.signal }) as Promise<RankOutcome>);
  }
  crossing?.start();
  return new Job<Result>(control, lease, ports, tasks, abort, rpc, stillWaiting, o.tracePath, first, crossing);
}
