/** What a benchmark record must say about where it ran: CPU, cores, memory, Node, commit, date. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { PACKAGE_ROOT as packageRootUrl } from '../package-files.js';

/** The machine and checkout a run measured. */
export interface MachineInfo {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryBytes: number;
  readonly node: string;
  readonly v8: string;
  readonly platform: string;
  readonly multirank: string;
  /** The git commit of the checkout, with `-dirty` when it has changes or untracked files; null outside a checkout. */
  readonly commit: string | null;
}

const PACKAGE_ROOT = fileURLToPath(packageRootUrl);

function gitCommit(): string | null {
  try {
    const run = (args: string[]): string => execFileSync(
      'git', args, { cwd: PACKAGE_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 },
    ).trim();
    const head = run(['rev-parse', '--short=12', 'HEAD']);
    // untracked files count: they may be the code measured
    return run(['status', '--porcelain']) === '' ? head : `${head}-dirty`;
  } catch {
    return null;
  }
}

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(`${PACKAGE_ROOT}package.json`, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** Facts about this machine and checkout (reads git once; call once per run). */
export function machineInfo(): MachineInfo {
  return {
    cpu: cpus()[0]?.model.trim() ?? 'unknown', cores: availableParallelism(), memoryBytes: totalmem(),
    node: process.version,
    v8: process.versions.v8, platform: `${process.platform}-${process.arch}`, multirank: packageVersion(),
    commit: gitCommit(),
  };
}
