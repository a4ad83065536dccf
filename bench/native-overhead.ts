/**
 * What a device collective adds over the library's own work, on the CPU shim (docs/BENCHMARKS.md): a
 * 1-element float32 sum all-reduce at 2 ranks, in rounds that alternate, on the same rank threads and the
 * same communicator, the library driven from C (the addon's benchLoop: enqueue, poll the stream) and each
 * JavaScript layer above it (bench/native-overhead-body.ts). A round's time is its slowest rank's. A
 * layer's cost over C is given two ways: its best round minus C's best round (what the call costs when
 * both ranks run without being descheduled: robust on a shared machine) and the median over rounds of
 * its time minus C's in the same round. At 1 rank nothing waits for a peer (the group layers then return
 * at once, as a group of one does). It points the nccl backend at the shim unless MULTIRANK_NCCL_LIBRARY /
 * MULTIRANK_CUDART_LIBRARY say otherwise.
 *   node dist/bench/native-overhead.js [--ranks 2] [--rounds 41] [--iterations 2000] [--runs 3] [--json]
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { launch } from '../src/launch/launch.js';
import { shutdown } from '../src/launch/runtime.js';
import { LAYERS } from './native-overhead-body.js';

const shim = fileURLToPath(new URL('../../native/build/Release/libnccl_shim.so', import.meta.url));
process.env.MULTIRANK_NCCL_LIBRARY ??= shim;
process.env.MULTIRANK_CUDART_LIBRARY ??= shim;
const { values } = parseArgs({
  options: {
    ranks: { type: 'string' }, rounds: { type: 'string' }, iterations: { type: 'string' }, runs: { type: 'string' },
    json: { type: 'boolean' },
  },
});
const ranks = Number(values.ranks ?? 2), rounds = Number(values.rounds ?? 41),
  iterations = Number(values.iterations ?? 2000), runs = Number(values.runs ?? 3);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Per layer, the slowest rank's µs per call of every round of every run. */
const perLayer: number[][] = LAYERS.map(() => []);
for (let run = 0; run < runs; run++) {
  const job = await launch({
    worldSize: ranks, module: new URL('./native-overhead-body.js', import.meta.url), args: { rounds, iterations },
  });
  const perRank = (await job.results) as number[][][];
  await job.close();
  LAYERS.forEach(
    (_, i) => perRank[0]![i]!.forEach((_u, r) => perLayer[i]!.push(Math.max(...perRank.map((p) => p[i]![r]!)))),
  );
}
await shutdown();

const c = perLayer[0]!;
const result = {
  ranks, rounds, iterations, runs, library: process.env.MULTIRANK_NCCL_LIBRARY,
  layers: Object.fromEntries(LAYERS.map((layer, i) => {
    const us = perLayer[i]!;
    const added = us.map((u, r) => u - c[r]!);
    return [layer, {
      us: median(us), bestUs: Math.min(...us), worstUs: Math.max(...us), addedBestUs: Math.min(...us) - Math.min(...c),
      addedMedianUs: median(added),
    }];
  })),
};
if (values.json) console.log(JSON.stringify(result));
else {
  console.log(
    `1-element float32 sum all-reduce, ${ranks} ranks, ${runs} runs x ${rounds} rounds x ${iterations} calls; ` +
      `${result.library}`,
  );
  console.log(
    `  ${'layer'.padEnd(14)} ${'best'.padStart(8)} ${'median'.padStart(8)} ${'worst'.padStart(8)}   over C: ` +
      `best-best, median of differences (us per call)`,
  );
  const f = (x: number): string => x.toFixed(3).padStart(8);
  for (const layer of LAYERS) {
    const l = result.layers[layer]!;
    const over = layer === 'C' ? '' : `   ${f(l.addedBestUs)} ${f(l.addedMedianUs)}`;
    console.log(`  ${layer.padEnd(14)} ${f(l.bestUs)} ${f(l.us)} ${f(l.worstUs)}${over}`);
  }
}
