#!/usr/bin/env node
/**
 * The `multirank` command: a table of subcommands, each a module with one job.
 *   multirank run -n N rank.js [-- args]    run a rank module on N ranks (threads in this process)
 *   multirank demo [--tp 2 --pp 2 --dp 2]   the demo job: a tensor/pipeline/data-parallel MLP block
 *   multirank layout --flavor ...           print or draw the rank groups of a layout
 *   multirank bench ...                     nccl-tests-style benchmarks
 */
import { readFileSync } from 'node:fs';
import { packageFile } from '../package-files.js';

export interface CommandOutput {
  log(text: string): void;
  error(text: string): void;
}

type Command = (argv: string[], out: CommandOutput) => Promise<number>;

const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  run: {
    summary: 'run a rank module on N ranks: multirank run -n 8 rank.js [-- args]',
    load: async () => (await import('./run.js')).runCommand,
  },
  demo: {
    summary: 'the demo job: tp x pp x dp MLP block checked against 1 rank',
    load: async () => (await import('./demo.js')).demoCommand,
  },
  layout: {
    summary: 'print or draw the rank groups of a Megatron, vLLM or FastVideo layout',
    load: async () => (await import('./layout.js')).layoutCommand,
  },
  bench: {
    summary: 'nccl-tests-style benchmarks: multirank bench allReduce -n 2 -b 8 -e 64M',
    load: async () => (await import('./bench.js')).benchCommand,
  },
};

export function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  return [
    'Usage: multirank <command> [options]',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([name, { summary }]) => `  ${name.padEnd(width)}  ${summary}`),
    '',
    'Run `multirank <command> --help` for the options of a command.',
  ].join('\n');
}

function version(): string {
  const pkg = JSON.parse(
    readFileSync(packageFile('package.json'), 'utf8'),
  ) as { version: string };
  return pkg.version;
}

/** Runs the CLI with `argv` (without node and the script); returns the exit code. */
export async function main(argv: string[], out: CommandOutput = console): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    out.log(usage());
    return name === undefined ? 1 : 0;
  }
  if (name === '--version' || name === '-v') {
    out.log(version());
    return 0;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    out.error(`multirank: unknown command ${JSON.stringify(name)}\n\n${usage()}`);
    return 2;
  }
  return (await command.load())(rest, out);
}

if (
  import.meta.url === (await import('node:url')).pathToFileURL(
    (await import('node:fs')).realpathSync(process.argv[1] ?? ''),
  ).href
) {
  const { shutdown } = await import('../launch/runtime.js');
  const code = await main(process.argv.slice(2));
  await shutdown();
  process.exitCode = code;
}
