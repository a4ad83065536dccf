/**
 * The public surface of multirank/vllm, multirank/megatron and multirank/fastvideo: every module-level
 * function of upstream's parallel_state (the names listed in the seeds, in camelCase) is exported, save
 * the ones named below with the reason, and every export is an upstream name or a listed addition. A
 * change to either list is deliberate.
 */
import test from 'ava';
import * as fastvideo from '../../src/state/fastvideo.js';
import * as megatron from '../../src/state/megatron.js';
import * as vllm from '../../src/state/vllm.js';

const camel = (snake: string) => snake.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

interface Surface {
  module: Record<string, unknown>;
  upstream: string[];
  /** Upstream names not offered, with the reason. */
  skipped: Record<string, string>;
  /** Exports that are not upstream names. */
  additions: string[];
}

const SURFACES: Record<string, Surface> = {
  vllm: {
    module: vllm,
    upstream: [
      'get_world_group', 'init_model_parallel_group', 'get_tp_group', 'get_tensor_model_parallel_group', 'get_dcp_group',
      'get_context_model_parallel_group', 'get_pp_group', 'get_pipeline_model_parallel_group', 'get_dp_group', 'get_ep_group',
      'get_pcp_group', 'get_all_model_groups', 'init_distributed_environment', 'initialize_model_parallel',
      'ensure_model_parallel_initialized', 'model_parallel_is_initialized', 'patch_tensor_parallel_group',
      'get_tensor_model_parallel_world_size', 'get_tensor_model_parallel_rank', 'get_decode_context_model_parallel_world_size',
      'get_decode_context_model_parallel_rank', 'get_node_count', 'destroy_model_parallel', 'destroy_distributed_environment',
      'cleanup_dist_env_and_memory', 'in_the_same_node_as', 'is_global_first_rank', 'is_local_first_rank',
      // communication_op.py
      'tensor_model_parallel_all_reduce', 'tensor_model_parallel_all_gather', 'tensor_model_parallel_reduce_scatter',
      'tensor_model_parallel_gather', 'broadcast_tensor_dict', 'init_world_group',
      // the named tuple
      'TensorMetadata',
    ],
    skipped: {
      graph_capture: 'CUDA graph capture has no CPU-threads counterpart',
      set_custom_all_reduce: 'the CUDA custom all-reduce is not part of the threads backend',
      prepare_communication_buffer_for_model: 'torch.nn.Module specific',
    },
    additions: ['getPipelineModelParallelWorldSize', 'getPipelineModelParallelRank'],
  },
  megatron: {
    module: megatron,
    upstream: [
      'create_group', 'generate_masked_orthogonal_rank_groups', 'create_hierarchical_groups', 'default_embedding_ranks',
      'default_position_embedding_ranks', 'initialize_model_parallel', 'is_initialized', 'is_unitialized',
      'model_parallel_is_initialized', 'get_model_parallel_group', 'get_tensor_model_parallel_group',
      'get_pipeline_model_parallel_group', 'get_data_parallel_group', 'get_data_parallel_group_gloo', 'get_context_parallel_group',
      'get_context_parallel_global_ranks', 'get_hierarchical_context_parallel_groups', 'get_hybrid_data_context_parallel_groups',
      'get_embedding_group', 'get_position_embedding_group', 'get_amax_reduction_group', 'get_tensor_and_data_parallel_group',
      'get_tensor_and_context_parallel_group', 'set_tensor_model_parallel_world_size', 'set_pipeline_model_parallel_world_size',
      'set_virtual_pipeline_model_parallel_world_size', 'get_tensor_model_parallel_world_size',
      'get_pipeline_model_parallel_world_size', 'set_tensor_model_parallel_rank', 'set_pipeline_model_parallel_rank',
      'get_tensor_model_parallel_rank', 'get_pipeline_model_parallel_rank', 'is_pipeline_first_stage', 'is_pipeline_last_stage',
      'is_rank_in_embedding_group', 'is_rank_in_position_embedding_group', 'get_virtual_pipeline_model_parallel_rank',
      'set_virtual_pipeline_model_parallel_rank', 'get_virtual_pipeline_model_parallel_world_size',
      'get_tensor_model_parallel_src_rank', 'get_model_parallel_src_rank', 'get_data_parallel_src_rank',
      'get_pipeline_model_parallel_first_rank', 'get_pipeline_model_parallel_last_rank', 'get_pipeline_model_parallel_next_rank',
      'get_pipeline_model_parallel_prev_rank', 'get_data_parallel_world_size', 'set_data_parallel_rank', 'get_data_parallel_rank',
      'get_context_parallel_world_size', 'get_context_parallel_rank', 'get_tensor_and_context_parallel_world_size',
      'get_tensor_and_context_parallel_rank', 'get_expert_model_parallel_group', 'get_expert_model_parallel_src_rank',
      'get_expert_model_parallel_world_size', 'set_expert_model_parallel_world_size', 'get_expert_model_parallel_rank',
      'set_expert_model_parallel_rank', 'get_expert_tensor_parallel_group', 'get_expert_tensor_parallel_world_size',
      'set_expert_tensor_parallel_world_size', 'get_expert_tensor_parallel_rank', 'set_expert_tensor_parallel_rank',
      'get_expert_tensor_and_model_parallel_group', 'get_expert_tensor_and_model_parallel_world_size',
      'get_expert_tensor_and_model_parallel_rank', 'get_expert_tensor_model_pipeline_parallel_group',
      'get_expert_data_parallel_group', 'get_data_modulo_expert_parallel_group', 'get_expert_data_parallel_group_gloo',
      'get_expert_data_parallel_rank', 'get_expert_data_parallel_world_size', 'get_intra_distributed_optimizer_instance_group',
      'get_inter_distributed_optimizer_instance_group', 'get_global_memory_buffer', 'destroy_global_memory_buffer',
      'get_all_ranks', 'destroy_model_parallel', 'get_nccl_options', 'update_pg_timeout', 'overwrite_nccl_comm_cfgs',
      'create_all_gather_groups',
      // process_groups_config.py
      'ProcessGroupCollection',
    ],
    skipped: {
      _set_global_memory_buffer: 'private; initializeModelParallel creates the buffer',
      _set_global_symmetric_memory_buffer: 'private, torch symmetric memory',
      get_global_symmetric_memory_buffer: 'torch symmetric memory (NVSHMEM) has no CPU-threads counterpart',
      destroy_global_symmetric_memory_buffer: 'torch symmetric memory',
    },
    additions: [
      'RankGenerator', 'GlobalMemoryBuffer', 'initDistributedEnvironment', 'destroyDistributedEnvironment', 'getWorldGroup',
      'PROCESS_GROUP_COLLECTION_FIELDS',
    ],
  },
  fastvideo: {
    module: fastvideo,
    upstream: [
      'get_world_group', 'get_tp_group', 'get_sp_group', 'get_dp_group', 'init_distributed_environment', 'initialize_model_parallel',
      'get_sp_world_size', 'get_sp_parallel_rank', 'get_world_size', 'get_world_rank', 'get_dp_world_size', 'get_dp_rank',
      'get_local_torch_device', 'maybe_init_distributed_environment_and_model_parallel', 'model_parallel_is_initialized',
      'patch_tensor_parallel_group', 'get_tp_world_size', 'get_tp_rank', 'destroy_model_parallel', 'destroy_distributed_environment',
      'cleanup_dist_env_and_memory', 'get_same_node_ranks', 'is_the_same_node_as', 'initialize_tensor_parallel_group',
      'initialize_sequence_parallel_group',
      // named in upstream's docs (ensure_model_parallel_initialized was defined until 46e7a15e)
      'ensure_model_parallel_initialized', 'patch_sequence_parallel_group',
    ],
    skipped: {
      init_world_group: 'initDistributedEnvironment creates the world group',
      init_model_parallel_group: 'initializeTensorParallelGroup / initializeSequenceParallelGroup make extra groups',
      set_custom_all_reduce: 'the CUDA custom all-reduce is not part of the threads backend',
    },
    additions: [
      'DistributedAutograd',
      'getTensorModelParallelWorldSize', 'getTensorModelParallelRank', 'getSequenceModelParallelWorldSize',
      'getSequenceModelParallelRank', 'getDataParallelWorldSize', 'getDataParallelRank',
    ],
  },
};

for (const [name, surface] of Object.entries(SURFACES)) {
  test(`multirank/${name} exports upstream's module-level functions and nothing unlisted`, (t) => {
    const exported = Object.keys(surface.module);
    for (const snake of surface.upstream) {
      t.is(typeof surface.module[camel(snake)], 'function', `${snake} -> ${camel(snake)}`);
    }
    for (const snake of Object.keys(surface.skipped)) t.false(exported.includes(camel(snake)), `${snake} is listed as skipped`);
    const known = new Set([...surface.upstream.map(camel), ...surface.additions]);
    t.deepEqual(exported.filter((e) => !known.has(e)), []);
    t.is(exported.length, known.size);
  });
}
