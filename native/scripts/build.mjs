#!/usr/bin/env node
/**
 * Builds native/ (the addon and the CPU shims) with node-gyp against the headers of the Node that runs
 * this script (`<prefix>/include/node`, or `npm_config_nodedir`); nothing is downloaded. A build that
 * cannot happen (no headers, no compiler, no make or python3) is not an install failure: the script says
 * why, records it in native/build/status.json, and exits 0. The nccl and hccl backends then report that
 * reason; everything on CPU tensors works without native/.
 *
 * MULTIRANK_SKIP_NATIVE=1 skips the build (the status says so).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const nativeDir = dirname(dirname(fileURLToPath(import.meta.url)));
const buildDir = join(nativeDir, 'build');
const statusFile = join(buildDir, 'status.json');

function record(ok, reason) {
  mkdirSync(buildDir, { recursive: true });
  writeFileSync(statusFile, `${JSON.stringify({ ok, reason, node: process.version, at: new Date().toISOString() }, null, 2)}\n`);
  if (!ok) {
    console.warn(`multirank: the native addon was not built: ${reason}`);
    console.warn('multirank: CPU tensors work as before; the nccl and hccl backends report this reason.');
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
  const steps = needsConfigure(dir) ? ['configure', 'build'] : ['build'];
  const args = [gyp, ...steps, `--nodedir=${dir}`, '--jobs', '2', '--loglevel', 'warn'];
  const result = spawnSync(process.execPath, args, { cwd: nativeDir, encoding: 'utf8', env: { ...process.env } });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
  if (result.status !== 0) {
    const tail = output.trim().split('\n').slice(-12).join('\n');
    return record(false, `node-gyp ${steps.join(' ')} failed (${result.error?.message ?? `exit ${result.status}`}):\n${tail}`);
  }
  record(true, `built with node-gyp against ${join(dir, 'include', 'node')}`);
}

main();
