/**
 * Where no MPI is installed: the build leaves the binding out with a reason that says what to install,
 * the rest of native/ still builds, and the `mpi` backend reports that reason.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const FLAGS = fileURLToPath(new URL('../../../native/scripts/mpi-flags.mjs', import.meta.url));

function flags(what: string, env: NodeJS.ProcessEnv): string {
  const run = spawnSync(process.execPath, [FLAGS, what], { encoding: 'utf8', env });
  return run.stdout.trim();
}

test('without mpicc or pkg-config the binding is left out, and the reason says what to install', (t) => {
  const env = { PATH: '/nonexistent' };
  t.is(flags('found', env), '0');
  t.is(flags('include', env), '');
  t.is(flags('link', env), '');
  const reason = flags('reason', env);
  t.regex(reason, /no MPI library found/);
  t.regex(reason, /mpicc --showme/);
  t.regex(reason, /apt-get install openmpi-bin libopenmpi-dev/);
  t.is(flags('found', { ...process.env, MULTIRANK_SKIP_MPI: '1' }), '0');
  t.regex(flags('reason', { ...process.env, MULTIRANK_SKIP_MPI: '1' }), /MULTIRANK_SKIP_MPI=1/);
});
