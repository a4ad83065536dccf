// The multirank native addon: loads NCCL + the CUDA runtime, or HCCL + ACL, at run time and exposes
// device memory, communicators and collectives to JavaScript. Context-aware (Node-API): each worker
// thread that requires it gets its own instance; the loaded libraries are shared by the process.
#include "addon.h"

#include <sched.h>

namespace mr {

Instance &instance(const Napi::CallbackInfo &info) { return *info.Env().GetInstanceData<Instance>(); }

Library &loadedLibrary(const Napi::Env &env, const Napi::Value &vendor) {
  int v = vendor.As<Napi::Number>().Int32Value();
  if (v != kNccl && v != kHccl) throw Napi::TypeError::New(env, "vendor must be 0 (nccl) or 1 (hccl)");
  Library &L = library(Vendor(v));
  if (!L.loaded.load(std::memory_order_acquire)) {
    throw Napi::Error::New(env, std::string(v == kNccl ? "NCCL" : "HCCL") + " is not loaded: call load() first");
  }
  return L;
}

void useDevice(Instance &in, Library &L, int device, const Napi::Env &env) {
  if (in.currentDevice[L.vendor] == device) return;
  int rc = setDevice(L, device);
  if (rc != 0) {
    throw Napi::Error::New(env, "set device " + std::to_string(device) + " failed: " + runtimeErrorText(L, rc));
  }
  in.currentDevice[L.vendor] = device;
}

namespace {

std::vector<std::string> strings(const Napi::Value &value) {
  std::vector<std::string> out;
  Napi::Array array = value.As<Napi::Array>();
  for (uint32_t i = 0; i < array.Length(); i++) out.push_back(array.Get(i).As<Napi::String>().Utf8Value());
  return out;
}

Napi::Object describe(Napi::Env env, const Library &L) {
  Napi::Object o = Napi::Object::New(env);
  bool loaded = L.loaded.load(std::memory_order_acquire);
  o.Set("loaded", loaded);
  if (loaded) {
    o.Set("ccl", L.cclPath);
    o.Set("runtime", L.runtimePath);
    o.Set("version", L.version);
    o.Set("shim", L.shim.fault != nullptr);
  }
  return o;
}

// load(vendor, collectiveCandidates, runtimeCandidates) -> { loaded, tried, ccl?, runtime?, version?, shim? }
Napi::Value Load(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int v = info[0].As<Napi::Number>().Int32Value();
  if (v != kNccl && v != kHccl) throw Napi::TypeError::New(env, "vendor must be 0 (nccl) or 1 (hccl)");
  LoadReport report = load(Vendor(v), strings(info[1]), strings(info[2]));
  Napi::Object o = describe(env, library(Vendor(v)));
  Napi::Array tried = Napi::Array::New(env, report.tried.size());
  for (size_t i = 0; i < report.tried.size(); i++) tried.Set(uint32_t(i), report.tried[i]);
  o.Set("tried", tried);
  return o;
}

Napi::Value Info(const Napi::CallbackInfo &info) {
  int v = info[0].As<Napi::Number>().Int32Value();
  if (v != kNccl && v != kHccl) throw Napi::TypeError::New(info.Env(), "vendor must be 0 (nccl) or 1 (hccl)");
  return describe(info.Env(), library(Vendor(v)));
}

// Gives this thread's core to another runnable thread, if any (sched_yield). Rank threads that outnumber
// the cores poll with it before they sleep: a peer that is runnable then runs at once, where a futex
// wake-up costs a switch each way (src/shm/wait.ts).
Napi::Value YieldThread(const Napi::CallbackInfo &info) {
  sched_yield();
  return info.Env().Undefined();
}

}  // namespace

Napi::Object init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new Instance());
  exports.Set("abi", Napi::Number::New(env, 1));
  exports.Set("load", Napi::Function::New(env, Load, "load"));
  exports.Set("info", Napi::Function::New(env, Info, "info"));
  exports.Set("yieldThread", Napi::Function::New(env, YieldThread, "yieldThread"));
  initMemory(env, exports);
  initComm(env, exports);
  initBench(env, exports);
  initStoreServer(env, exports);
  return exports;
}

}  // namespace mr

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return mr::init(env, exports); }

NODE_API_MODULE(multirank_native, InitAddon)
