// The vendor-neutral calls: one switch on the vendor, then the vendor's own entry point. What differs:
// HCCL passes the root info by pointer with the rank count first, broadcasts in place from one buffer,
// and has no abort (destroying a communicator ends it); ACL copies take the destination's capacity.
#include <cstring>

#include "library.h"

namespace mr {

size_t idBytes(const Library &L) { return L.vendor == kNccl ? kNcclIdBytes : kHcclIdBytes; }

int uniqueId(const Library &L, void *out) {
  if (L.vendor == kNccl) return L.nccl.getUniqueId(static_cast<NcclUniqueId *>(out));
  return L.hccl.getRootInfo(out);
}

int initRank(const Library &L, Ptr *comm, int nranks, const void *id, int rank) {
  if (L.vendor == kHccl) return L.hccl.commInitRootInfo(uint32_t(nranks), id, uint32_t(rank), comm);
  NcclUniqueId copy;
  std::memcpy(copy.internal, id, kNcclIdBytes);
  return L.nccl.commInitRank(comm, nranks, copy, rank);
}

int allReduce(const Library &L, Ptr comm, Ptr stream, const void *send, void *recv, size_t n, int dtype, int op) {
  if (L.vendor == kNccl) return L.nccl.allReduce(send, recv, n, dtype, op, comm, stream);
  return L.hccl.allReduce(const_cast<void *>(send), recv, n, dtype, op, comm, stream);
}

int allGather(const Library &L, Ptr comm, Ptr stream, const void *send, void *recv, size_t n, int dtype) {
  if (L.vendor == kNccl) return L.nccl.allGather(send, recv, n, dtype, comm, stream);
  return L.hccl.allGather(const_cast<void *>(send), recv, n, dtype, comm, stream);
}

int reduceScatter(const Library &L, Ptr comm, Ptr stream, const void *send, void *recv, size_t n, int dtype, int op) {
  if (L.vendor == kNccl) return L.nccl.reduceScatter(send, recv, n, dtype, op, comm, stream);
  return L.hccl.reduceScatter(const_cast<void *>(send), recv, n, dtype, op, comm, stream);
}

int broadcast(const Library &L, Ptr comm, Ptr stream, const void *send, void *recv, size_t n, int dtype, int root) {
  if (L.vendor == kNccl) return L.nccl.broadcast(send, recv, n, dtype, root, comm, stream);
  (void)send;  // HCCL broadcasts in place: the caller passes the same buffer twice
  return L.hccl.broadcast(recv, n, dtype, uint32_t(root), comm, stream);
}

int reduce(const Library &L, Ptr comm, Ptr stream, const void *send, void *recv, size_t n, int dtype, int op, int root) {
  if (L.vendor == kNccl) return L.nccl.reduce(send, recv, n, dtype, op, root, comm, stream);
  return L.hccl.reduce(const_cast<void *>(send), recv, n, dtype, op, uint32_t(root), comm, stream);
}

int sendTo(const Library &L, Ptr comm, Ptr stream, const void *buf, size_t n, int dtype, int peer) {
  if (L.vendor == kNccl) return L.nccl.send(buf, n, dtype, peer, comm, stream);
  return L.hccl.send(const_cast<void *>(buf), n, dtype, uint32_t(peer), comm, stream);
}

int recvFrom(const Library &L, Ptr comm, Ptr stream, void *buf, size_t n, int dtype, int peer) {
  if (L.vendor == kNccl) return L.nccl.recv(buf, n, dtype, peer, comm, stream);
  return L.hccl.recv(buf, n, dtype, uint32_t(peer), comm, stream);
}

// HCCL_E_NOT_SUPPORT when the library has no group calls.
int groupStart(const Library &L) {
  if (L.vendor == kNccl) return L.nccl.groupStart();
  return L.hccl.groupStart != nullptr ? L.hccl.groupStart() : 5;
}

int groupEnd(const Library &L) {
  if (L.vendor == kNccl) return L.nccl.groupEnd();
  return L.hccl.groupEnd != nullptr ? L.hccl.groupEnd() : 5;
}

int asyncError(const Library &L, Ptr comm) {
  int error = 0;
  if (L.vendor == kNccl) {
    int rc = L.nccl.commGetAsyncError(comm, &error);
    if (rc != 0) return rc;
    return error == 7 ? 0 : error;  // ncclInProgress: a non-blocking operation still running
  }
  if (L.hccl.getCommAsyncError == nullptr) return 0;
  int rc = L.hccl.getCommAsyncError(comm, &error);
  return rc != 0 ? rc : error;
}

int abortComm(const Library &L, Ptr comm) {
  return L.vendor == kNccl ? L.nccl.commAbort(comm) : L.hccl.commDestroy(comm);
}

int destroyComm(const Library &L, Ptr comm) {
  return L.vendor == kNccl ? L.nccl.commDestroy(comm) : L.hccl.commDestroy(comm);
}

std::string errorText(const Library &L, int code, Ptr comm) {
  std::string text = L.vendor == kNccl ? L.nccl.getErrorString(code) : L.hccl.getErrorString(code);
  const char *detail = nullptr;
  if (L.vendor == kNccl && L.nccl.getLastError != nullptr) detail = L.nccl.getLastError(comm);
  if (L.vendor == kHccl && L.acl.getRecentErrMsg != nullptr) detail = L.acl.getRecentErrMsg();
  if (detail != nullptr && detail[0] != '\0') text += std::string(" (") + detail + ")";
  return text;
}

int setDevice(const Library &L, int device) {
  return L.vendor == kNccl ? L.cuda.setDevice(device) : L.acl.setDevice(device);
}

int deviceCount(const Library &L, int *count) {
  if (L.vendor == kNccl) return L.cuda.getDeviceCount(count);
  uint32_t n = 0;
  int rc = L.acl.getDeviceCount(&n);
  *count = int(n);
  return rc;
}

int deviceMalloc(const Library &L, void **ptr, size_t bytes) {
  return L.vendor == kNccl ? L.cuda.malloc(ptr, bytes) : L.acl.malloc(ptr, bytes, 0);
}

int deviceFree(const Library &L, void *ptr) { return L.vendor == kNccl ? L.cuda.free(ptr) : L.acl.free(ptr); }

int copy(const Library &L, void *dst, const void *src, size_t bytes, CopyKind kind) {
  if (bytes == 0) return 0;
  return L.vendor == kNccl ? L.cuda.memcpy(dst, src, bytes, kind) : L.acl.memcpy(dst, bytes, src, bytes, kind);
}

int copyAsync(const Library &L, Ptr stream, void *dst, const void *src, size_t bytes, CopyKind kind) {
  if (bytes == 0) return 0;
  if (L.vendor == kNccl) return L.cuda.memcpyAsync(dst, src, bytes, kind, stream);
  return L.acl.memcpyAsync(dst, bytes, src, bytes, kind, stream);
}

int copy2dAsync(const Library &L, Ptr stream, void *dst, size_t dpitch, const void *src, size_t spitch, size_t width,
                size_t height) {
  if (width == 0 || height == 0) return 0;
  if (L.vendor == kNccl) return L.cuda.memcpy2DAsync(dst, dpitch, src, spitch, width, height, kDeviceToDevice, stream);
  return L.acl.memcpy2dAsync(dst, dpitch, src, spitch, width, height, kDeviceToDevice, stream);
}

int fill(const Library &L, void *ptr, int value, size_t bytes) {
  if (bytes == 0) return 0;
  return L.vendor == kNccl ? L.cuda.memset(ptr, value, bytes) : L.acl.memset(ptr, bytes, value, bytes);
}

int streamCreate(const Library &L, Ptr *stream) {
  // cudaStreamNonBlocking: the stream does not synchronise with the legacy default stream.
  return L.vendor == kNccl ? L.cuda.streamCreateWithFlags(stream, 1) : L.acl.createStream(stream);
}

int streamDestroy(const Library &L, Ptr stream) {
  return L.vendor == kNccl ? L.cuda.streamDestroy(stream) : L.acl.destroyStream(stream);
}

int streamQuery(const Library &L, Ptr stream) {
  constexpr int kCudaErrorNotReady = 600;
  if (L.vendor == kNccl) {
    int rc = L.cuda.streamQuery(stream);
    return rc == 0 ? 0 : rc == kCudaErrorNotReady ? 1 : -rc;
  }
  int status = 0;
  int rc = L.acl.streamQuery(stream, &status);
  return rc != 0 ? -rc : status == 0 ? 0 : 1;
}

std::string runtimeErrorText(const Library &L, int code) {
  if (L.vendor == kNccl) return L.cuda.getErrorString(code);
  const char *detail = L.acl.getRecentErrMsg != nullptr ? L.acl.getRecentErrMsg() : nullptr;
  return "ACL error " + std::to_string(code) + (detail != nullptr && detail[0] ? std::string(": ") + detail : "");
}

int eventCreate(const Library &L, Ptr *event) {
  return L.vendor == kNccl ? L.cuda.eventCreate(event) : L.acl.createEvent(event);
}

int eventRecord(const Library &L, Ptr event, Ptr stream) {
  return L.vendor == kNccl ? L.cuda.eventRecord(event, stream) : L.acl.recordEvent(event, stream);
}

int eventElapsed(const Library &L, Ptr start, Ptr end, float *ms) {
  int rc = L.vendor == kNccl ? L.cuda.eventSynchronize(end) : L.acl.synchronizeEvent(end);
  if (rc != 0) return rc;
  return L.vendor == kNccl ? L.cuda.eventElapsedTime(ms, start, end) : L.acl.eventElapsedTime(ms, start, end);
}

int eventDestroy(const Library &L, Ptr event) {
  return L.vendor == kNccl ? L.cuda.eventDestroy(event) : L.acl.destroyEvent(event);
}

}  // namespace mr
