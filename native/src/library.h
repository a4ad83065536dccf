// The vendor libraries, loaded at run time with dlopen (no link-time dependency on any of them), and the
// vendor-neutral calls the rest of the addon makes through them. One Library per vendor, process-wide:
// loaded once under a lock, read-only afterwards, so every rank thread uses the same function tables.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace mr {

enum Vendor { kNccl = 0, kHccl = 1 };

constexpr size_t kNcclIdBytes = 128;
constexpr size_t kHcclIdBytes = 4108;
// cudaMemcpyKind and aclrtMemcpyKind agree on these.
enum CopyKind { kHostToDevice = 1, kDeviceToHost = 2, kDeviceToDevice = 3 };

struct NcclUniqueId { char internal[kNcclIdBytes]; };
using Ptr = void *;

// The entry points, by the vendors' own signatures (int results: ncclResult_t, cudaError_t, HcclResult, aclError).
struct NcclFns {
  const char *(*getErrorString)(int);
  const char *(*getLastError)(Ptr);  // optional (NCCL >= 2.13)
  int (*getVersion)(int *);
  int (*getUniqueId)(NcclUniqueId *);
  int (*commInitRank)(Ptr *, int, NcclUniqueId, int);
  int (*allReduce)(const void *, void *, size_t, int, int, Ptr, Ptr);
  int (*allGather)(const void *, void *, size_t, int, Ptr, Ptr);
  int (*reduceScatter)(const void *, void *, size_t, int, int, Ptr, Ptr);
  int (*broadcast)(const void *, void *, size_t, int, int, Ptr, Ptr);
  int (*reduce)(const void *, void *, size_t, int, int, int, Ptr, Ptr);
  int (*send)(const void *, size_t, int, int, Ptr, Ptr);
  int (*recv)(void *, size_t, int, int, Ptr, Ptr);
  int (*groupStart)();
  int (*groupEnd)();
  int (*commDestroy)(Ptr);
  int (*commAbort)(Ptr);
  int (*commGetAsyncError)(Ptr, int *);
};

struct CudaFns {
  int (*setDevice)(int);
  int (*getDeviceCount)(int *);
  int (*malloc)(void **, size_t);
  int (*free)(void *);
  int (*memcpy)(void *, const void *, size_t, int);
  int (*memcpyAsync)(void *, const void *, size_t, int, Ptr);
  int (*memcpy2DAsync)(void *, size_t, const void *, size_t, size_t, size_t, int, Ptr);
  int (*memset)(void *, int, size_t);
  int (*streamCreateWithFlags)(Ptr *, unsigned);
  int (*streamDestroy)(Ptr);
  int (*streamSynchronize)(Ptr);
  int (*streamQuery)(Ptr);
  const char *(*getErrorString)(int);
  int (*eventCreate)(Ptr *);
  int (*eventRecord)(Ptr, Ptr);
  int (*eventSynchronize)(Ptr);
  int (*eventElapsedTime)(float *, Ptr, Ptr);
  int (*eventDestroy)(Ptr);
};

struct HcclFns {
  const char *(*getErrorString)(int);
  int (*getRootInfo)(void *);
  int (*commInitRootInfo)(uint32_t, const void *, uint32_t, Ptr *);
  int (*allReduce)(void *, void *, uint64_t, int, int, Ptr, Ptr);
  int (*broadcast)(void *, uint64_t, int, uint32_t, Ptr, Ptr);
  int (*allGather)(void *, void *, uint64_t, int, Ptr, Ptr);
  int (*reduceScatter)(void *, void *, uint64_t, int, int, Ptr, Ptr);
  int (*reduce)(void *, void *, uint64_t, int, int, uint32_t, Ptr, Ptr);
  int (*send)(void *, uint64_t, int, uint32_t, Ptr, Ptr);
  int (*recv)(void *, uint64_t, int, uint32_t, Ptr, Ptr);
  int (*commDestroy)(Ptr);
  int (*groupStart)();                    // optional
  int (*groupEnd)();                      // optional
  int (*getCommAsyncError)(Ptr, int *);   // optional
};

struct AclFns {
  int (*init)(const char *);  // optional
  int (*setDevice)(int32_t);
  int (*getDeviceCount)(uint32_t *);
  int (*malloc)(void **, size_t, int);
  int (*free)(void *);
  int (*memcpy)(void *, size_t, const void *, size_t, int);
  int (*memcpyAsync)(void *, size_t, const void *, size_t, int, Ptr);
  int (*memcpy2dAsync)(void *, size_t, const void *, size_t, size_t, size_t, int, Ptr);
  int (*memset)(void *, size_t, int32_t, size_t);
  int (*createStream)(Ptr *);
  int (*destroyStream)(Ptr);
  int (*synchronizeStream)(Ptr);
  int (*streamQuery)(Ptr, int *);
  const char *(*getRecentErrMsg)();  // optional
  int (*createEvent)(Ptr *);
  int (*recordEvent)(Ptr, Ptr);
  int (*synchronizeEvent)(Ptr);
  int (*eventElapsedTime)(float *, Ptr, Ptr);
  int (*destroyEvent)(Ptr);
};

// Test seams a CPU shim exports (absent from the vendors' libraries).
struct ShimFns {
  void (*fault)(Ptr, int, long);
  long (*liveAllocations)();
};

struct Library {
  Vendor vendor;
  std::atomic<bool> loaded{false};
  std::string cclPath, runtimePath, version;
  int versionCode = 0;
  void *ccl = nullptr, *runtime = nullptr;
  NcclFns nccl{};
  CudaFns cuda{};
  HcclFns hccl{};
  AclFns acl{};
  ShimFns shim{};
};

struct LoadReport {
  bool ok = false;
  std::vector<std::string> tried;  // "path: why it was not used", in order
};

// The process-wide library of `vendor` (loaded or not).
Library &library(Vendor vendor);
// Tries the runtime candidates, then the collective library's, in order; keeps the first pair that loads,
// has every required symbol and a supported version. Returns at once when already loaded.
LoadReport load(Vendor vendor, const std::vector<std::string> &ccl, const std::vector<std::string> &runtime);

// ---- vendor-neutral calls (results are the vendor's codes; 0 is success) ----
size_t idBytes(const Library &L);
int uniqueId(const Library &L, void *out);
int initRank(const Library &L, Ptr *comm, int nranks, const void *id, int rank);
int allReduce(const Library &L, Ptr comm, Ptr stream, const void *send, void *recv, size_t n, int dtype, int op);
int allGather(const Library &L, Ptr comm, Ptr stream, const void *send, void *recv, size_t n, int dtype);
int reduceScatter(const Library &L, Ptr comm, Ptr stream, const void *send, void *recv, size_t n, int dtype, int op);
int broadcast(const Library &L, Ptr comm, Ptr stream, const void *send, void *recv, size_t n, int dtype, int root);
int reduce(const Library &L, Ptr comm, Ptr stream, const void *send, void *recv, size_t n, int dtype, int op, int root);
int sendTo(const Library &L, Ptr comm, Ptr stream, const void *buf, size_t n, int dtype, int peer);
int recvFrom(const Library &L, Ptr comm, Ptr stream, void *buf, size_t n, int dtype, int peer);
int groupStart(const Library &L);
int groupEnd(const Library &L);
// The communicator's asynchronous error (0 while none; NCCL's "in progress" counts as none).
int asyncError(const Library &L, Ptr comm);
int abortComm(const Library &L, Ptr comm);
int destroyComm(const Library &L, Ptr comm);
std::string errorText(const Library &L, int code, Ptr comm);

int setDevice(const Library &L, int device);
int deviceCount(const Library &L, int *count);
int deviceMalloc(const Library &L, void **ptr, size_t bytes);
int deviceFree(const Library &L, void *ptr);
int copy(const Library &L, void *dst, const void *src, size_t bytes, CopyKind kind);
int copyAsync(const Library &L, Ptr stream, void *dst, const void *src, size_t bytes, CopyKind kind);
int copy2dAsync(const Library &L, Ptr stream, void *dst, size_t dpitch, const void *src, size_t spitch, size_t width,
                size_t height);
int fill(const Library &L, void *ptr, int value, size_t bytes);
int streamCreate(const Library &L, Ptr *stream);
int streamDestroy(const Library &L, Ptr stream);
// 0: every operation of the stream finished; 1: not yet; anything else: the runtime's error code, negated.
int streamQuery(const Library &L, Ptr stream);
std::string runtimeErrorText(const Library &L, int code);
int eventCreate(const Library &L, Ptr *event);
int eventRecord(const Library &L, Ptr event, Ptr stream);
// Waits for `end`, then the milliseconds between the two events on the device's clock.
int eventElapsed(const Library &L, Ptr start, Ptr end, float *ms);
int eventDestroy(const Library &L, Ptr event);

}  // namespace mr
