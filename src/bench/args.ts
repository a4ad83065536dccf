/**
 * `multirank bench` arguments: nccl-tests' flags (`-b -e -f -i -w -c -d -o -r`), `-n RANKS` as in
 * `multirank run`, and the long options of the issue. Sizes take nccl-tests' suffixes (K, M, G = powers
 * of 1024). Every error is a TypeError/RangeError with a code whose message names the flag and the value.
 */
import { parseArgs } from 'node:util';
import { checkInteger, ErrorCodes, invalidChoice, MultirankError, outOfRange } from '../errors.js';
import { BACKENDS, NOT_IN_THIS_BUILD, type Backend } from '../comm/backends.js';
import { DTYPES, REDUCE_OPS, reduceOpRefusal, type DType, type ReduceOp } from '../tensor/dtype.js';
import { BENCH_OPS, opAccounting, type BenchOp } from './ops.js';

/** Everything one benchmark run needs; `parseBenchArgs` fills the defaults. */
export interface BenchConfig {
  readonly ops: readonly BenchOp[];
  readonly ranks: number;
  readonly minBytes: number;
  readonly maxBytes: number;
  /** Multiply the size by this between rows (0 when `stepBytes` is used). */
  readonly stepFactor: number;
  /** Add this to the size between rows (0 when `stepFactor` is used). */
  readonly stepBytes: number;
  readonly iters: number;
  readonly warmup: number;
  /** Checked runs per row (0: no data check, #wrong shows N/A). */
  readonly check: number;
  readonly dtypes: readonly DType[];
  readonly redops: readonly ReduceOp[];
  readonly root: number;
  readonly backend: Backend;
  readonly ceiling: boolean;
  readonly seed: number;
  readonly timeoutMs: number | undefined;
  /** Testing seam: this rank corrupts one element of its result before the check. */
  readonly injectErrorRank: number | undefined;
}

/** What the CLI adds to the config: output files, the progress bar, help. */
export interface BenchCliOptions {
  readonly config: BenchConfig;
  readonly json: string | undefined;
  readonly csv: string | undefined;
  /** 'auto': a bar on stderr when it is a terminal and the run is long. */
  readonly progress: 'auto' | 'always' | 'never';
  readonly help: boolean;
}

/** Defaults of the flags (nccl-tests' where it has one: warmup 5, iters 20, check 1). */
export const BENCH_DEFAULTS = {
  ranks: 2, minBytes: 8, maxBytes: 32 * 1024 * 1024, stepFactor: 2, iters: 20, warmup: 5, check: 1, root: 0, seed: 1,
} as const;

/** Most ranks a bench job may start (threads of this process). */
export const BENCH_RANKS_MAX = 256;

const SIZE_SUFFIX: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };
/** nccl-tests' `-d` names (and short forms) beside ours. */
const DTYPE_ALIASES: Record<string, DType> = {
  float: 'float32', half: 'float16', double: 'float64', int: 'int32', char: 'int8', bf16: 'bfloat16',
  f32: 'float32', f64: 'float64', f16: 'float16', fp32: 'float32', fp64: 'float64', fp16: 'float16',
};

/** Parses `8`, `128K`, `32M`, `1G` (also `KB`, `KiB`) into bytes. */
export function parseSize(flag: string, text: string): number {
  const match = /^(\d+)\s*([kmg]?)(?:i?b)?$/i.exec(text.trim());
  if (match === null) {
    throw outOfRange(
      `Expected \`${flag}\` to be a size in bytes such as 8, 128K, 32M or 1G, got ${JSON.stringify(text)}`,
    );
  }
  const bytes = Number(match[1]) * SIZE_SUFFIX[match[2]!.toLowerCase()]!;
  if (!Number.isSafeInteger(bytes)) throw outOfRange(`\`${flag}\` ${JSON.stringify(text)} is too large`);
  return bytes;
}

/** `text` as an integer in [min, max] (`fallback` when absent); the error names `flag`. */
export function integer(
  flag: string, text: string | undefined, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER,
): number {
  if (text === undefined) return fallback;
  const value = /^-?\d+$/.test(text.trim()) ? Number(text) : Number.NaN;
  if (!Number.isInteger(value)) throw outOfRange(`Expected \`${flag}\` to be an integer, got ${JSON.stringify(text)}`);
  return checkInteger(flag, value, min, max);
}

const squash = (s: string): string => s.toLowerCase().replace(/[-_]/g, '');

/** `allReduce`, `all_reduce`, `allreduce`, `all` or a comma list of them. */
export function parseOps(text: string | undefined): BenchOp[] {
  if (text === undefined) return ['allReduce'];
  const ops: BenchOp[] = [];
  for (const word of text.split(',')) {
    if (squash(word) === 'all') return [...BENCH_OPS];
    const op = BENCH_OPS.find((name) => squash(name) === squash(word));
    if (op === undefined) throw invalidChoice('op', [...BENCH_OPS, 'all'], word);
    if (!ops.includes(op)) ops.push(op);
  }
  return ops;
}

/** `-d`: one of our dtype names, an nccl-tests name (float, half, double, ...), `all`, or a comma list. */
export function parseDtypes(text: string | undefined): DType[] {
  if (text === undefined) return ['float32'];
  const dtypes: DType[] = [];
  for (const word of text.split(',')) {
    const key = word.trim().toLowerCase();
    if (key === 'all') return DTYPES.filter((d) => d !== 'bool');
    const dtype = (DTYPES as readonly string[]).includes(key) ? (key as DType) : DTYPE_ALIASES[key];
    if (dtype === undefined) throw invalidChoice('-d/--dtype', [...DTYPES, ...Object.keys(DTYPE_ALIASES), 'all'], word);
    if (!dtypes.includes(dtype)) dtypes.push(dtype);
  }
  return dtypes;
}

/** `-o`: sum, prod, min, max, avg, band, bor, bxor, `all`, or a comma list. */
export function parseRedops(text: string | undefined): ReduceOp[] {
  if (text === undefined) return ['sum'];
  const ops: ReduceOp[] = [];
  for (const word of text.split(',')) {
    const key = word.trim().toLowerCase();
    if (key === 'all') return [...REDUCE_OPS];
    if (!(REDUCE_OPS as readonly string[]).includes(key)) throw invalidChoice('-o/--op', [...REDUCE_OPS, 'all'], word);
    if (!ops.includes(key as ReduceOp)) ops.push(key as ReduceOp);
  }
  return ops;
}

/** True when the kernels define `op` on `dtype` (`reduceOpRefusal`: avg, bitwise and complex rules). */
export function redopAllowed(dtype: DType, op: ReduceOp): boolean {
  return reduceOpRefusal(dtype, op) === undefined;
}

const OPTIONS = {
  nranks: { type: 'string', short: 'n' }, minbytes: { type: 'string', short: 'b' },
  maxbytes: { type: 'string', short: 'e' },
  stepfactor: { type: 'string', short: 'f' }, stepbytes: { type: 'string', short: 'i' }, iters: { type: 'string' },
  warmup: { type: 'string', short: 'w' }, check: { type: 'string', short: 'c' }, dtype: { type: 'string', short: 'd' },
  op: { type: 'string', short: 'o' }, root: { type: 'string', short: 'r' }, backend: { type: 'string' },
  ceiling: { type: 'boolean' }, json: { type: 'string' }, csv: { type: 'string' }, progress: { type: 'boolean' },
  'no-progress': { type: 'boolean' }, seed: { type: 'string' }, 'timeout-ms': { type: 'string' },
  'inject-error': { type: 'string' }, help: { type: 'boolean', short: 'h' },
} as const;

/**
 * Parses the words after `multirank bench`.
 * @throws TypeError (`ERR_MULTIRANK_INVALID_ARG_VALUE`) for an unknown flag, op, dtype or backend;
 * RangeError (`ERR_MULTIRANK_OUT_OF_RANGE`) for a bad number, size or range.
 */
export function parseBenchArgs(argv: readonly string[]): BenchCliOptions {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw Object.assign(new TypeError((error as Error).message), { code: 'ERR_MULTIRANK_INVALID_ARG_VALUE' });
  }
  const { values: v, positionals } = parsed;
  if (positionals.length > 1) {
    throw outOfRange(`Expected at most one op (or a comma list), got ${positionals.length}: ${positionals.join(' ')}`);
  }
  const config = buildConfig(v, positionals[0]);
  if (v.progress === true && v['no-progress'] === true) {
    throw outOfRange('`--progress` and `--no-progress` exclude each other');
  }
  return {
    config, json: v.json, csv: v.csv, help: v.help === true,
    progress: v.progress === true ? 'always' : v['no-progress'] === true ? 'never' : 'auto',
  };
}

type Values = { [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K]['type'] extends 'string' ? string : boolean };

function buildConfig(v: Values, opText: string | undefined): BenchConfig {
  const ops = parseOps(opText);
  const ranks = integer('-n/--nranks', v.nranks, BENCH_DEFAULTS.ranks, 1, BENCH_RANKS_MAX);
  const minBytes = v.minbytes === undefined ? BENCH_DEFAULTS.minBytes : parseSize('-b/--minbytes', v.minbytes);
  const maxBytes = v.maxbytes === undefined
    ? Math.max(minBytes, BENCH_DEFAULTS.maxBytes)
    : parseSize('-e/--maxbytes', v.maxbytes);
  if (maxBytes < minBytes) {
    throw outOfRange(`\`-e/--maxbytes\` (${maxBytes}) must be at least \`-b/--minbytes\` (${minBytes})`);
  }
  if (v.stepfactor !== undefined && v.stepbytes !== undefined) {
    throw outOfRange('`-f/--stepfactor` and `-i/--stepbytes` exclude each other');
  }
  const stepBytes = v.stepbytes === undefined ? 0 : parseSize('-i/--stepbytes', v.stepbytes);
  if (v.stepbytes !== undefined && stepBytes < 1) {
    throw outOfRange(`Expected \`-i/--stepbytes\` to be at least 1 byte, got ${JSON.stringify(v.stepbytes)}`);
  }
  const stepFactor = stepBytes > 0
    ? 0
    : integer('-f/--stepfactor', v.stepfactor, BENCH_DEFAULTS.stepFactor, 2, 1 << 20);
  const root = integer('-r/--root', v.root, BENCH_DEFAULTS.root, 0, ranks - 1);
  const backend = v.backend ?? 'threads';
  if (!(BACKENDS as readonly string[]).includes(backend)) throw invalidChoice('--backend', BACKENDS, backend);
  const missing = NOT_IN_THIS_BUILD[backend as Backend];
  if (missing !== undefined) {
    throw new MultirankError(ErrorCodes.BACKEND_UNAVAILABLE, `\`--backend ${backend}\` is ${missing}`);
  }
  if (backend === 'mpi') {
    throw new MultirankError(ErrorCodes.BACKEND_UNAVAILABLE, '`--backend mpi` moves CPU tensors between ' +
      'processes, and `multirank bench` runs its ranks in one process: bench it under mpirun with ' +
      'bench/compare/mpi-compare.ts');
  }
  for (const op of ops) {
    if (ranks < opAccounting(op).minRanks) {
      throw outOfRange(`${op} needs at least ${opAccounting(op).minRanks} ranks, got -n ${ranks}`);
    }
  }
  const injectErrorRank = v['inject-error'] === undefined
    ? undefined
    : integer('--inject-error', v['inject-error'], 0, 0, ranks - 1);
  return {
    ops, ranks, minBytes, maxBytes, stepFactor, stepBytes, root, backend: backend as Backend, injectErrorRank,
    iters: integer('--iters', v.iters, BENCH_DEFAULTS.iters, 1, 1_000_000),
    warmup: integer('-w/--warmup', v.warmup, BENCH_DEFAULTS.warmup, 0, 1_000_000),
    check: integer('-c/--check', v.check, BENCH_DEFAULTS.check, 0, 1000),
    dtypes: parseDtypes(v.dtype), redops: parseRedops(v.op), ceiling: v.ceiling === true,
    seed: integer('--seed', v.seed, BENCH_DEFAULTS.seed, 0, 0xffffffff),
    timeoutMs: v['timeout-ms'] === undefined ? undefined : integer('--timeout-ms', v['timeout-ms'], 0, 1),
  };
}

/** A config from defaults and overrides, validated like the CLI's (for scripts and tests). */
export function benchConfig(overrides: Partial<BenchConfig> = {}): BenchConfig {
  const base = parseBenchArgs([]).config;
  const config = { ...base, ...overrides };
  if (overrides.maxBytes === undefined && overrides.minBytes !== undefined) {
    config.maxBytes = Math.max(config.minBytes, base.maxBytes);
  }
  if (overrides.stepBytes !== undefined && overrides.stepBytes > 0 && overrides.stepFactor === undefined) {
    config.stepFactor = 0;
  }
  checkInteger('config.ranks', config.ranks, 1, BENCH_RANKS_MAX);
  if (config.maxBytes < config.minBytes) {
    throw outOfRange(
      `\`config.maxBytes\` (${config.maxBytes}) must be at least \`config.minBytes\` (${config.minBytes})`,
    );
  }
  if ((config.stepFactor > 1) === (config.stepBytes > 0)) {
    throw outOfRange('Give exactly one of `config.stepFactor` (> 1) and `config.stepBytes` (> 0)');
  }
  checkInteger('config.root', config.root, 0, config.ranks - 1);
  checkInteger('config.iters', config.iters, 1);
  checkInteger('config.warmup', config.warmup, 0);
  return config;
}
