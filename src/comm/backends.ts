/**
 * The backends a job can name, and the ones this build cannot run yet with the reason: every place that
 * lists backends (the registry, `initDistributedEnvironment`, `multirank bench --backend`, the README)
 * says the same.
 */
/**
 * `threads`: ranks of one process over shared memory (CPU tensors). `gloo`: what torch users mean by it,
 * CPU tensors (here: threads in one process). `nccl` / `hccl`: device tensors on NVIDIA GPUs / Ascend
 * NPUs through the vendor library. `mpi`: CPU tensors between processes.
 */
export const BACKENDS = ['threads', 'gloo', 'nccl', 'hccl', 'mpi'] as const;
export type Backend = (typeof BACKENDS)[number];

/**
 * Backends this build names but cannot run, each with why (they are planned, not present). None today:
 * `mpi` is in the build, usable where its binding was built and mpirun started the job's processes
 * (comm/mpi-context.ts says why not elsewhere).
 */
export const NOT_IN_THIS_BUILD: Readonly<Partial<Record<Backend, string>>> = Object.freeze({});

/**
 * The backends on device tensors through a vendor library that native/ loads at run time: present in
 * this build, usable where the addon was built and the library loads (`vendorStatus` in
 * native/vendors.ts says why not; a job finds out on its first device tensor).
 */
export const NATIVE_BACKENDS: readonly Backend[] = Object.freeze(['nccl', 'hccl'] as const);

/** The backends this build can run (nccl and hccl where their libraries load). */
export const AVAILABLE_BACKENDS: readonly Backend[] = Object.freeze(
  BACKENDS.filter((b) => NOT_IN_THIS_BUILD[b] === undefined),
);

/** True for the backends whose groups move CPU tensors in this process (their device side is the CPU side). */
export function isCpuBackend(backend: Backend): boolean {
  return backend === 'threads' || backend === 'gloo';
}
