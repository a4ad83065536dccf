/** `multirank bench` argument parsing: defaults, nccl-tests' spellings, and every kind of bad argument. */
import test from 'ava';
import { BENCH_DEFAULTS, benchConfig, parseBenchArgs, parseSize } from '../../src/bench/args.js';

const codeOf = (error: unknown): string | undefined => (error as { code?: string }).code;

test('defaults', (t) => {
  const { config, json, csv, progress, help } = parseBenchArgs([]);
  t.deepEqual(config.ops, ['allReduce']);
  t.like(config, { ranks: 2, minBytes: 8, maxBytes: 32 * 1024 * 1024, stepFactor: 2, stepBytes: 0, iters: 20, warmup: 5, check: 1, root: 0, backend: 'threads', ceiling: false });
  t.deepEqual([config.dtypes, config.redops], [['float32'], ['sum']]);
  t.deepEqual([json, csv, progress, help], [undefined, undefined, 'auto', false]);
  t.is(BENCH_DEFAULTS.iters, 20);
});

test('nccl-tests letters, long options, and op spellings', (t) => {
  const { config } = parseBenchArgs(['all_reduce,reducescatter', '-n', '4', '-b', '1K', '-e', '64M', '-f', '4', '-w', '2', '-c', '0',
    '-d', 'half,float', '-o', 'max', '-r', '3', '--iters', '7', '--ceiling', '--seed', '9']);
  t.deepEqual(config.ops, ['allReduce', 'reduceScatter']);
  t.like(config, { ranks: 4, minBytes: 1024, maxBytes: 64 * 1024 * 1024, stepFactor: 4, warmup: 2, check: 0, root: 3, iters: 7, ceiling: true, seed: 9 });
  t.deepEqual([config.dtypes, config.redops], [['float16', 'float32'], ['max']]);
  t.deepEqual(parseBenchArgs(['all']).config.ops.length, 8);
  t.deepEqual(parseBenchArgs(['-o', 'all']).config.redops, ['sum', 'prod', 'min', 'max', 'avg', 'band', 'bor', 'bxor']);
  t.deepEqual(parseBenchArgs(['-o', 'BXOR,band']).config.redops, ['bxor', 'band']);
  t.false(parseBenchArgs(['-d', 'all']).config.dtypes.includes('bool'));
  t.true(parseBenchArgs(['-d', 'all']).config.dtypes.includes('complex128'));
  t.deepEqual(parseBenchArgs(['-d', 'complex64,bool']).config.dtypes, ['complex64', 'bool']);
  t.like(parseBenchArgs(['-i', '4K', '-b', '0', '-e', '16K']).config, { stepBytes: 4096, stepFactor: 0, minBytes: 0 });
  t.like(parseBenchArgs(['--json', 'out.json', '--csv', '-', '--no-progress']), { json: 'out.json', csv: '-', progress: 'never' });
});

test('sizes take K, M, G as powers of 1024', (t) => {
  t.is(parseSize('-b', '8'), 8);
  t.is(parseSize('-b', '128K'), 131072);
  t.is(parseSize('-b', '32m'), 33554432);
  t.is(parseSize('-b', '1G'), 1073741824);
  t.is(parseSize('-b', '2KiB'), 2048);
  const error = t.throws(() => parseSize('-b', '1.5M'));
  t.is(codeOf(error), 'ERR_MULTIRANK_OUT_OF_RANGE');
  t.regex(error!.message, /`-b`.*"1\.5M"/);
});

const BAD: Array<[string[], string, RegExp]> = [
  [['-n', '0'], 'ERR_MULTIRANK_OUT_OF_RANGE', /-n\/--nranks.*1\.\.256.*0/],
  [['-n', 'two'], 'ERR_MULTIRANK_OUT_OF_RANGE', /-n\/--nranks.*"two"/],
  [['-d', 'float128'], 'ERR_MULTIRANK_INVALID_ARG_VALUE', /-d\/--dtype.*"float128"/],
  [['-o', 'mean'], 'ERR_MULTIRANK_INVALID_ARG_VALUE', /-o\/--op.*"sum".*"mean"/],
  [['allreduc'], 'ERR_MULTIRANK_INVALID_ARG_VALUE', /`op`.*"allReduce".*"allreduc"/],
  [['allReduce', 'allGather'], 'ERR_MULTIRANK_OUT_OF_RANGE', /at most one op/],
  [['-b', '1M', '-e', '1K'], 'ERR_MULTIRANK_OUT_OF_RANGE', /maxbytes.*1024.*minbytes.*1048576/],
  [['-f', '2', '-i', '1K'], 'ERR_MULTIRANK_OUT_OF_RANGE', /exclude each other/],
  [['-f', '1'], 'ERR_MULTIRANK_OUT_OF_RANGE', /-f\/--stepfactor/],
  [['-r', '2'], 'ERR_MULTIRANK_OUT_OF_RANGE', /-r\/--root.*0\.\.1.*2/],
  [['sendRecv', '-n', '1'], 'ERR_MULTIRANK_OUT_OF_RANGE', /sendRecv needs at least 2 ranks/],
  [['--backend', 'tcp'], 'ERR_MULTIRANK_INVALID_ARG_VALUE', /--backend.*"threads".*"mpi".*"tcp"/],
  [['--backend', 'mpi'], 'ERR_MULTIRANK_BACKEND_UNAVAILABLE', /--backend mpi` moves CPU tensors between processes.*one process/],
  [['--iters', '0'], 'ERR_MULTIRANK_OUT_OF_RANGE', /--iters/],
  [['--frobnicate'], 'ERR_MULTIRANK_INVALID_ARG_VALUE', /--frobnicate/],
  [['--progress', '--no-progress'], 'ERR_MULTIRANK_OUT_OF_RANGE', /exclude each other/],
  [['--inject-error', '5'], 'ERR_MULTIRANK_OUT_OF_RANGE', /--inject-error/],
];

for (const [argv, code, message] of BAD) {
  test(`refuses ${argv.join(' ')}`, (t) => {
    const error = t.throws(() => parseBenchArgs(argv));
    t.is(codeOf(error), code);
    t.regex(error!.message, message);
  });
}

test('benchConfig validates programmatic overrides like the CLI', (t) => {
  t.like(benchConfig({ ranks: 3, stepBytes: 8, minBytes: 0 }), { ranks: 3, stepBytes: 8, stepFactor: 0 });
  t.is(codeOf(t.throws(() => benchConfig({ ranks: 2, root: 2 }))), 'ERR_MULTIRANK_OUT_OF_RANGE');
  t.is(codeOf(t.throws(() => benchConfig({ minBytes: 64, maxBytes: 8 }))), 'ERR_MULTIRANK_OUT_OF_RANGE');
});
