/** `multirank run -n N rank.js [-- args]`: run a rank module on N ranks; exit non-zero when a rank fails. */
import { parseArgs } from 'node:util';
import { launch } from '../launch/launch.js';
import type { CommandOutput } from './main.js';

export const RUN_USAGE = `Usage: multirank run -n RANKS [options] rank.js|rank.ts [-- args...]

Runs the module's default export (or --export NAME) on RANKS ranks, each a worker thread of this process.
The entry is called as main({ rank, worldSize, localRank, args }); args are the words after --.
Each rank's output is prefixed with [rank N]; a rank's return value, when not undefined, is printed.

Options:
  -n, --nproc RANKS       number of ranks (required)
      --export NAME       the export to run (default: default)
      --local-world-size  ranks per node for LOCAL_RANK (default: RANKS)
      --timeout-ms MS     deadline of every blocking wait (default: MULTIRANK_TIMEOUT_MS or 300000)
      --quiet             do not print return values
  -h, --help              this text`;

export async function runCommand(argv: string[], out: CommandOutput): Promise<number> {
  const dashDash = argv.indexOf('--');
  const own = dashDash === -1 ? argv : argv.slice(0, dashDash);
  const rankArgs = dashDash === -1 ? [] : argv.slice(dashDash + 1);
  let parsed;
  try {
    parsed = parseArgs({
      args: own, allowPositionals: true,
      options: {
        nproc: { type: 'string', short: 'n' }, export: { type: 'string' }, 'local-world-size': { type: 'string' },
        'timeout-ms': { type: 'string' }, quiet: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    out.error(`multirank run: ${(error as Error).message}\n\n${RUN_USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    out.log(RUN_USAGE);
    return 0;
  }
  if (values.nproc === undefined || positionals.length !== 1) {
    out.error(`multirank run: ${values.nproc === undefined ? '-n RANKS is required' : 'expected exactly one rank module'}\n\n${RUN_USAGE}`);
    return 2;
  }
  const number = (name: string, text: string | undefined): number | undefined => {
    if (text === undefined) return undefined;
    const value = Number(text);
    if (!Number.isInteger(value) || value <= 0) throw new RangeError(`--${name} must be a positive integer, got ${JSON.stringify(text)}`);
    return value;
  };
  try {
    const options = {
      worldSize: number('nproc', values.nproc)!, module: positionals[0]!, args: rankArgs, outputPrefix: true,
      ...(values.export === undefined ? {} : { exportName: values.export }),
      ...(values['local-world-size'] === undefined ? {} : { localWorldSize: number('local-world-size', values['local-world-size'])! }),
      ...(values['timeout-ms'] === undefined ? {} : { timeoutMs: number('timeout-ms', values['timeout-ms'])! }),
    };
    const job = await launch(options);
    try {
      const results = await job.results;
      if (!values.quiet) results.forEach((value, rank) => value !== undefined && out.log(`[rank ${rank}] => ${JSON.stringify(value)}`));
      return 0;
    } finally {
      await job.close();
    }
  } catch (error) {
    out.error(`multirank run: ${(error as Error).message}`);
    return 1;
  }
}
