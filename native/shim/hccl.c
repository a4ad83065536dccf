/*
 * The HCCL ABI (FastVideo's pyhccl_wrapper binds GetRootInfo, CommInitRootInfo, AllReduce, Broadcast,
 * CommDestroy, GetErrorString; the rest is hccl.h's) and the ACL runtime subset the addon uses, over the
 * shim's engine. Enum values are HCCL's and ACL's: HCCL numbers its data types differently from NCCL and
 * has no average reduction (op 4 is invalid). Root info is 4108 bytes. HcclCommDestroy of a communicator
 * with an operation still pending, or with an error, aborts it (HCCL has no abort call).
 */
#include <stdint.h>

#include "engine.h"

#define ROOT_INFO_BYTES 4108
typedef struct { char internal[ROOT_INFO_BYTES]; } HcclRootInfo;
typedef int HcclResult;
typedef shim_comm *HcclComm;
typedef shim_stream *aclrtStream;
typedef shim_event *aclrtEvent;
typedef int aclError;

enum {
  HCCL_SUCCESS = 0, HCCL_E_PARA = 1, HCCL_E_PTR = 2, HCCL_E_MEMORY = 3, HCCL_E_INTERNAL = 4, HCCL_E_NOT_SUPPORT = 5,
  HCCL_E_SYSCALL = 8, HCCL_E_TIMEOUT = 9, HCCL_E_AGAIN = 20, HCCL_E_REMOTE = 21
};
enum { ACL_SUCCESS = 0, ACL_ERROR_INVALID_PARAM = 100000, ACL_ERROR_BAD_ALLOC = 200000, ACL_ERROR_INTERNAL = 500000 };
enum { ACL_STREAM_STATUS_COMPLETE = 0, ACL_STREAM_STATUS_NOT_READY = 1 };
enum { ACL_EVENT_RECORDED_STATUS_NOT_READY = 0, ACL_EVENT_RECORDED_STATUS_COMPLETE = 1 };

/* HcclDataType numbering -> the engine's types (12 is int128, which the shim does not have). */
static const int TYPES[] = { T_I8, T_I16, T_I32, T_F16, T_F32, T_I64, T_U64, T_U8, T_U16, T_U32, T_F64, T_BF16 };
#define HCCL_TYPES ((int)(sizeof TYPES / sizeof TYPES[0]))

static HcclResult hccl_result(int status) {
  switch (status) {
  case S_OK: return HCCL_SUCCESS;
  case S_INVALID_ARGUMENT: case S_INVALID_USAGE: return HCCL_E_PARA;
  case S_INVALID_HANDLE: return HCCL_E_PTR;
  case S_NO_MEMORY: return HCCL_E_MEMORY;
  case S_REMOTE: return HCCL_E_REMOTE;
  case S_SYSTEM: return HCCL_E_TIMEOUT;
  case S_NOT_READY: return HCCL_E_AGAIN;
  default: return HCCL_E_INTERNAL;
  }
}

SHIM_EXPORT const char *HcclGetErrorString(HcclResult code) {
  switch (code) {
  case HCCL_SUCCESS: return "no error";
  case HCCL_E_PARA: return "parameter error";
  case HCCL_E_PTR: return "empty pointer";
  case HCCL_E_MEMORY: return "memory error";
  case HCCL_E_INTERNAL: return "internal error";
  case HCCL_E_NOT_SUPPORT: return "not support feature";
  case HCCL_E_TIMEOUT: return "timeout";
  case HCCL_E_AGAIN: return "try again";
  case HCCL_E_REMOTE: return "error cqe";
  default: return "unknown error";
  }
}

SHIM_EXPORT HcclResult HcclGetRootInfo(HcclRootInfo *info) {
  if (info == NULL) return hccl_result(shim_fail(S_INVALID_HANDLE, "HcclGetRootInfo: NULL argument"));
  shim_unique_id((unsigned char *)info->internal, ROOT_INFO_BYTES);
  return HCCL_SUCCESS;
}

SHIM_EXPORT HcclResult HcclCommInitRootInfo(uint32_t nranks, const HcclRootInfo *info, uint32_t rank, HcclComm *comm) {
  if (info == NULL) return hccl_result(shim_fail(S_INVALID_HANDLE, "HcclCommInitRootInfo: NULL root info"));
  if (nranks > INT32_MAX || rank > INT32_MAX) return hccl_result(shim_fail(S_INVALID_ARGUMENT, "HcclCommInitRootInfo: bad sizes"));
  return hccl_result(shim_comm_init(comm, (int)nranks, (const unsigned char *)info->internal, ROOT_INFO_BYTES, (int)rank));
}

SHIM_EXPORT HcclResult HcclGetRankSize(HcclComm comm, uint32_t *size) {
  if (comm == NULL || size == NULL) return hccl_result(shim_fail(S_INVALID_HANDLE, "HcclGetRankSize: NULL argument"));
  *size = (uint32_t)shim_comm_size(comm);
  return HCCL_SUCCESS;
}

SHIM_EXPORT HcclResult HcclGetRankId(HcclComm comm, uint32_t *rank) {
  if (comm == NULL || rank == NULL) return hccl_result(shim_fail(S_INVALID_HANDLE, "HcclGetRankId: NULL argument"));
  *rank = (uint32_t)shim_comm_rank(comm);
  return HCCL_SUCCESS;
}

static HcclResult enqueue(HcclComm comm, aclrtStream stream, int kind, const void *send, void *recv, uint64_t count,
                          int dtype, int op, uint32_t root) {
  int reduces = kind == K_ALLREDUCE || kind == K_REDUCESCATTER || kind == K_REDUCE;
  if (dtype < 0 || dtype >= HCCL_TYPES) return hccl_result(shim_fail(S_INVALID_ARGUMENT, "invalid data type %d", dtype));
  if (reduces && (op < 0 || op > 3)) return hccl_result(shim_fail(S_INVALID_ARGUMENT, "invalid reduction op %d", op));
  if (root > INT32_MAX) return hccl_result(shim_fail(S_INVALID_ARGUMENT, "invalid rank %u", root));
  return hccl_result(shim_enqueue(comm, stream, kind, send, recv, count, TYPES[dtype], reduces ? op : 0, (int)root));
}

SHIM_EXPORT HcclResult HcclAllReduce(void *send, void *recv, uint64_t count, int dtype, int op, HcclComm comm,
                                     aclrtStream stream) {
  return enqueue(comm, stream, K_ALLREDUCE, send, recv, count, dtype, op, 0);
}

SHIM_EXPORT HcclResult HcclBroadcast(void *buf, uint64_t count, int dtype, uint32_t root, HcclComm comm, aclrtStream stream) {
  return enqueue(comm, stream, K_BROADCAST, buf, buf, count, dtype, 0, root);
}

SHIM_EXPORT HcclResult HcclAllGather(void *send, void *recv, uint64_t count, int dtype, HcclComm comm, aclrtStream stream) {
  return enqueue(comm, stream, K_ALLGATHER, send, recv, count, dtype, 0, 0);
}

SHIM_EXPORT HcclResult HcclReduceScatter(void *send, void *recv, uint64_t count, int dtype, int op, HcclComm comm,
                                         aclrtStream stream) {
  return enqueue(comm, stream, K_REDUCESCATTER, send, recv, count, dtype, op, 0);
}

SHIM_EXPORT HcclResult HcclReduce(void *send, void *recv, uint64_t count, int dtype, int op, uint32_t root,
                                  HcclComm comm, aclrtStream stream) {
  return enqueue(comm, stream, K_REDUCE, send, recv, count, dtype, op, root);
}

SHIM_EXPORT HcclResult HcclSend(void *buf, uint64_t count, int dtype, uint32_t peer, HcclComm comm, aclrtStream stream) {
  return enqueue(comm, stream, K_SEND, buf, NULL, count, dtype, 0, peer);
}

SHIM_EXPORT HcclResult HcclRecv(void *buf, uint64_t count, int dtype, uint32_t peer, HcclComm comm, aclrtStream stream) {
  return enqueue(comm, stream, K_RECV, NULL, buf, count, dtype, 0, peer);
}

SHIM_EXPORT HcclResult HcclGroupStart(void) { return hccl_result(shim_group_start()); }
SHIM_EXPORT HcclResult HcclGroupEnd(void) { return hccl_result(shim_group_end()); }

SHIM_EXPORT HcclResult HcclGetCommAsyncError(HcclComm comm, HcclResult *error) {
  if (comm == NULL || error == NULL) return hccl_result(shim_fail(S_INVALID_HANDLE, "HcclGetCommAsyncError: NULL argument"));
  *error = hccl_result(shim_comm_async_error(comm));
  return HCCL_SUCCESS;
}

SHIM_EXPORT HcclResult HcclCommDestroy(HcclComm comm) {
  if (comm == NULL) return hccl_result(shim_fail(S_INVALID_HANDLE, "HcclCommDestroy: NULL communicator"));
  return hccl_result(shim_comm_abort(comm));
}

SHIM_EXPORT void multirank_shim_fault(HcclComm comm, int mode, long after) { shim_comm_fault(comm, mode, after); }
SHIM_EXPORT long multirank_shim_live_allocations(void) { return shim_live_allocations(); }

/* ---- ACL runtime subset ---- */

static aclError acl(int status) {
  switch (status) {
  case S_OK: return ACL_SUCCESS;
  case S_NO_MEMORY: return ACL_ERROR_BAD_ALLOC;
  case S_INTERNAL: return ACL_ERROR_INTERNAL;
  default: return ACL_ERROR_INVALID_PARAM;
  }
}

SHIM_EXPORT aclError aclInit(const char *config) { (void)config; return ACL_SUCCESS; }
SHIM_EXPORT aclError aclFinalize(void) { return ACL_SUCCESS; }
SHIM_EXPORT const char *aclGetRecentErrMsg(void) { return shim_last_error(); }

SHIM_EXPORT aclError aclrtGetVersion(int32_t *major, int32_t *minor, int32_t *patch) {
  if (major == NULL || minor == NULL || patch == NULL) return ACL_ERROR_INVALID_PARAM;
  *major = 1;
  *minor = 0;
  *patch = 0;
  return ACL_SUCCESS;
}

SHIM_EXPORT aclError aclrtGetDeviceCount(uint32_t *count) {
  if (count == NULL) return ACL_ERROR_INVALID_PARAM;
  *count = (uint32_t)shim_device_count();
  return ACL_SUCCESS;
}

SHIM_EXPORT aclError aclrtSetDevice(int32_t device) { return acl(shim_set_device(device)); }
SHIM_EXPORT aclError aclrtResetDevice(int32_t device) { (void)device; return ACL_SUCCESS; }

SHIM_EXPORT aclError aclrtGetDevice(int32_t *device) {
  if (device == NULL) return ACL_ERROR_INVALID_PARAM;
  *device = shim_get_device();
  return ACL_SUCCESS;
}

SHIM_EXPORT aclError aclrtMalloc(void **ptr, size_t bytes, int policy) {
  (void)policy;
  return acl(shim_malloc(ptr, bytes));
}

SHIM_EXPORT aclError aclrtFree(void *ptr) { return acl(shim_free(ptr)); }

SHIM_EXPORT aclError aclrtMemcpy(void *dst, size_t dest_max, const void *src, size_t count, int kind) {
  if (count > dest_max || kind < 0 || kind > 3) return acl(shim_fail(S_INVALID_ARGUMENT, "aclrtMemcpy: bad size or kind"));
  return acl(shim_copy(NULL, dst, src, count, 0));
}

SHIM_EXPORT aclError aclrtMemcpyAsync(void *dst, size_t dest_max, const void *src, size_t count, int kind,
                                      aclrtStream stream) {
  if (count > dest_max || kind < 0 || kind > 3) return acl(shim_fail(S_INVALID_ARGUMENT, "aclrtMemcpyAsync: bad size or kind"));
  return acl(shim_copy(stream, dst, src, count, 1));
}

SHIM_EXPORT aclError aclrtMemcpy2dAsync(void *dst, size_t dpitch, const void *src, size_t spitch, size_t width,
                                        size_t height, int kind, aclrtStream stream) {
  if (kind < 0 || kind > 3) return acl(shim_fail(S_INVALID_ARGUMENT, "aclrtMemcpy2dAsync: bad kind %d", kind));
  return acl(shim_copy2d(stream, dst, dpitch, src, spitch, width, height, 1));
}

SHIM_EXPORT aclError aclrtMemset(void *dst, size_t max, int32_t value, size_t count) {
  if (count > max) return acl(shim_fail(S_INVALID_ARGUMENT, "aclrtMemset: count over the maximum"));
  return acl(shim_memset(NULL, dst, value, count, 0));
}

SHIM_EXPORT aclError aclrtMemsetAsync(void *dst, size_t max, int32_t value, size_t count, aclrtStream stream) {
  if (count > max) return acl(shim_fail(S_INVALID_ARGUMENT, "aclrtMemsetAsync: count over the maximum"));
  return acl(shim_memset(stream, dst, value, count, 1));
}

SHIM_EXPORT aclError aclrtCreateStream(aclrtStream *stream) { return acl(shim_stream_create(stream)); }
SHIM_EXPORT aclError aclrtDestroyStream(aclrtStream stream) { return acl(shim_stream_destroy(stream)); }
SHIM_EXPORT aclError aclrtSynchronizeStream(aclrtStream stream) { return acl(shim_stream_sync(stream)); }

SHIM_EXPORT aclError aclrtStreamQuery(aclrtStream stream, int *status) {
  if (status == NULL) return ACL_ERROR_INVALID_PARAM;
  *status = shim_stream_query(stream) == S_OK ? ACL_STREAM_STATUS_COMPLETE : ACL_STREAM_STATUS_NOT_READY;
  return ACL_SUCCESS;
}

SHIM_EXPORT aclError aclrtCreateEvent(aclrtEvent *event) { return acl(shim_event_create(event)); }
SHIM_EXPORT aclError aclrtDestroyEvent(aclrtEvent event) { return acl(shim_event_destroy(event)); }
SHIM_EXPORT aclError aclrtRecordEvent(aclrtEvent event, aclrtStream stream) { return acl(shim_event_record(event, stream)); }
SHIM_EXPORT aclError aclrtSynchronizeEvent(aclrtEvent event) { return acl(shim_event_sync(event)); }

SHIM_EXPORT aclError aclrtQueryEventStatus(aclrtEvent event, int *status) {
  if (status == NULL) return ACL_ERROR_INVALID_PARAM;
  int s = shim_event_query(event);
  if (s != S_OK && s != S_NOT_READY) return acl(s);
  *status = s == S_OK ? ACL_EVENT_RECORDED_STATUS_COMPLETE : ACL_EVENT_RECORDED_STATUS_NOT_READY;
  return ACL_SUCCESS;
}

SHIM_EXPORT aclError aclrtEventElapsedTime(float *ms, aclrtEvent start, aclrtEvent end) {
  return acl(shim_event_elapsed(ms, start, end));
}
