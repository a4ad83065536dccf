#!/usr/bin/env node
/**
 * Where the MPI library of this machine is, for binding.gyp: the compile and link flags of its MPI compiler
 * wrapper (`mpicc --showme:compile` / `--showme:link`, Open MPI's), else of pkg-config (`ompi`, then `mpi`).
 * Nothing found: `found` prints 0 and the MPI addon target is left out (the nccl / hccl addon still builds).
 *
 *   node mpi-flags.mjs found | include | link | reason
 *
 * MULTIRANK_SKIP_MPI=1 acts as if no MPI were installed (the build then says so).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

function words(command, args) {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if (result.status !== 0 || result.error !== undefined) return undefined;
  return result.stdout.trim().split(/\s+/).filter((w) => w.length > 0);
}

/** `{ include: [...dirs], link: [...flags], via }`, or `{ reason }` when no MPI is found. */
export function findMpi() {
  if (process.env.MULTIRANK_SKIP_MPI === '1') return { reason: 'skipped (MULTIRANK_SKIP_MPI=1)' };
  const sources = [
    ['mpicc', ['--showme:compile'], ['--showme:link']],
    ['pkg-config', ['--cflags', 'ompi'], ['--libs', 'ompi']],
    ['pkg-config', ['--cflags', 'mpi'], ['--libs', 'mpi']],
  ];
  for (const [command, compileArgs, linkArgs] of sources) {
    const compile = words(command, compileArgs), link = words(command, linkArgs);
    if (compile === undefined || link === undefined || !link.some((w) => w.startsWith('-lmpi'))) continue;
    const include = compile.filter((w) => w.startsWith('-I')).map((w) => w.slice(2));
    // The library's directory goes into the addon's run path too, so no LD_LIBRARY_PATH is needed.
    const rpath = link.filter((w) => w.startsWith('-L')).map((w) => `-Wl,-rpath,${w.slice(2)}`);
    return { include, link: [...link, ...rpath], via: `${command} ${compileArgs.join(' ')}` };
  }
  return {
    reason: 'no MPI library found: neither `mpicc --showme` nor `pkg-config ompi` / `pkg-config mpi` answered ' +
      '(on Debian or Ubuntu: apt-get install openmpi-bin libopenmpi-dev, then rebuild with npm run build:native)',
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const mpi = findMpi();
  const what = process.argv[2];
  if (what === 'found') console.log(mpi.reason === undefined ? '1' : '0');
  else if (what === 'include') console.log((mpi.include ?? []).join(' '));
  else if (what === 'link') console.log((mpi.link ?? []).join(' '));
  else console.log(mpi.reason ?? `found through ${mpi.via}`);
}
