// Device memory from JavaScript: allocate, free, copy to and from typed arrays (plain or shared memory),
// copy between device buffers, fill. Pointers travel as Numbers (device addresses are below 2^53).
// Each call makes its device current on this thread first. Synchronous: the copies use the runtime's
// blocking calls, which return once the bytes arrived.
#include "addon.h"

namespace mr {
namespace {

size_t elementBytes(napi_typedarray_type type) {
  switch (type) {
  case napi_int16_array: case napi_uint16_array: return 2;
  case napi_int32_array: case napi_uint32_array: case napi_float32_array: return 4;
  case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: return 8;
  default: return 1;
  }
}

// The bytes of a typed array (its offset applied), whether its buffer is shared or not.
uint8_t *viewBytes(const Napi::Value &value, size_t *bytes) {
  napi_typedarray_type type;
  size_t length = 0, offset = 0;
  void *data = nullptr;
  napi_value buffer;
  if (!value.IsTypedArray() ||
      napi_get_typedarray_info(value.Env(), value, &type, &length, &data, &buffer, &offset) != napi_ok) {
    throw Napi::TypeError::New(value.Env(), "expected a typed array");
  }
  *bytes = length * elementBytes(type);
  return static_cast<uint8_t *>(data);
}

void check(const Napi::Env &env, const Library &L, int rc, const std::string &what) {
  if (rc != 0) throw Napi::Error::New(env, what + " failed: " + runtimeErrorText(L, rc) + " (code " + std::to_string(rc) + ")");
}

Library &prepare(const Napi::CallbackInfo &info) {
  Library &L = loadedLibrary(info.Env(), info[0]);
  useDevice(instance(info), L, intArg(info[1]), info.Env());
  return L;
}

// malloc(vendor, device, bytes) -> pointer
Napi::Value Malloc(const Napi::CallbackInfo &info) {
  Library &L = prepare(info);
  void *ptr = nullptr;
  size_t bytes = sizeArg(info[2]);
  check(info.Env(), L, deviceMalloc(L, &ptr, bytes), "device malloc of " + std::to_string(bytes) + " bytes");
  return pointerValue(info.Env(), ptr);
}

Napi::Value Free(const Napi::CallbackInfo &info) {
  Library &L = prepare(info);
  check(info.Env(), L, deviceFree(L, pointerArg(info[2])), "device free");
  return info.Env().Undefined();
}

// upload(vendor, device, dstPointer, typedArray)
Napi::Value Upload(const Napi::CallbackInfo &info) {
  Library &L = prepare(info);
  size_t bytes = 0;
  uint8_t *src = viewBytes(info[3], &bytes);
  check(info.Env(), L, copy(L, pointerArg(info[2]), src, bytes, kHostToDevice), "copy to the device");
  return info.Env().Undefined();
}

// download(vendor, device, typedArray, srcPointer)
Napi::Value Download(const Napi::CallbackInfo &info) {
  Library &L = prepare(info);
  size_t bytes = 0;
  uint8_t *dst = viewBytes(info[2], &bytes);
  check(info.Env(), L, copy(L, dst, pointerArg(info[3]), bytes, kDeviceToHost), "copy from the device");
  return info.Env().Undefined();
}

// copyDevice(vendor, device, dst, src, bytes)
Napi::Value CopyDevice(const Napi::CallbackInfo &info) {
  Library &L = prepare(info);
  check(info.Env(), L, copy(L, pointerArg(info[2]), pointerArg(info[3]), sizeArg(info[4]), kDeviceToDevice),
        "copy between device buffers");
  return info.Env().Undefined();
}

// fill(vendor, device, pointer, byteValue, bytes)
Napi::Value Fill(const Napi::CallbackInfo &info) {
  Library &L = prepare(info);
  check(info.Env(), L, fill(L, pointerArg(info[2]), intArg(info[3]), sizeArg(info[4])), "device memset");
  return info.Env().Undefined();
}

Napi::Value DeviceCount(const Napi::CallbackInfo &info) {
  Library &L = loadedLibrary(info.Env(), info[0]);
  int count = 0;
  check(info.Env(), L, deviceCount(L, &count), "device count");
  return Napi::Number::New(info.Env(), count);
}

// liveAllocations(vendor) -> the shim's count of device allocations, or -1 for a vendor's library
Napi::Value LiveAllocations(const Napi::CallbackInfo &info) {
  Library &L = loadedLibrary(info.Env(), info[0]);
  return Napi::Number::New(info.Env(), L.shim.liveAllocations != nullptr ? double(L.shim.liveAllocations()) : -1);
}

}  // namespace

void initMemory(Napi::Env env, Napi::Object exports) {
  exports.Set("malloc", Napi::Function::New(env, Malloc, "malloc"));
  exports.Set("free", Napi::Function::New(env, Free, "free"));
  exports.Set("upload", Napi::Function::New(env, Upload, "upload"));
  exports.Set("download", Napi::Function::New(env, Download, "download"));
  exports.Set("copyDevice", Napi::Function::New(env, CopyDevice, "copyDevice"));
  exports.Set("fill", Napi::Function::New(env, Fill, "fill"));
  exports.Set("deviceCount", Napi::Function::New(env, DeviceCount, "deviceCount"));
  exports.Set("liveAllocations", Napi::Function::New(env, LiveAllocations, "liveAllocations"));
}

}  // namespace mr
