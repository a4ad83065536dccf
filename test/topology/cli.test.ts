/**
 * `multirank layout` (layoutCommand): text output, --json, --svg (parsed as XML: one panel per kind,
 * one box per rank per panel, colours per group), usage errors and upstream refusals.
 */
import test from 'ava';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { layoutCommand } from '../../src/cli/layout.js';
import { planMegatronGroups, planVllmGroups } from '../../src/topology/index.js';
import { findAll, parseXml } from './xml.js';

async function run(argv: string[]) {
  const logs: string[] = [];
  const errors: string[] = [];
  const code = await layoutCommand(argv, { log: (s) => logs.push(s), error: (s) => errors.push(s) });
  return { code, out: logs.join('\n'), err: errors.join('\n') };
}

const MEGATRON_16 = ['--flavor', 'megatron', '--world-size', '16', '--tp', '2', '--pp', '2', '--cp', '2', '--ep', '2'];

test('text: every kind with its groups, then each rank\'s coordinates', async (t) => {
  const { code, out, err } = await run(MEGATRON_16);
  t.is(code, 0, err);
  t.regex(out, /^megatron: world 16, tp 2, pp 2, cp 2, dp 2, ep 2/);
  const plan = planMegatronGroups(16, { tensorModelParallelSize: 2, pipelineModelParallelSize: 2, contextParallelSize: 2, expertModelParallelSize: 2 });
  for (const [kind, groups] of Object.entries(plan.groups) as [string, number[][]][]) {
    t.true(out.includes(`\n${kind}: ${groups.length} group`), kind);
    t.true(out.includes(`[${groups[0]!.join(', ')}]`), `${kind} first group`);
  }
  for (let r = 0; r < 16; r++) {
    const i = plan.rankInfo(r);
    const cell = `tp=${i.tensorModelParallelRank} cp=${i.contextParallelRank} dp=${i.dataParallelRank} pp=${i.pipelineModelParallelRank}`;
    t.regex(out, new RegExp(`r${r}\\s+${cell}`), `rank ${r}`);
  }
});

test('--json prints the plan data', async (t) => {
  const { code, out } = await run(['--flavor', 'vllm', '--world-size', '8', '--tp', '2', '--pp', '2', '--dp', '2', '--json']);
  t.is(code, 0);
  const parsed = JSON.parse(out) as { flavor: string; groups: unknown; sizes: unknown };
  const plan = planVllmGroups(8, { tensorModelParallelSize: 2, pipelineModelParallelSize: 2, dataParallelSize: 2 });
  t.deepEqual(parsed, JSON.parse(JSON.stringify(plan)));
  t.is(parsed.flavor, 'vllm');
});

test('--svg writes a well-formed SVG: one panel per kind, one box per rank per panel, a colour per group', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'multirank-layout-'));
  try {
    const file = join(dir, 'layout.svg');
    const { code, out } = await run([...MEGATRON_16, '--hierarchical-cp', '2,1', '--svg', file]);
    t.is(code, 0);
    t.true(out.endsWith(`wrote ${file}`));
    const root = parseXml(await readFile(file, 'utf8'));
    t.is(root.name, 'svg');
    t.is(root.attrs.xmlns, 'http://www.w3.org/2000/svg');
    const plan = planMegatronGroups(16, { tensorModelParallelSize: 2, pipelineModelParallelSize: 2, contextParallelSize: 2, expertModelParallelSize: 2, hierarchicalContextParallelSizes: [2, 1] });
    const kinds = Object.entries(plan.groups).flatMap(([k, v]) => (k === 'hierarchicalCp' ? (v as unknown[]).map((_, i) => `${k}[${i}]`) : [k]));
    const panels = findAll(root, (e) => e.attrs.class === 'panel');
    t.deepEqual(panels.map((p) => p.attrs['data-kind']), kinds);
    for (const panel of panels) {
      const boxes = findAll(panel, (e) => e.attrs.class === 'rank');
      t.deepEqual(boxes.map((b) => Number(b.attrs['data-rank'])), Array.from({ length: 16 }, (_, r) => r), panel.attrs['data-kind']!);
      const groups = panel.attrs['data-kind'] === 'tp' ? plan.groups.tp : null;
      if (groups) {
        for (const b of boxes) t.is(Number(b.attrs['data-group']), groups.findIndex((g) => g.includes(Number(b.attrs['data-rank']))));
        const fills = new Set(boxes.map((b) => b.children.find((c) => c.name === 'rect')!.attrs.fill));
        t.is(fills.size, groups.length, 'one colour per tp group');
      }
    }
    // Ranks outside every group of a kind are drawn empty (position embedding: first stages only).
    const pos = panels.find((p) => p.attrs['data-kind'] === 'positionEmbedding')!;
    t.true(findAll(pos, (e) => e.attrs.class === 'rank' && e.attrs['data-group'] === '').length > 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('fastvideo text and 64-rank SVG stay readable (8 x 8 board, labels on every box)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'multirank-layout-'));
  try {
    const file = join(dir, 'fv.svg');
    const { code, out } = await run(['--flavor', 'fastvideo', '--world-size', '64', '--tp', '2', '--sp', '8', '--svg', file]);
    t.is(code, 0);
    t.regex(out, /r63\s+tp=1 sp=7 dp=7/);
    const root = parseXml(await readFile(file, 'utf8'));
    const panels = findAll(root, (e) => e.attrs.class === 'panel');
    t.deepEqual(panels.map((p) => p.attrs['data-kind']), ['tp', 'sp', 'dp', 'world']);
    for (const p of panels) {
      const boxes = findAll(p, (e) => e.attrs.class === 'rank');
      t.is(boxes.length, 64);
      for (const b of boxes) t.is(b.children.filter((c) => c.name === 'text')[0]!.text, b.attrs['data-rank']);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('usage errors exit 2 with a clear message; upstream refusals exit 1; --help exits 0', async (t) => {
  const wrongFlag = await run(['--flavor', 'megatron', '--world-size', '8', '--sp', '2']);
  t.is(wrongFlag.code, 2);
  t.regex(wrongFlag.err, /--sp does not apply to --flavor megatron; it accepts --tp, --pp, --vpp/);
  const vllmCp = await run(['--flavor', 'vllm', '--world-size', '8', '--cp', '2']);
  t.is(vllmCp.code, 2);
  t.regex(vllmCp.err, /--cp does not apply to --flavor vllm/);
  t.is((await run(['--flavor', 'megatron'])).code, 2);
  t.regex((await run(['--flavor', 'nemo', '--world-size', '8'])).err, /--flavor must be one of megatron, vllm, fastvideo/);
  t.regex((await run(['--flavor', 'megatron', '--world-size', '8', '--tp', 'two'])).err, /--tp expects a positive integer, got "two"/);
  t.regex((await run(['--flavor', 'megatron', '--world-size', '8', '--tp', '0'])).err, /--tp expects a positive integer/);
  t.is((await run(['--bogus'])).code, 2);
  const refused = await run(['--flavor', 'megatron', '--world-size', '8', '--tp', '3']);
  t.is(refused.code, 1);
  t.regex(refused.err, /world size \(8\) is not divisible by tensorModelParallelSize \(3\)/);
  const vllmRefused = await run(['--flavor', 'vllm', '--world-size', '8', '--tp', '4', '--dcp', '3']);
  t.is(vllmRefused.code, 1);
  const help = await run(['--help']);
  t.is(help.code, 0);
  t.regex(help.out, /Usage: multirank layout --flavor megatron\|vllm\|fastvideo/);
});

test('megatron-only flags reach the planner (order, vpp, hybrid cp, offsets, distributed optimizer)', async (t) => {
  const { code, out } = await run([
    '--flavor', 'megatron', '--world-size', '16', '--tp', '2', '--pp', '2', '--vpp', '2', '--order', 'tp-cp-ep-dp-pp',
    '--dist-opt-instances', '2', '--hybrid-cp', '--rank-offset', '0', '--local-world-size', '16', '--etp', '1', '--ep', '2', '--json',
  ]);
  t.is(code, 0);
  const plan = JSON.parse(out) as { sizes: Record<string, unknown>; groups: Record<string, unknown> };
  t.like(plan.sizes, { vpp: 2, numDistributedOptimizerInstances: 2, hybridContextParallel: true, etp: 1, ep: 2 });
  t.truthy(plan.groups.intraPartialDpCp);
  t.truthy(plan.groups.hybridDpCp);
  const dense = await run(['--flavor', 'vllm', '--world-size', '4', '--tp', '2', '--pcp', '2', '--dcp', '2', '--dense', '--json']);
  t.false('ep' in (JSON.parse(dense.out) as { groups: object }).groups);
});

test('the test XML parser rejects what is not well-formed', (t) => {
  t.notThrows(() => parseXml('<?xml version="1.0"?><a x="1"><b/>t &amp; u</a>'));
  t.throws(() => parseXml('<a><b></a>'), { message: /mismatched/ });
  t.throws(() => parseXml('<a x=1></a>'), { message: /attribute/ });
  t.throws(() => parseXml('<a x="1" x="2"></a>'), { message: /duplicate/ });
  t.throws(() => parseXml('<a>&nbsp;</a>'), { message: /entity/ });
  t.throws(() => parseXml('<a></a><b></b>'), { message: /second root/ });
  t.throws(() => parseXml('<a>'), { message: /unclosed/ });
});

test('text: ranks outside the model are shown as such; the title names every size in play', async (t) => {
  const offset = await run(['--flavor', 'megatron', '--world-size', '8', '--rank-offset', '4', '--local-world-size', '4', '--tp', '2']);
  t.is(offset.code, 0);
  t.regex(offset.out, /ranks 4\.\.7/);
  for (const r of [0, 1, 2, 3]) t.regex(offset.out, new RegExp(`r${r}\\s+\\(no groups\\)`));
  t.regex(offset.out, /r5\s+tp=1 cp=0 dp=0 pp=0/);
  const many = await run(['--flavor', 'megatron', '--world-size', '16', '--gtp-remat', '2', '--expert-gtp-remat', '2', '--pp', '2', '--vpp', '2',
    '--cp', '2', '--hierarchical-cp', '2,1', '--hybrid-cp']);
  t.is(many.code, 0, many.err);
  t.regex(many.out, /vpp 2, gtpRemat 2, expertGtpRemat 2, hierarchicalCp \[2,1\], hybridCp/);
  t.regex(many.out, /\ngtpRemat: 8 groups of 2\n/);
  t.regex(many.out, /\nhierarchicalCp\[0\]: 8 groups of 2\n/);
  const vllm = await run(['--flavor', 'vllm', '--world-size', '8', '--tp', '2', '--pcp', '2', '--dcp', '4', '--pp', '2']);
  t.regex(vllm.out, /^vllm: world 8, externalDp 1, dp 1, pp 2, pcp 2, tp 2, dcp 4/);
  t.regex(vllm.out, /r7\s+tp=1 dcp=3 pcp=1 pp=1 dp=0 ep=3/);
});
