/**
 * `multirank/topology`: pure functions that plan the rank groups of Megatron-LM, vLLM and FastVideo
 * exactly as upstream creates them, and draw them. No threads, no I/O.
 */
export { generateMaskedOrthogonalRankGroups } from './orthogonal.js';
export { RankGenerator, RANK_GENERATOR_AXES, injectGtpRematAxis } from './rank-generator.js';
export type { RankGeneratorAxis, RankGeneratorOptions, GetRanksOptions } from './rank-generator.js';
export {
  createHierarchicalGroups,
  createHybridDpCpGroups,
  hybridDpCpGroupSizes,
  defaultEmbeddingRanks,
  defaultPositionEmbeddingRanks,
} from './hierarchical.js';
export { planMegatronGroups, MEGATRON_KINDS } from './megatron.js';
export type { MegatronPlan, MegatronGroups, MegatronFlatKind, MegatronLevelKind } from './megatron.js';
export { MEGATRON_OPTION_KEYS } from './megatron-options.js';
export { planMegatronAllGatherGroups } from './megatron-extra-groups.js';
export type { MegatronAllGatherGroups, MegatronAllGatherSizes } from './megatron-extra-groups.js';
export type { MegatronOptions, MegatronSizes, EmbeddingRanksFn } from './megatron-options.js';
export type { MegatronRankGroups, MegatronRankInfo, MegatronVirtualStage } from './megatron-rank-info.js';
export { planVllmGroups, VLLM_KINDS, VLLM_OPTION_KEYS } from './vllm.js';
export type { VllmPlan, VllmGroups, VllmKind, VllmOptions, VllmSizes } from './vllm.js';
export {
  planFastVideoGroups,
  initializeTensorParallelGroup,
  initializeSequenceParallelGroup,
  FASTVIDEO_KINDS,
} from './fastvideo.js';
export type { FastVideoPlan, FastVideoKind, FastVideoOptions, NamedGroups } from './fastvideo.js';
export type { GroupCoordinatorInfo } from './coordinator-info.js';
export { toLayoutView, describeGroups } from './layout-view.js';
export type { LayoutView, LayoutPanel, TopologyPlan } from './layout-view.js';
export { renderText, renderCoordinateGrid } from './render-text.js';
export { renderSvg, escapeXml, groupColour, gridColumns } from './svg.js';
export { toJson } from './json.js';
