/**
 * `multirank bench [op] -n RANKS -b MIN -e MAX -f FACTOR ...`: nccl-tests-style collective benchmarks
 * on worker-thread ranks, with nccl-tests' table on stdout, an optional ceiling (the memory floor of each
 * row, measured in the same run), `--json` / `--csv` files, and exit code 1 when any result is wrong.
 */
import { writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { parseBenchArgs, type BenchCliOptions, type BenchConfig } from '../bench/args.js';
import { benchJson } from '../bench/json.js';
import { machineInfo, type MachineInfo } from '../bench/machine.js';
import { opAccounting, BENCH_OPS } from '../bench/ops.js';
import { planCases } from '../bench/plan.js';
import { ProgressBar } from '../bench/progress.js';
import { totalWrong, type BenchRecord } from '../bench/report.js';
import { backendProblem, runBench } from '../bench/run.js';
import { tableFooter, tableHeader, tableRow, toCsv } from '../bench/table.js';

/** The text of `multirank bench --help`. */
export const BENCH_USAGE = `Usage: multirank bench [op] [options]

Times collectives on RANKS ranks (worker threads of this process) and prints nccl-tests' table:
size, count, type, redop, root, then time / algbw / busbw / #wrong out of place and in place.
time is the median over iterations of the slowest rank's time; busbw = algbw x the op's factor
(allReduce 2(n-1)/n; allGather, reduceScatter, allToAll (n-1)/n; broadcast, reduce, sendRecv 1).

op: ${BENCH_OPS.join(', ')}, all, or a comma list (default allReduce)

Options (nccl-tests' letters, except -n):
  -n, --nranks RANKS      ranks (default 2), as in \`multirank run -n\`; nccl-tests' -n is --iters here
  -b, --minbytes SIZE     smallest size (default 8); sizes take K, M, G (powers of 1024)
  -e, --maxbytes SIZE     largest size (default 32M)
  -f, --stepfactor F      multiply the size by F between rows (default 2)
  -i, --stepbytes SIZE    add SIZE between rows instead
      --iters N           timed iterations per row (default 20)
  -w, --warmup N          untimed iterations first (default 5)
  -c, --check N           checked runs per row, 0 to skip the data check (default 1)
  -d, --dtype T           float32 (float), float64 (double), float16 (half), bfloat16, int8, uint8,
                          int32, int64, bool, complex64, complex128, all (every one but bool), or a
                          comma list (default float32)
  -o, --op OP             sum, prod, min, max, avg, band, bor, bxor, all, or a comma list (default sum);
                          rows skip the ops a dtype refuses (avg on integers, bitwise ops on floats,
                          all but sum and avg on complex)
  -r, --root R            root of broadcast and reduce (default 0)
      --backend B         threads (default); nccl (cuda:RANK tensors) or hccl (npu:RANK tensors) where
                          their libraries load (MULTIRANK_NCCL_LIBRARY ...: see README); mpi moves
                          tensors between processes, which this command does not start
      --ceiling           also measure copy and reduce bandwidth on the same bytes, and print each
                          row's busbw as a percentage of the floor that memory traffic sets
      --json FILE         write nccl-tests-style JSON records (- for stdout; the table then goes to stderr)
      --csv FILE          write the records as CSV (- for stdout)
      --progress          always show the progress bar on stderr (default: on a terminal, for runs over 1 s)
      --no-progress       never show it
      --seed N            seed of the check data (default 1)
      --timeout-ms MS     deadline of every blocking wait
      --inject-error R    testing: rank R corrupts one element of its result before the check
  -h, --help              this text

Exit code: 0, 1 when a rank fails or any #wrong > 0, 2 for bad arguments.`;

/** The output sink of a command (the CLI passes console). */
export interface BenchOutput {
  log(text: string): void;
  error(text: string): void;
}

function preamble(config: BenchConfig, machine: MachineInfo): string[] {
  const step = config.stepFactor > 1 ? `${config.stepFactor}(factor)` : `${config.stepBytes}(bytes)`;
  const over = config.ranks > machine.cores ? ` (oversubscribed: ${config.ranks} ranks on ${machine.cores} cores)` : '';
  return [
    `# multirank bench ${machine.multirank}, commit ${machine.commit ?? 'unknown'}, Node ${machine.node}, ` +
      `${machine.cpu} (${machine.cores} cores)`,
    `# nRanks ${config.ranks} backend ${config.backend} minBytes ${config.minBytes} maxBytes ${config.maxBytes} ` +
      `step: ${step} warmup iters: ${config.warmup} iters: ${config.iters} validation: ${config.check} ` +
      `ceiling: ${config.ceiling ? 1 : 0}`,
    `# Ranks: ${config.ranks} worker threads of pid ${process.pid} on ${hostname()}${over}`,
    '# time: median over iterations of the slowest rank; memory floor: see docs/BENCHMARKS.md',
  ];
}

function writeOutput(path: string, text: string, out: BenchOutput): void {
  if (path === '-') out.log(text.trimEnd());
  else writeFileSync(path, text);
}

async function measure(options: BenchCliOptions, print: (s: string) => void): Promise<BenchRecord[]> {
  const { config } = options;
  const interactive = options.progress === 'always' || (options.progress === 'auto' && process.stderr.isTTY === true);
  const bar = new ProgressBar({
    total: planCases(config).length, enabled: interactive, write: (s) => void process.stderr.write(s),
  });
  let lastOp: string | undefined;
  const records = await runBench(config, {
    onRecord(record, row, done) {
      bar.clear();
      if (row.op !== lastOp) {
        lastOp = row.op;
        const factor = opAccounting(row.op).busFactor(config.ranks);
        print(`#\n# Collective: ${row.op}, ${config.ranks} ranks (busbw factor ${Number(factor.toFixed(4))})\n#`);
        for (const line of tableHeader(config.ceiling)) print(line);
      }
      print(tableRow(record, config.ceiling));
      bar.update(done, `${row.op} ${row.dtype} ${row.sizeBytes} B`);
    },
  });
  bar.clear();
  return records;
}

/** Runs `multirank bench` with `argv` (the words after `bench`); returns the exit code. */
export async function benchCommand(argv: string[], out: BenchOutput): Promise<number> {
  let options: BenchCliOptions;
  try {
    options = parseBenchArgs(argv);
  } catch (error) {
    out.error(`multirank bench: ${(error as Error).message}\n\n${BENCH_USAGE}`);
    return 2;
  }
  if (options.help) {
    out.log(BENCH_USAGE);
    return 0;
  }
  const missing = backendProblem(options.config.backend);
  if (missing !== undefined) {
    out.error(`multirank bench: ${missing}`);
    return 2;
  }
  const print = options.json === '-' || options.csv === '-' ? (s: string) => out.error(s) : (s: string) => out.log(s);
  const machine = machineInfo();
  const startTime = new Date();
  try {
    for (const line of preamble(options.config, machine)) print(line);
    const records = await measure(options, print);
    for (const line of tableFooter(records)) print(line);
    const run = { args: ['multirank', 'bench', ...argv], startTime, endTime: new Date(), machine };
    if (options.json !== undefined) {
      writeOutput(options.json, JSON.stringify(benchJson(options.config, records, run), null, 2) + '\n', out);
    }
    if (options.csv !== undefined) writeOutput(options.csv, toCsv(records), out);
    const wrong = totalWrong(records);
    if (wrong > 0) out.error(`multirank bench: ${wrong} wrong element(s) in the results (see #wrong)`);
    return wrong > 0 ? 1 : 0;
  } catch (error) {
    out.error(`multirank bench: ${(error as Error).message}`);
    return 1;
  }
}
