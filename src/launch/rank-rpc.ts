/**
 * The rank side of the driver's calls (`job.rank(i).call`, `job.collectiveRpc`): the rank module's exports,
 * served over the job's comlink port. A reply crosses as a rank's result does (result-codec.ts).
 */
import * as Comlink from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { invalidType } from '../errors.js';
import type { Arena } from '../shm/arena.js';
import type { JobControl } from '../comm/threads/job-control.js';
import { RankState, type RankRecord } from '../debug/rank-status.js';
import type { RankTask } from './protocol.js';
import { flushOutput } from './rank-scope.js';
import { encodeResult } from './result-codec.js';
import { RpcServer } from './rpc-queue.js';

/** Exposes the rank module's exports to the driver until the job's port closes. */
export function serveRpc(
  task: RankTask, module: Record<string, unknown>, record: RankRecord, arena: Arena, job: JobControl,
  entryRunning: () => boolean,
): void {
  let server: RpcServer | undefined;
  let active = 0;
  const api = {
    /** `job.collectiveRpc`: runs queued call `id` (and any before it) from the driver's queue. */
    runQueued(id: number): Promise<unknown> {
      // A failed job fails its later calls too (the abort word), as every other wait of the rank does.
      const options = { timeoutMs: task.timeoutMs, spinIterations: 0, abort: job.abortWord };
      // The RPC queue has a reader per rank of this process: this rank's place in the process's block.
      const reader = task.rank - task.processWorld.processStarts[task.processWorld.processIndex]!;
      server ??= new RpcServer(arena, task.rpcQueue, reader, options, (name, args) => api.call(name, args), record);
      return server.run(id);
    },
    async call(name: string, args: unknown[]): Promise<unknown> {
      const fn = module[name];
      if (typeof fn !== 'function') {
        throw invalidType(`the export \`${name}\` of rank ${task.rank}'s module`, 'a function', fn);
      }
      record.setState(RankState.RUNNING);
      active++;
      try {
        const value = await (fn as (...a: unknown[]) => unknown)(...args);
        const { encoded, transfer } = encodeResult(value, `the value rank ${task.rank}'s ${name}() returned`);
        await flushOutput();
        return Comlink.transfer(encoded, transfer);
      } catch (error) {
        if (error instanceof Error) error.message = `Rank ${task.rank}: ${error.message}`;
        throw error;
      } finally {
        // The rank is idle again only when no other call runs and its entry function has returned.
        if (--active === 0 && !entryRunning()) record.setState(RankState.RETURNED);
      }
    },
  };
  Comlink.expose(api, nodeEndpoint(task.port as never));
}
