/**
 * A rank's contexts for one task: the threads backend's (its arena, kernels, job block and record) and
 * the backend-neutral one its groups see, with a registry that knows threads (CPU tensors), nccl (`cuda`
 * tensors), hccl (`npu` tensors) and mpi (CPU tensors of groups across processes, where mpirun started
 * them), and says why the backends missing from this build are missing. The
 * device sides load their libraries when a group first needs one; their waits also end on the job's
 * abort word.
 */
import { createHcclCommunicator } from '../comm/hccl.js';
import { registerMpi } from '../comm/mpi-context.js';
import { createNcclCommunicator } from '../comm/nccl.js';
import { CommunicatorRegistry, registerMissingBackends } from '../comm/registry.js';
import '../native/device-memory.js';
import { ThreadsCommunicator, type RankContext } from '../comm/threads/communicator.js';
import type { JobControl } from '../comm/threads/job-control.js';
import type { CommContext, GroupSpec } from '../comm/types.js';
import type { Arena } from '../shm/arena.js';
import type { Kernels } from '../shm/kernels.js';
import { spinIterationsFor } from '../shm/wait.js';

/** The backend-neutral context less its registry (built here), plus what the threads backend needs. */
export interface RankContextInput extends Omit<CommContext, 'registry'> {
  readonly arena: Arena;
  readonly kernels: Kernels;
  readonly job: JobControl;
}

export function buildRankContexts(input: RankContextInput): { threads: RankContext; comm: CommContext } {
  const threads: RankContext = {
    arena: input.arena, kernels: input.kernels, job: input.job, rank: input.rank, record: input.record,
    spinIterations: spinIterationsFor(input.worldSize), trace: input.trace,
  };
  const registry = new CommunicatorRegistry();
  const threadsFactory = (group: GroupSpec): ThreadsCommunicator => new ThreadsCommunicator(threads, group);
  registry.register('threads', 'cpu', threadsFactory);
  // torch's "gloo" means CPU tensors: in one process, the same shared-memory communicator.
  registry.register('gloo', 'cpu', threadsFactory);
  registry.register('nccl', 'cuda', (group, side) => createNcclCommunicator(group, side, input.job.abortWord));
  registry.register('hccl', 'npu', (group, side) => createHcclCommunicator(group, side, input.job.abortWord));
  registerMpi(registry, threads, input.processWorld);
  registerMissingBackends(registry);
  const comm: CommContext = {
    rank: input.rank, worldSize: input.worldSize, timeoutMs: input.timeoutMs, checkCalls: input.checkCalls,
    record: input.record, chaos: input.chaos, trace: input.trace, registry, processWorld: input.processWorld,
    storeLink: input.storeLink,
    processQueues: input.storeLink === undefined ? undefined : {
      arena: input.arena, owner: input.job.owner, spinIterations: threads.spinIterations, abort: input.job.abortWord,
    },
  };
  return { threads, comm };
}
