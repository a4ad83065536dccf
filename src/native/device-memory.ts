/**
 * Device memory for tensors on `cuda:N` (the CUDA runtime next to NCCL) and `npu:N` (ACL next to HCCL),
 * through the native addon. Importing this module registers both kinds with the tensor layer; the
 * libraries load on the first device tensor, and a missing one makes that tensor's creation throw why.
 */
import { registerDeviceMemory, type DeviceMemory } from '../tensor/device.js';
import { loadVendor, type VendorName } from './vendors.js';

/** The device memory of a vendor's runtime (loads the vendor's libraries). */
export function vendorMemory(vendor: VendorName): DeviceMemory {
  const { addon: a, code: v } = loadVendor(vendor);
  return {
    alloc: (index, bytes) => a.malloc(v, index, bytes),
    free: (index, ptr) => a.free(v, index, ptr),
    upload: (index, ptr, src) => a.upload(v, index, ptr, src),
    download: (index, dst, ptr) => a.download(v, index, dst, ptr),
    copy: (index, dst, src, bytes) => a.copyDevice(v, index, dst, src, bytes),
    zero: (index, ptr, bytes) => a.fill(v, index, ptr, 0, bytes),
  };
}

registerDeviceMemory('cuda', () => vendorMemory('nccl'));
registerDeviceMemory('npu', () => vendorMemory('hccl'));
