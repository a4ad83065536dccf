/**
 * `multirank layout`: plans the rank groups of Megatron-LM, vLLM or FastVideo for one configuration and
 * prints them (text or `--json`), optionally drawing them to an SVG file (`--svg FILE`).
 *
 * Exit codes: 0 printed; 1 the configuration is one that upstream rejects (the message says which sizes
 * conflict); 2 bad command line (unknown flag, a flag that does not apply to the flavour, a bad number).
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import {
  planFastVideoGroups, planMegatronGroups, planVllmGroups, renderSvg, renderText, toJson,
} from '../topology/index.js';
import type { MegatronOptions, TopologyPlan, VllmOptions, FastVideoOptions } from '../topology/index.js';

/** Where the command writes: `console` fits. */
export interface LayoutOutput {
  log(s: string): void;
  error(s: string): void;
}

const FLAVORS = ['megatron', 'vllm', 'fastvideo'] as const;
type Flavor = (typeof FLAVORS)[number];

/** Flag -> option name (or a converter), per flavour. */
const FLAGS: Record<Flavor, Record<string, string>> = {
  megatron: {
    tp: 'tensorModelParallelSize', pp: 'pipelineModelParallelSize', vpp: 'virtualPipelineModelParallelSize',
    cp: 'contextParallelSize', ep: 'expertModelParallelSize', etp: 'expertTensorParallelSize',
    'dist-opt-instances': 'numDistributedOptimizerInstances', order: 'order',
    'hierarchical-cp': 'hierarchicalContextParallelSizes', 'hybrid-cp': 'hybridContextParallel',
    'rank-offset': 'rankOffset', 'local-world-size': 'localWorldSize', 'gtp-remat': 'gtpRematSize',
    'expert-gtp-remat': 'expertGtpRematSize',
  },
  vllm: {
    tp: 'tensorModelParallelSize', pp: 'pipelineModelParallelSize', pcp: 'prefillContextModelParallelSize',
    dcp: 'decodeContextModelParallelSize', dp: 'dataParallelSize', dense: 'isMoe',
  },
  fastvideo: { tp: 'tensorModelParallelSize', sp: 'sequenceModelParallelSize', dp: 'dataParallelSize' },
};
const BOOLEAN_FLAGS = new Set(['hybrid-cp', 'dense', 'json', 'help']);
const ALL_FLAGS = [...new Set(Object.values(FLAGS).flatMap((f) => Object.keys(f)))];

/** The `--help` text. */
export const LAYOUT_USAGE =
  `Usage: multirank layout --flavor megatron|vllm|fastvideo --world-size N [sizes] [--json] [--svg FILE]

Prints the rank groups that upstream creates for one configuration, and each rank's coordinates.

  --flavor F             megatron (Megatron-LM), vllm, fastvideo
  --world-size N         ranks in the job
  --json                 print the plan as JSON instead of text
  --svg FILE             also draw the groups: one panel per kind, one colour per group
  -h, --help             this text

megatron: --tp --pp --vpp --cp --ep --etp N   --dist-opt-instances N   --order tp-cp-ep-dp-pp
          --hierarchical-cp 2,2   --hybrid-cp   --rank-offset N --local-world-size N
          --gtp-remat N --expert-gtp-remat N
vllm:     --tp --pp --pcp --dcp --dp N   --dense (no expert-parallel group)
fastvideo: --tp --sp --dp N

Example: multirank layout --flavor megatron --world-size 16 --tp 2 --pp 2 --cp 2 --ep 2 --svg layout.svg
`;

class UsageError extends Error {}

function toNumber(flag: string, text: string, min: number): number {
  if (!/^\d+$/.test(text) || Number(text) < min) {
    throw new UsageError(
      `--${flag} expects ${min === 0 ? 'a non-negative' : 'a positive'} integer, got ${JSON.stringify(text)}`,
    );
  }
  return Number(text);
}

function optionValue(flag: string, value: string | boolean): unknown {
  if (flag === 'hybrid-cp') return true;
  if (flag === 'dense') return false;
  if (flag === 'order') return value;
  if (flag === 'hierarchical-cp') return String(value).split(',').map((part) => toNumber(flag, part.trim(), 1));
  return toNumber(flag, String(value), flag === 'rank-offset' ? 0 : 1);
}

function parse(argv: string[]) {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {
    flavor: { type: 'string' }, 'world-size': { type: 'string' }, svg: { type: 'string' },
  };
  for (const flag of [...ALL_FLAGS, 'json', 'help']) {
    options[flag] = { type: BOOLEAN_FLAGS.has(flag) ? 'boolean' : 'string' };
  }
  options.help = { type: 'boolean', short: 'h' };
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false })
      .values as Record<string, string | boolean | undefined>;
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

function buildPlan(values: Record<string, string | boolean | undefined>): TopologyPlan {
  const flavor = values.flavor;
  if (flavor === undefined) throw new UsageError(`--flavor is required (${FLAVORS.join(', ')})`);
  if (!(FLAVORS as readonly string[]).includes(flavor as string)) {
    throw new UsageError(`--flavor must be one of ${FLAVORS.join(', ')}, got ${JSON.stringify(flavor)}`);
  }
  if (values['world-size'] === undefined) throw new UsageError('--world-size is required');
  const worldSize = toNumber('world-size', String(values['world-size']), 1);
  const accepted = FLAGS[flavor as Flavor];
  const options: Record<string, unknown> = {};
  for (const flag of ALL_FLAGS) {
    const value = values[flag];
    if (value === undefined) continue;
    if (!(flag in accepted)) {
      throw new UsageError(
        `--${flag} does not apply to --flavor ${flavor}; it accepts ` +
          `${Object.keys(accepted).map((f) => `--${f}`).join(', ')}`,
      );
    }
    options[accepted[flag]!] = optionValue(flag, value);
  }
  if (flavor === 'megatron') return planMegatronGroups(worldSize, options as MegatronOptions);
  if (flavor === 'vllm') return planVllmGroups(worldSize, options as VllmOptions);
  return planFastVideoGroups(worldSize, options as FastVideoOptions);
}

/**
 * Runs `multirank layout` with `argv` (the arguments after `layout`). Returns the exit code.
 */
export async function layoutCommand(argv: string[], out: LayoutOutput): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  let plan: TopologyPlan;
  try {
    values = parse(argv);
    if (values.help) {
      out.log(LAYOUT_USAGE);
      return 0;
    }
    plan = buildPlan(values);
  } catch (e) {
    if (e instanceof UsageError) {
      out.error(`multirank layout: ${e.message}\n\n${LAYOUT_USAGE}`);
      return 2;
    }
    out.error(`multirank layout: ${(e as Error).message}`);
    return 1;
  }
  // The drawing first: a file that cannot be written fails the command before anything is printed.
  if (typeof values.svg === 'string') {
    try {
      await writeFile(values.svg, renderSvg(plan));
    } catch (e) {
      out.error(`multirank layout: cannot write ${values.svg}: ${(e as Error).message}`);
      return 1;
    }
  }
  out.log(values.json ? toJson(plan).trimEnd() : renderText(plan).trimEnd());
  if (typeof values.svg === 'string' && !values.json) out.log(`wrote ${values.svg}`);
  return 0;
}
