/**
 * Points the nccl and hccl backends at multirank's CPU shims (native/build/Release/). Import it first in
 * a test file: rank threads copy the environment when the pool starts them.
 */
import { HCCL_SHIM, NCCL_SHIM } from './shim-env-paths.js';

export { HCCL_SHIM, NCCL_SHIM };

export function useShims(): void {
  process.env.MULTIRANK_NCCL_LIBRARY = NCCL_SHIM;
  process.env.MULTIRANK_CUDART_LIBRARY = NCCL_SHIM;
  process.env.MULTIRANK_HCCL_LIBRARY = HCCL_SHIM;
  process.env.MULTIRANK_ACL_LIBRARY = HCCL_SHIM;
}

useShims();
