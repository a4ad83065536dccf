/** Where `npm run build` puts the CPU shims (native/build/Release/). */
import { fileURLToPath } from 'node:url';

const release = new URL('../../../native/build/Release/', import.meta.url);
export const NCCL_SHIM = fileURLToPath(new URL('libnccl_shim.so', release));
export const HCCL_SHIM = fileURLToPath(new URL('libhccl_shim.so', release));
