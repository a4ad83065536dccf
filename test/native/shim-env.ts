/**
 * Points the nccl and hccl backends at multirank's CPU shims (native/build/Release/). Import it first in
 * a test file: rank threads copy the environment when the pool starts them.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const release = new URL('../../../native/build/Release/', import.meta.url);
export const NCCL_SHIM = fileURLToPath(new URL('libnccl_shim.so', release));
export const HCCL_SHIM = fileURLToPath(new URL('libhccl_shim.so', release));
export const ADDON = fileURLToPath(new URL('multirank_native.node', release));

/** Whether `npm run build` built native/ here (the tests below need it; CI builds it). */
export const NATIVE_BUILT = existsSync(ADDON) && existsSync(NCCL_SHIM) && existsSync(HCCL_SHIM);

export function useShims(): void {
  process.env.MULTIRANK_NCCL_LIBRARY = NCCL_SHIM;
  process.env.MULTIRANK_CUDART_LIBRARY = NCCL_SHIM;
  process.env.MULTIRANK_HCCL_LIBRARY = HCCL_SHIM;
  process.env.MULTIRANK_ACL_LIBRARY = HCCL_SHIM;
}

useShims();
