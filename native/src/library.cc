// Loading the vendor libraries: dlopen each candidate path in order, bind the symbols, check the version.
// The first candidate pair that passes is kept for the life of the process; a failed attempt leaves
// nothing behind, so a later call (another path in the environment) can still succeed.
#include "library.h"

#include <dlfcn.h>

#include <mutex>

namespace mr {
namespace {

Library libraries[2];
std::mutex load_lock;

struct Symbol {
  const char *name;
  void **slot;
  bool required;
};

template <typename F>
Symbol sym(const char *name, F *slot, bool required = true) {
  return Symbol{name, reinterpret_cast<void **>(slot), required};
}

// Binds `symbols` from `handle`; returns the first missing required name, or "" when all are there.
std::string bind(void *handle, const std::vector<Symbol> &symbols) {
  for (const Symbol &s : symbols) {
    *s.slot = dlsym(handle, s.name);
    if (*s.slot == nullptr && s.required) return s.name;
  }
  return "";
}

std::vector<Symbol> ncclSymbols(NcclFns &f) {
  return {sym("ncclGetErrorString", &f.getErrorString), sym("ncclGetLastError", &f.getLastError, false),
          sym("ncclGetVersion", &f.getVersion), sym("ncclGetUniqueId", &f.getUniqueId),
          sym("ncclCommInitRank", &f.commInitRank), sym("ncclAllReduce", &f.allReduce),
          sym("ncclAllGather", &f.allGather), sym("ncclReduceScatter", &f.reduceScatter),
          sym("ncclBroadcast", &f.broadcast), sym("ncclReduce", &f.reduce), sym("ncclSend", &f.send),
          sym("ncclRecv", &f.recv), sym("ncclGroupStart", &f.groupStart), sym("ncclGroupEnd", &f.groupEnd),
          sym("ncclCommDestroy", &f.commDestroy), sym("ncclCommAbort", &f.commAbort),
          sym("ncclCommGetAsyncError", &f.commGetAsyncError)};
}

std::vector<Symbol> cudaSymbols(CudaFns &f) {
  return {sym("cudaSetDevice", &f.setDevice), sym("cudaGetDeviceCount", &f.getDeviceCount),
          sym("cudaMalloc", &f.malloc), sym("cudaFree", &f.free), sym("cudaMemcpy", &f.memcpy),
          sym("cudaMemcpyAsync", &f.memcpyAsync), sym("cudaMemcpy2DAsync", &f.memcpy2DAsync),
          sym("cudaMemset", &f.memset), sym("cudaStreamCreateWithFlags", &f.streamCreateWithFlags),
          sym("cudaStreamDestroy", &f.streamDestroy), sym("cudaStreamSynchronize", &f.streamSynchronize),
          sym("cudaStreamQuery", &f.streamQuery), sym("cudaGetErrorString", &f.getErrorString),
          sym("cudaEventCreate", &f.eventCreate), sym("cudaEventRecord", &f.eventRecord),
          sym("cudaEventSynchronize", &f.eventSynchronize), sym("cudaEventElapsedTime", &f.eventElapsedTime),
          sym("cudaEventDestroy", &f.eventDestroy)};
}

std::vector<Symbol> hcclSymbols(HcclFns &f) {
  return {sym("HcclGetErrorString", &f.getErrorString), sym("HcclGetRootInfo", &f.getRootInfo),
          sym("HcclCommInitRootInfo", &f.commInitRootInfo), sym("HcclAllReduce", &f.allReduce),
          sym("HcclBroadcast", &f.broadcast), sym("HcclAllGather", &f.allGather),
          sym("HcclReduceScatter", &f.reduceScatter), sym("HcclReduce", &f.reduce), sym("HcclSend", &f.send),
          sym("HcclRecv", &f.recv), sym("HcclCommDestroy", &f.commDestroy),
          sym("HcclGroupStart", &f.groupStart, false), sym("HcclGroupEnd", &f.groupEnd, false),
          sym("HcclGetCommAsyncError", &f.getCommAsyncError, false)};
}

std::vector<Symbol> aclSymbols(AclFns &f) {
  return {sym("aclInit", &f.init, false), sym("aclrtSetDevice", &f.setDevice),
          sym("aclrtGetDeviceCount", &f.getDeviceCount), sym("aclrtMalloc", &f.malloc), sym("aclrtFree", &f.free),
          sym("aclrtMemcpy", &f.memcpy), sym("aclrtMemcpyAsync", &f.memcpyAsync),
          sym("aclrtMemcpy2dAsync", &f.memcpy2dAsync), sym("aclrtMemset", &f.memset),
          sym("aclrtCreateStream", &f.createStream), sym("aclrtDestroyStream", &f.destroyStream),
          sym("aclrtSynchronizeStream", &f.synchronizeStream), sym("aclrtStreamQuery", &f.streamQuery),
          sym("aclGetRecentErrMsg", &f.getRecentErrMsg, false), sym("aclrtCreateEvent", &f.createEvent),
          sym("aclrtRecordEvent", &f.recordEvent), sym("aclrtSynchronizeEvent", &f.synchronizeEvent),
          sym("aclrtEventElapsedTime", &f.eventElapsedTime), sym("aclrtDestroyEvent", &f.destroyEvent)};
}

std::string dlerrorText() {
  const char *e = dlerror();
  return e != nullptr ? e : "unknown dlopen error";
}

// NCCL_VERSION(X,Y,Z): X*10000+Y*100+Z since 2.9, X*1000+Y*100+Z before.
std::string ncclVersionText(int code) {
  int major = code >= 10000 ? code / 10000 : code / 1000;
  int minor = code >= 10000 ? (code % 10000) / 100 : (code % 1000) / 100;
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(code % 100);
}

constexpr int kNcclMinimum = 21000;  // 2.10: bfloat16 and ncclAvg
constexpr int kAclRepeatInitialize = 100002;

// Opens `path` and binds `symbols`; on failure returns why (and closes what it opened).
void *open(const std::string &path, const std::vector<Symbol> &symbols, std::string &why) {
  dlerror();
  void *handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    why = dlerrorText();
    return nullptr;
  }
  std::string missing = bind(handle, symbols);
  if (!missing.empty()) {
    why = "it has no symbol " + missing + " (not this vendor's library, or too old)";
    dlclose(handle);
    return nullptr;
  }
  return handle;
}

// Checks what needs a call: NCCL's version, ACL's initialisation. Empty when fine.
std::string checkLoaded(Library &L) {
  if (L.vendor == kNccl) {
    int code = 0;
    int rc = L.nccl.getVersion(&code);
    if (rc != 0) return "ncclGetVersion failed with code " + std::to_string(rc);
    L.versionCode = code;
    L.version = ncclVersionText(code);
    if (code < kNcclMinimum || code >= 30000) {
      return "its version " + L.version + " is not supported: multirank needs NCCL 2.x from 2.10.0 on (bfloat16, avg)";
    }
    return "";
  }
  if (L.acl.init != nullptr) {
    int rc = L.acl.init(nullptr);
    if (rc != 0 && rc != kAclRepeatInitialize) return "aclInit failed with code " + std::to_string(rc);
  }
  L.version = "hccl";
  return "";
}

}  // namespace

Library &library(Vendor vendor) {
  Library &L = libraries[vendor];
  L.vendor = vendor;
  return L;
}

LoadReport load(Vendor vendor, const std::vector<std::string> &ccl, const std::vector<std::string> &runtime) {
  std::lock_guard<std::mutex> guard(load_lock);
  Library &L = library(vendor);
  LoadReport report;
  if (L.loaded.load(std::memory_order_acquire)) {
    report.ok = true;
    return report;
  }
  std::string why;
  void *rt = nullptr;
  for (const std::string &path : runtime) {
    rt = open(path, vendor == kNccl ? cudaSymbols(L.cuda) : aclSymbols(L.acl), why);
    if (rt != nullptr) {
      L.runtimePath = path;
      break;
    }
    report.tried.push_back(path + ": " + why);
  }
  if (rt == nullptr) {
    std::string skipped;
    for (const std::string &path : ccl) skipped += (skipped.empty() ? "" : ", ") + path;
    report.tried.push_back("(no runtime loaded, so the collective library was not tried: " + skipped + ")");
    return report;
  }
  for (const std::string &path : ccl) {
    void *handle = open(path, vendor == kNccl ? ncclSymbols(L.nccl) : hcclSymbols(L.hccl), why);
    if (handle != nullptr) {
      L.ccl = handle;
      L.runtime = rt;
      why = checkLoaded(L);
      if (why.empty()) {
        L.cclPath = path;
        L.shim.fault = reinterpret_cast<void (*)(Ptr, int, long)>(dlsym(handle, "multirank_shim_fault"));
        L.shim.liveAllocations = reinterpret_cast<long (*)()>(dlsym(rt, "multirank_shim_live_allocations"));
        L.loaded.store(true, std::memory_order_release);
        report.ok = true;
        return report;
      }
      dlclose(handle);
      L.ccl = nullptr;
    }
    report.tried.push_back(path + ": " + why);
  }
  dlclose(rt);
  return report;
}

}  // namespace mr
