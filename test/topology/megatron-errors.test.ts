/**
 * Every place where Megatron-LM's `initialize_model_parallel` raises gives a RangeError with code
 * ERR_MULTIRANK_OUT_OF_RANGE whose message names the sizes involved and the rule; bad values are
 * rejected by name.
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { planMegatronGroups } from '../../src/topology/index.js';
import type { MegatronOptions } from '../../src/topology/index.js';

function refuses(t: ExecutionContext, world: number, options: MegatronOptions, words: RegExp[]): void {
  const e = t.throws(() => planMegatronGroups(world, options), { instanceOf: RangeError }, JSON.stringify(options));
  t.is((e as { code?: string }).code, 'ERR_MULTIRANK_OUT_OF_RANGE');
  for (const w of words) t.regex(e!.message, w);
}

test('world size not divisible by tp x pp x cp (x gtp)', (t) => {
  refuses(t, 8, { tensorModelParallelSize: 3 }, [/world size \(8\)/, /tensorModelParallelSize \(3\)/, /= 3/]);
  refuses(t, 12, { tensorModelParallelSize: 2, pipelineModelParallelSize: 4, contextParallelSize: 1 }, [/pipelineModelParallelSize \(4\)/, /= 8/]);
  refuses(t, 16, { localWorldSize: 6, tensorModelParallelSize: 4 }, [/world size \(6\)/]);
});

test('virtual pipeline without a pipeline', (t) => {
  refuses(t, 8, { virtualPipelineModelParallelSize: 2 }, [/virtualPipelineModelParallelSize \(2\)/, /pipelineModelParallelSize > 1, got 1/]);
});

test('world size not divisible by the expert block etp x ep x pp', (t) => {
  refuses(t, 8, { expertModelParallelSize: 3 }, [/expertModelParallelSize \(3\)/, /expertTensorParallelSize \(1\)/, /world size \(8\)/]);
  refuses(t, 8, { tensorModelParallelSize: 2, expertTensorParallelSize: 4, expertModelParallelSize: 4 }, [/= 16/]);
});

test('order lacking an axis of size > 1, or naming an unknown axis', (t) => {
  refuses(t, 8, { contextParallelSize: 2, order: 'tp-dp-pp' }, [/cp has size 2/, /tp-gtp_remat-dp-pp/]);
  refuses(t, 8, { expertModelParallelSize: 2, order: 'tp-dp-pp' }, [/ep has size 2/]);
  refuses(t, 8, { order: 'tp-xx-dp-pp' }, [/unknown axis "xx"/]);
  // Current upstream always finds "tp" (inside gtp_remat), so an order without tp fails on the tp token.
  refuses(t, 8, { order: 'dp-pp' }, [/"tp"/]);
});

test('non-pp-last order with different attention and expert data-parallel sizes', (t) => {
  refuses(t, 8, { pipelineModelParallelSize: 2, expertModelParallelSize: 2, order: 'tp-pp-ep-dp' }, [/\(4\)/, /\(2\)/, /end with pp/]);
});

test('dense and expert pipeline groups differ', (t) => {
  refuses(t, 8, { tensorModelParallelSize: 2, expertTensorParallelSize: 1, expertModelParallelSize: 2, pipelineModelParallelSize: 2, order: 'tp-pp-ep-dp' }, [
    /pipeline groups differ/, /tp 2/, /etp 1/, /ep 2/, /pp 2/,
  ]);
});

test('distributed-optimizer instances must split dp x cp and the expert dp evenly', (t) => {
  refuses(t, 8, { numDistributedOptimizerInstances: 3 }, [/\(8\)/, /numDistributedOptimizerInstances \(3\)/]);
  refuses(t, 8, { expertModelParallelSize: 4, numDistributedOptimizerInstances: 4 }, [/expert data-parallel size \(2/, /\(4\)/]);
  refuses(t, 8, { gtpRematSize: 2, numDistributedOptimizerInstances: 2 }, [/gtpRematSize \(2\)/, /\(2\) > 1/]);
});

test('hybrid context parallel needs an even dp x cp; hierarchical cp sizes must multiply to cp', (t) => {
  refuses(t, 12, { contextParallelSize: 3, tensorModelParallelSize: 4, hybridContextParallel: true }, [/even/, /dp \(1\) x cp \(3\) = 3/]);
  refuses(t, 8, { contextParallelSize: 4, hierarchicalContextParallelSizes: [2, 4] }, [/\[2, 4\]/, /multiply to 8/, /contextParallelSize is 4/]);
});

test('communication options that upstream checks', (t) => {
  refuses(t, 8, { pipelineModelParallelSize: 2, pipelineModelParallelCommBackend: 'mpi' }, [/"mpi"/]);
  refuses(t, 8, { sharpEnabledGroup: 'dp' }, [/useSharp/]);
  refuses(t, 8, { useSharp: true, sharpEnabledGroup: 'dp_replica' }, [/numDistributedOptimizerInstances > 1, got 1/]);
  t.throws(() => planMegatronGroups(8, { useSharp: true, sharpEnabledGroup: 'tp' }), { instanceOf: TypeError, code: 'ERR_MULTIRANK_INVALID_ARG_VALUE' });
  t.notThrows(() => planMegatronGroups(8, { useSharp: true, pipelineModelParallelCommBackend: 'ucc', createGlooProcessGroups: false }));
});

test('non-integers, zeros and negatives are rejected by name', (t) => {
  for (const key of ['tensorModelParallelSize', 'pipelineModelParallelSize', 'contextParallelSize', 'expertModelParallelSize',
    'expertTensorParallelSize', 'numDistributedOptimizerInstances', 'virtualPipelineModelParallelSize', 'localWorldSize'] as const) {
    t.throws(() => planMegatronGroups(8, { [key]: 1.5 }), { instanceOf: TypeError, code: 'ERR_MULTIRANK_INVALID_ARG_TYPE', message: new RegExp(`options\\.${key}.*1\\.5`) });
    t.throws(() => planMegatronGroups(8, { [key]: 0 }), { instanceOf: RangeError, code: 'ERR_MULTIRANK_OUT_OF_RANGE', message: new RegExp(`options\\.${key}.*got 0`) });
    t.throws(() => planMegatronGroups(8, { [key]: -2 }), { instanceOf: RangeError, message: new RegExp(`options\\.${key}.*got -2`) });
  }
  t.throws(() => planMegatronGroups(0), { message: /worldSize.*got 0/ });
  t.throws(() => planMegatronGroups(8, { rankOffset: -1 }), { message: /options\.rankOffset.*got -1/ });
  t.throws(() => planMegatronGroups(8, { hierarchicalContextParallelSizes: [2, 0] }), { message: /hierarchicalContextParallelSizes\[1\]/ });
  t.throws(() => planMegatronGroups(8, { tensorParallelSize: 2 } as unknown as MegatronOptions), {
    instanceOf: TypeError, code: 'ERR_MULTIRANK_INVALID_ARG_VALUE', message: /options key.*"tensorParallelSize"/,
  });
  t.throws(() => planMegatronGroups(8, { order: 5 } as unknown as MegatronOptions), { instanceOf: TypeError, message: /options\.order/ });
});
