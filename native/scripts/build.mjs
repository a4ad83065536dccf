#!/usr/bin/env node
/**
 * Builds native/ (the addon and the CPU shims) with node-gyp against the headers of the Node that runs
 * this script (`<prefix>/include/node`, or `npm_config_nodedir`); nothing is downloaded. A build that
 * cannot happen (no headers, no compiler, no make or python3) is not an install failure: the script says
 * why, records it in native/build/status.json, and exits 0. The nccl and hccl backends then report that
 * reason; everything on CPU tensors works without native/.
 *
 * The MPI binding (multirank_mpi.node) is a target of its own, built only where scripts/mpi-flags.mjs finds
 * an MPI library; its outcome is recorded apart (`mpi` in status.json), and a failure to build it is
 * retried without it, so the nccl / hccl addon never depends on MPI.
 *
 * MULTIRANK_SKIP_NATIVE=1 skips the build (the status says so); MULTIRANK_SKIP_MPI=1 builds without MPI.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findMpi } from './mpi-flags.mjs';

const nativeDir = dirname(dirname(fileURLToPath(import.meta.url)));
const buildDir = join(nativeDir, 'build');
const statusFile = join(buildDir, 'status.json');

function record(ok, reason, mpi = { ok: false, reason: `the native build did not run: ${reason}` }) {
  mkdirSync(buildDir, { recursive: true });
  const status = { ok, reason, mpi, node: process.version, at: new Date().toISOString() };
  writeFileSync(statusFile, `${JSON.stringify(status, null, 2)}\n`);
  if (!ok) {
    console.warn(`multirank: the native addon was not built: ${reason}`);
    console.warn('multirank: CPU tensors work as before; the nccl and hccl backends report this reason.');
  }
  if (ok && !mpi.ok) {
    console.warn(`multirank: the MPI binding was not built (the mpi backend reports why): ${mpi.reason}`);
  }
}

/** Whether the last configure was made with MPI (status.json's record); undefined when unknown. */
function configuredWithMpi() {
  try {
    return JSON.parse(readFileSync(statusFile, 'utf8')).mpi?.ok;
  } catch {
    return undefined;
  }
}

/** The Node headers' prefix: npm_config_nodedir, else the prefix of this Node (bin/node -> include/node). */
function nodeDir() {
  const candidates = [process.env.npm_config_nodedir, dirname(dirname(process.execPath))].filter(Boolean);
  return candidates.find((dir) => existsSync(join(dir, 'include', 'node', 'node_api.h')) &&
    existsSync(join(dir, 'include', 'node', 'common.gypi')));
}

/**
 * node-gyp: the repository's own (a devDependency), else the one the package manager runs install scripts
 * with (npm, pnpm and yarn bundle one and name it in npm_config_node_gyp), so that installing the package
 * does not pull node-gyp's hundred dependencies in.
 */
function nodeGyp() {
  try {
    return createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
  } catch {
    const bundled = process.env.npm_config_node_gyp;
    return bundled && existsSync(bundled) ? bundled : undefined;
  }
}

/** Configures again when there is no Makefile, binding.gyp is newer, or it was made for another Node. */
function needsConfigure(dir) {
  const config = join(buildDir, 'config.gypi'), makefile = join(buildDir, 'Makefile');
  if (!existsSync(makefile) || !existsSync(config)) return true;
  if (statSync(join(nativeDir, 'binding.gyp')).mtimeMs > statSync(makefile).mtimeMs) return true;
  return !readFileSync(config, 'utf8').includes(JSON.stringify(dir).slice(1, -1));
}

function main() {
  if (process.env.MULTIRANK_SKIP_NATIVE === '1') return record(false, 'skipped (MULTIRANK_SKIP_NATIVE=1)');
  const dir = nodeDir();
  if (dir === undefined) {
    return record(false, `no Node headers (include/node/node_api.h and common.gypi) next to ${process.execPath}; ` +
      'set npm_config_nodedir to a Node prefix that has them');
  }
  const gyp = nodeGyp();
  if (gyp === undefined) {
    return record(false, 'node-gyp was not found (not installed, and the package manager named none in npm_config_node_gyp)');
  }
  const mpi = findMpi();
  const withMpi = mpi.reason === undefined;
  const first = gypBuild(gyp, dir, needsConfigure(dir) || configuredWithMpi() !== withMpi, {});
  const built = `built with node-gyp against ${join(dir, 'include', 'node')}`;
  if (first.ok) {
    const mpiStatus = withMpi ? { ok: true, reason: `linked against the MPI of ${mpi.via}` }
      : { ok: false, reason: mpi.reason };
    return record(true, built, mpiStatus);
  }
  if (!withMpi) return record(false, first.reason);
  // The MPI target may be what failed: build the rest without it, and keep why MPI did not build.
  const second = gypBuild(gyp, dir, true, { MULTIRANK_SKIP_MPI: '1' });
  if (!second.ok) return record(false, second.reason);
  record(true, built, { ok: false, reason: `building against the MPI of ${mpi.via} failed: ${first.reason}` });
}

function gypBuild(gyp, dir, configure, env) {
  const steps = configure ? ['configure', 'build'] : ['build'];
  const args = [gyp, ...steps, `--nodedir=${dir}`, '--jobs', '2', '--loglevel', 'warn'];
  const options = { cwd: nativeDir, encoding: 'utf8', env: { ...process.env, ...env } };
  const result = spawnSync(process.execPath, args, options);
  if (result.status === 0) return { ok: true };
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
  const tail = output.trim().split('\n').slice(-12).join('\n');
  const how = result.error?.message ?? `exit ${result.status}`;
  return { ok: false, reason: `node-gyp ${steps.join(' ')} failed (${how}):\n${tail}` };
}

main();
