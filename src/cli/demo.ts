/**
 * `multirank demo`: the README's first command. Runs a tp x pp x dp job (Megatron layout, default
 * 2 x 2 x 2 = 8 ranks) of transformer MLP blocks, compares every rank's shard of the loss, logits and
 * gradients with the same model computed on one rank, and prints the layout, the verdict and the time
 * spent per collective kind.
 */
import { parseArgs } from 'node:util';
import { launch } from '../launch/launch.js';
import { planMegatronGroups } from '../topology/megatron.js';
import { renderCoordinateGrid } from '../topology/render-text.js';
import { toLayoutView } from '../topology/layout-view.js';
import { columns, DEFAULT_SIZES, maxAbsDiff, reference, rows, type DemoSizes } from './demo-model.js';
import type { DemoArgs, DemoRankResult } from './demo-rank.js';
import type { CommandOutput } from './main.js';
import { entryFile } from '../package-files.js';

export const DEMO_USAGE = `Usage: multirank demo [--tp 2] [--pp 2] [--dp 2] [--steps 10] [--hidden 32] [--batch 8]

Runs tp x pp x dp ranks (Megatron layout) of a transformer MLP block per pipeline stage: column- and
row-parallel linear layers (tp all-reduce and all-gather), activations and gradients between stages
(pp send/recv), gradients all-reduced across data-parallel replicas; then checks the result against the
same computation on one rank. Exit code 0 when the results match, 1 otherwise.`;

/** Largest difference allowed between the job and the 1-rank reference (float32 sums in another order). */
export const DEMO_TOLERANCE = 1e-4;

interface DemoOptions { tp: number; pp: number; dp: number; steps: number; hidden: number; batch: number }

function parseDemo(argv: string[]): DemoOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      tp: { type: 'string' }, pp: { type: 'string' }, dp: { type: 'string' }, steps: { type: 'string' },
      hidden: { type: 'string' }, batch: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  const int = (name: keyof typeof values, fallback: number): number => {
    const raw = values[name];
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 1) {
      throw new RangeError(`--${name} must be a positive integer, got ${JSON.stringify(raw)}`);
    }
    return value;
  };
  return {
    tp: int('tp', 2), pp: int('pp', 2), dp: int('dp', 2), steps: int('steps', 10),
    hidden: int('hidden', DEFAULT_SIZES.hidden), batch: int('batch', DEFAULT_SIZES.batch),
  };
}

/** Max difference of every rank's shards against the reference. */
export function compareWithReference(results: DemoRankResult[], sizes: DemoSizes, tp: number): number {
  const ref = reference(sizes);
  const local = sizes.batch / (results.length / (tp * sizes.stages));
  let worst = 0;
  for (const r of results) {
    const { tp: t, pp: s, dp: d } = r.coords;
    const ffn = sizes.ffn / tp, vocab = sizes.vocab / tp;
    worst = Math.max(worst, maxAbsDiff(r.grads.w1, columns(ref.grads[s]!.w1, t * ffn, ffn).data));
    worst = Math.max(worst, maxAbsDiff(r.grads.w2, rows(ref.grads[s]!.w2, t * ffn, ffn).data));
    if (s === sizes.stages - 1) {
      worst = Math.max(worst, Math.abs(r.loss! - ref.loss));
      worst = Math.max(worst, maxAbsDiff(r.logits!, rows(ref.logits, d * local, local).data));
      worst = Math.max(worst, maxAbsDiff(r.grads.head!, columns(ref.gradHead, t * vocab, vocab).data));
    }
  }
  return worst;
}

/** The time table: per collective kind, calls per rank and mean time per call over the ranks that made it. */
export function timingTable(results: DemoRankResult[]): string[] {
  const kinds = [...new Set(results.flatMap((r) => Object.keys(r.timings)))].sort();
  const lines = [
    `  ${'collective'.padEnd(16)} ${'calls/rank'.padStart(10)} ${'mean (us)'.padStart(10)} ${'max (us)'.padStart(10)}`,
  ];
  for (const kind of kinds) {
    const entries = results.flatMap((r) => (r.timings[kind] === undefined ? [] : [r.timings[kind]!]));
    const means = entries.map(([calls, ms]) => (ms * 1000) / calls);
    const calls = entries.reduce((sum, [c]) => sum + c, 0) / entries.length;
    const mean = means.reduce((a, b) => a + b, 0) / means.length;
    lines.push(
      `  ${kind.padEnd(16)} ${calls.toFixed(0).padStart(10)} ${mean.toFixed(1).padStart(10)} ` +
        `${Math.max(...means).toFixed(1).padStart(10)}`,
    );
  }
  return lines;
}

export async function demoCommand(argv: string[], out: CommandOutput): Promise<number> {
  let options: DemoOptions | 'help';
  try {
    options = parseDemo(argv);
  } catch (error) {
    out.error(`multirank demo: ${(error as Error).message}\n\n${DEMO_USAGE}`);
    return 2;
  }
  if (options === 'help') {
    out.log(DEMO_USAGE);
    return 0;
  }
  const { tp, pp, dp, steps } = options;
  const sizes: DemoSizes = {
    ...DEFAULT_SIZES, hidden: options.hidden, ffn: 4 * options.hidden, batch: options.batch * dp, stages: pp,
  };
  if (sizes.ffn % tp !== 0 || sizes.vocab % tp !== 0) {
    out.error(`multirank demo: --tp ${tp} must divide the ffn size ${sizes.ffn} and the vocabulary ${sizes.vocab}`);
    return 2;
  }
  const worldSize = tp * pp * dp;
  out.log(
    `multirank demo: ${worldSize} ranks (tp=${tp} pp=${pp} dp=${dp}), ${steps} steps of a ${pp}-stage MLP (hidden ` +
      `${sizes.hidden}, batch ${sizes.batch})\n`,
  );
  const plan = planMegatronGroups(worldSize, { tensorModelParallelSize: tp, pipelineModelParallelSize: pp });
  for (const kind of ['tp', 'pp', 'dp'] as const) {
    out.log(`${kind} groups: ${plan.groups[kind].map((g) => `[${g.join(', ')}]`).join(' ')}`);
  }
  out.log(['rank coordinates:', ...renderCoordinateGrid(toLayoutView(plan))].join('\n'));
  const started = performance.now();
  const job = await launch({
    worldSize, module: entryFile('src/cli/demo-rank.js'), args: { tp, pp, steps, sizes } satisfies DemoArgs,
  });
  let results: DemoRankResult[];
  try {
    results = (await job.results) as DemoRankResult[];
  } finally {
    await job.close();
  }
  const elapsedMs = performance.now() - started;
  const worst = compareWithReference(results, sizes, tp);
  const ok = worst <= DEMO_TOLERANCE;
  out.log(ok
    ? `\nresults match 1-rank reference (max abs difference ${worst.toExponential(2)}, tolerance ${DEMO_TOLERANCE})`
    : `\nresults DIFFER from the 1-rank reference: max abs difference ${worst.toExponential(2)} > tolerance ` +
      `${DEMO_TOLERANCE}`);
  out.log(`\njob time ${elapsedMs.toFixed(0)} ms (launch included); time per collective, per call:`);
  for (const line of timingTable(results)) out.log(line);
  return ok ? 0 : 1;
}
