/** `multirank bench` as a child process of the comparison (the same code as the CLI's `bench` command). */
import { benchCommand } from '../../src/cli/bench.js';
import { shutdown } from '../../src/launch/runtime.js';

const code = await benchCommand(process.argv.slice(2), console);
await shutdown();
process.exitCode = code;
