/**
 * The implementations the comparison runs side by side, each as a child process that prints one result
 * per size: multirank (`multirank bench --json -`), Open MPI (mpi-bench.c under mpirun: default
 * settings, and with `mpi_yield_when_idle` 1 or 0), and torch.distributed's gloo (gloo-bench.py under
 * Debian's /usr/bin/python3). All measure the same way: per-iteration time of the slowest rank, median.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Where the C and Python sources live (the source tree, not dist/). */
export const SOURCE_DIR = fileURLToPath(new URL('../../../bench/compare/', import.meta.url));
/** The Python that has Debian's python3-torch (not the first python3 on PATH). */
export const SYSTEM_PYTHON = '/usr/bin/python3';
const RUN_TIMEOUT_MS = 15 * 60_000;

/** Every implementation the comparison knows. */
export const IMPLS = ['multirank', 'mpi', 'mpi-yield', 'mpi-spin', 'gloo'] as const;
/** One of IMPLS. */
export type Impl = (typeof IMPLS)[number];

/** One size of one run. `ceilingBusBw` only from multirank (its memory floor). */
export interface ImplResult {
  readonly impl: Impl;
  readonly op: string;
  readonly ranks: number;
  readonly size: number;
  readonly count: number;
  readonly timeUs: number;
  readonly nwrong: number | null;
  readonly ceilingBusBw?: number;
}

/** One run's op, rank count and nccl-tests-style size sweep. */
export interface Sweep {
  readonly op: string;
  readonly ranks: number;
  readonly minBytes: number;
  readonly maxBytes: number;
  readonly factor: number;
  readonly iters: number;
  readonly warmup: number;
}

function which(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** What is installed, and the versions to report; `missing` says why an impl cannot run. */
export function probeTools(): { missing: Partial<Record<Impl, string>>; versions: Record<string, string> } {
  const missing: Partial<Record<Impl, string>> = {};
  const versions: Record<string, string> = { node: process.version };
  if (which('mpicc') && which('mpirun')) {
    versions.mpi = execFileSync('mpirun', ['--version'], { encoding: 'utf8' }).split('\n')[0]!.trim();
  } else {
    for (const impl of ['mpi', 'mpi-yield', 'mpi-spin'] as const) {
      missing[impl] = 'mpicc/mpirun not found (apt-get install openmpi-bin libopenmpi-dev)';
    }
  }
  try {
    versions.torch = execFileSync(
      SYSTEM_PYTHON, ['-c', 'import torch; print(torch.__version__)'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
    ).trim();
  } catch {
    missing.gloo = `torch not importable by ${SYSTEM_PYTHON} (apt-get install python3-torch)`;
  }
  return { missing, versions };
}

/** Compiles mpi-bench.c into `dir` (again only when the source is newer); returns the binary. */
export function buildMpiBench(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const source = `${SOURCE_DIR}mpi-bench.c`, binary = `${dir}/mpi-bench`;
  if (!existsSync(binary) || statSync(binary).mtimeMs < statSync(source).mtimeMs) {
    execFileSync('mpicc', ['-O2', '-o', binary, source], { stdio: ['ignore', 'inherit', 'inherit'] });
  }
  return binary;
}

function command(impl: Impl, s: Sweep, mpiBinary: string): [string, string[]] {
  const sizes = [String(s.minBytes), String(s.maxBytes), String(s.factor), String(s.iters), String(s.warmup)];
  if (impl === 'multirank') {
    const entry = fileURLToPath(new URL('./run-multirank.js', import.meta.url));
    return [process.execPath, [entry, s.op, '-n', String(s.ranks), '-b', sizes[0]!, '-e', sizes[1]!, '-f', sizes[2]!,
      '--iters', sizes[3]!, '-w', sizes[4]!, '--ceiling', '--json', '-', '--no-progress']];
  }
  if (impl === 'gloo') return [SYSTEM_PYTHON, [`${SOURCE_DIR}gloo-bench.py`, s.op, String(s.ranks), ...sizes]];
  const yieldFlag = impl === 'mpi-yield'
    ? ['--mca', 'mpi_yield_when_idle', '1']
    : impl === 'mpi-spin'
    ? ['--mca', 'mpi_yield_when_idle', '0']
    : [];
  return [
    'mpirun',
    ['--allow-run-as-root', '--oversubscribe', ...yieldFlag, '-np', String(s.ranks), mpiBinary, s.op, ...sizes],
  ];
}

function parse(impl: Impl, stdout: string): ImplResult[] {
  if (impl === 'multirank') {
    const doc = JSON.parse(stdout) as { results: Array<Record<string, any>> };
    return doc.results.map((r) => {
      const column = r.out_of_place ?? r.in_place; // broadcast has only the in-place form
      return {
        impl, op: r.op, ranks: r.ranks, size: r.size, count: r.count, timeUs: column.time, nwrong: column.nwrong,
        ...(r.ceiling === null ? {} : { ceilingBusBw: r.ceiling.bus_bw }),
      };
    });
  }
  return stdout.split('\n').filter((line) => line.startsWith('{')).map((line) => {
    const r = JSON.parse(line) as Record<string, number | string>;
    return {
      impl, op: String(r.op), ranks: Number(r.ranks), size: Number(r.size), count: Number(r.count),
      timeUs: Number(r.time_us), nwrong: Number(r.nwrong),
    };
  });
}

/** Runs one implementation over one sweep; rejects with its stderr when it fails. */
export function runImpl(impl: Impl, sweep: Sweep, mpiBinary: string): Promise<ImplResult[]> {
  const [file, args] = command(impl, sweep, mpiBinary);
  return new Promise((resolve, reject) => {
    execFile(file, args, {
      encoding: 'utf8', maxBuffer: 64 << 20, timeout: RUN_TIMEOUT_MS,
    }, (error, stdout, stderr) => {
      if (error !== null) {
        reject(new Error(`${impl} (${file} ${args.join(' ')}) failed: ${error.message}\n${stderr.slice(-2000)}`));
        return;
      }
      try {
        resolve(parse(impl, stdout));
      } catch (cause) {
        reject(
          new Error(`${impl}: cannot read its output: ${(cause as Error).message}\n${stdout.slice(0, 500)}`, { cause }),
        );
      }
    });
  });
}
