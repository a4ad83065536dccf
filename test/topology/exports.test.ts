/**
 * The public surface of `multirank/topology` is deliberate: this list changes only on purpose.
 */
import test from 'ava';
import * as topology from '../../src/topology/index.js';

test('multirank/topology exports exactly these names', (t) => {
  t.deepEqual(Object.keys(topology).sort(), [
    'FASTVIDEO_KINDS', 'MEGATRON_KINDS', 'MEGATRON_OPTION_KEYS', 'RANK_GENERATOR_AXES', 'RankGenerator', 'VLLM_KINDS',
    'VLLM_OPTION_KEYS', 'createHierarchicalGroups', 'createHybridDpCpGroups', 'defaultEmbeddingRanks',
    'defaultPositionEmbeddingRanks', 'describeGroups', 'escapeXml', 'generateMaskedOrthogonalRankGroups', 'gridColumns',
    'groupColour', 'hybridDpCpGroupSizes', 'initializeSequenceParallelGroup', 'initializeTensorParallelGroup',
    'injectGtpRematAxis', 'planFastVideoGroups', 'planMegatronAllGatherGroups', 'planMegatronGroups', 'planVllmGroups', 'renderCoordinateGrid',
    'renderSvg', 'renderText', 'toJson', 'toLayoutView',
  ]);
});

test('default embedding helpers follow upstream: first and last stage; first stage', (t) => {
  t.deepEqual(topology.defaultEmbeddingRanks([3, 7, 11]), [3, 11]);
  t.deepEqual(topology.defaultEmbeddingRanks([5]), [5]);
  t.deepEqual(topology.defaultPositionEmbeddingRanks([3, 7, 11]), [3]);
  t.throws(() => topology.defaultEmbeddingRanks([]), { instanceOf: RangeError });
  t.throws(() => topology.defaultPositionEmbeddingRanks([1.5]), { instanceOf: TypeError });
});

test('createHybridDpCpGroups: levels of 2, 4, ... over consecutive ranks; a short last block as upstream slices', (t) => {
  t.deepEqual(topology.createHybridDpCpGroups(0, [0, 1, 2, 3, 4, 5, 6, 7]), [
    [[0, 1], [2, 3], [4, 5], [6, 7]],
    [[0, 1, 2, 3], [4, 5, 6, 7]],
  ]);
  t.deepEqual(topology.createHybridDpCpGroups(0, [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]).at(-1), [[0, 2, 4, 6], [8, 10, 12, 14], [16, 18]]);
  t.deepEqual(topology.createHybridDpCpGroups(0, [4, 5]), []);
});
