/**
 * vLLM's `vllm/distributed/communication_op.py`: collectives over this rank's tensor-parallel group
 * (the patched group while `patchTensorParallelGroup` is live). They block like every collective.
 */
import type { Tensor } from '../tensor/tensor.js';
import { distributedEnvironmentIsInitialized } from './environment.js';
import { requireGroup } from './front-end.js';

function tp() {
  return requireGroup('vllm', 'tp', 'tensor model parallel group');
}

/** Sum of `input` over the tp group. @throws ERR_MULTIRANK_NOT_INITIALIZED before initializeModelParallel(). */
export function tensorModelParallelAllReduce(input: Tensor): Tensor {
  return tp().allReduce(input);
}

/** The tp group's tensors joined along `dim` (default -1). @throws ERR_MULTIRANK_NOT_INITIALIZED */
export function tensorModelParallelAllGather(input: Tensor, dim = -1): Tensor {
  return tp().allGather(input, { dim });
}

/** This rank's slice along `dim` (default -1) of the tp group's sum. @throws ERR_MULTIRANK_NOT_INITIALIZED */
export function tensorModelParallelReduceScatter(input: Tensor, dim = -1): Tensor {
  return tp().reduceScatter(input, { dim });
}

/**
 * The tp group's tensors joined along `dim` on tp rank `dst` (default 0); null elsewhere.
 * @throws ERR_MULTIRANK_NOT_INITIALIZED
 */
export function tensorModelParallelGather(input: Tensor, dst = 0, dim = -1): Tensor | null {
  return tp().gather(input, { dst, dim });
}

/**
 * `tensorDict` of tp rank `src` (default 0) on every tp rank; without a distributed environment it is
 * returned as is (as upstream does without torch.distributed).
 * @throws ERR_MULTIRANK_NOT_INITIALIZED with an environment but before initializeModelParallel().
 */
export function broadcastTensorDict(
  tensorDict?: Record<string, unknown>, src = 0,
): Record<string, unknown> | undefined {
  if (!distributedEnvironmentIsInitialized()) return tensorDict;
  return tp().broadcastTensorDict(tensorDict, { src });
}
