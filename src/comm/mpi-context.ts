/**
 * Where the `mpi` backend runs, and its place in a rank's registry. It serves the CPU tensors of groups
 * that span processes, in jobs whose processes mpirun started (the process world of kind `mpi`: process
 * index = MPI world rank, launch/mpi-world.ts). Elsewhere it says why not: the binding is missing (no MPI
 * at build time), or the processes met another way (the store of `multirank run --procs`), so that MPI
 * does not connect them.
 */
import { ErrorCodes, MultirankError } from '../errors.js';
import { mpiBinding, mpiUnavailableReason } from '../native/mpi.js';
import { MpiCommunicator, type MpiContext } from './mpi.js';
import { processOfRank, type ProcessWorld } from './process-world.js';
import type { CommunicatorRegistry } from './registry.js';
import { ThreadsCommunicator, type RankContext } from './threads/communicator.js';
import type { GroupSpec } from './types.js';

/** Why the `mpi` backend cannot move tensors between this job's processes, or undefined when it can. */
export function mpiUnavailableFor(world: ProcessWorld): string | undefined {
  const binding = mpiUnavailableReason();
  if (binding !== undefined) return binding;
  if (world.processCount > 1 && world.kind !== 'mpi') {
    return `not connecting this job's processes: it runs only where mpirun started them (\`mpirun -np P ` +
      `multirank run -n T rank.js\`, or \`multirank run -n N --procs P --backend mpi rank.js\`); these met through ` +
      `${world.kind === 'store' ? "the job's store (multirank run --procs / --init-method)" : `a ${world.kind} world`}`;
  }
  return undefined;
}

/**
 * Registers the `mpi` backend for CPU tensors in a rank's registry: its communicator where this job's
 * processes are MPI's, and otherwise the reason it is unavailable.
 */
export function registerMpi(registry: CommunicatorRegistry, threads: RankContext, world: ProcessWorld): void {
  const reason = world.processCount === 1 ? 'not needed in a job of one process: its groups use shared memory'
    : mpiUnavailableFor(world);
  if (reason !== undefined) {
    registry.unavailable('mpi', 'cpu', reason);
    return;
  }
  // Each hierarchical group's members in this process meet through a threads group of their own. Its key
  // (ranks + occurrence) must differ from the job's groups of the same members: negative occurrences,
  // counted per member set (every member makes the groups that hold it in the same order).
  const made = new Map<string, number>();
  const local = (spec: GroupSpec): ThreadsCommunicator => {
    const key = spec.ranks.join(',');
    const count = made.get(key) ?? 0;
    made.set(key, count + 1);
    return new ThreadsCommunicator(threads, { ...spec, occurrence: -1 - count });
  };
  let ctx: MpiContext | undefined;
  registry.register('mpi', 'cpu', (group) => {
    ctx ??= mpiContext(threads, world, local);
    return new MpiCommunicator(ctx, group);
  });
}

/** The context of this rank's mpi communicators; MPI starts here when the process has not started it. */
function mpiContext(threads: RankContext, world: ProcessWorld, local: MpiContext['local']): MpiContext {
  const binding = mpiBinding();
  const mpi = binding.init();
  if (mpi.size !== world.processCount || mpi.rank !== world.processIndex) {
    throw new MultirankError(
      ErrorCodes.MPI,
      `MPI's world (process ${mpi.rank} of ${mpi.size}) is not the job's (process ${world.processIndex} of ` +
        `${world.processCount}): the job's processes must be exactly the processes mpirun started`,
    );
  }
  return {
    binding, arena: threads.arena, kernels: threads.kernels, owner: threads.job.owner, abort: threads.job.abortWord,
    rank: threads.rank, processOf: (r) => processOfRank(world, r), local,
  };
}
