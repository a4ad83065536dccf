/*
 * The NCCL ABI (what vLLM's pynccl_wrapper binds, plus ncclGetLastError and the comm queries) and the
 * CUDA runtime subset the addon uses, over the shim's engine. Enum values are NCCL's and CUDA's.
 * Test seams: MULTIRANK_SHIM_NCCL_VERSION overrides the version ncclGetVersion reports;
 * multirank_shim_fault(comm, mode, after) makes a communicator's collectives after `after` more hang
 * (mode 1) or fail (mode 2); multirank_shim_live_allocations() counts device allocations.
 */
#include <stdlib.h>

#include "engine.h"

typedef struct { char internal[128]; } ncclUniqueId;
typedef int ncclResult_t;
typedef shim_comm *ncclComm_t;
typedef shim_stream *cudaStream_t;
typedef shim_event *cudaEvent_t;
typedef int cudaError_t;

enum {
  ncclSuccess, ncclUnhandledCudaError, ncclSystemError, ncclInternalError, ncclInvalidArgument, ncclInvalidUsage,
  ncclRemoteError, ncclInProgress, ncclNumResults
};
enum {
  cudaSuccess = 0, cudaErrorInvalidValue = 1, cudaErrorMemoryAllocation = 2, cudaErrorInvalidDevice = 101,
  cudaErrorInvalidResourceHandle = 400, cudaErrorNotReady = 600, cudaErrorInvalidMemcpyDirection = 21
};

/* NCCL's ncclDataType_t numbering -> the engine's types. */
static const int TYPES[] = { T_I8, T_U8, T_I32, T_U32, T_I64, T_U64, T_F16, T_F32, T_F64, T_BF16, T_F8E4M3, T_F8E5M2 };
#define NCCL_TYPES ((int)(sizeof TYPES / sizeof TYPES[0]))
/* NCCL's ncclRedOp_t numbering: sum, prod, max, min, avg. */
static const int OPS[] = { OP_SUM, OP_PROD, OP_MAX, OP_MIN, OP_AVG };

static ncclResult_t nccl_result(int status) {
  switch (status) {
  case S_OK: return ncclSuccess;
  case S_INVALID_ARGUMENT: case S_INVALID_HANDLE: return ncclInvalidArgument;
  case S_INVALID_USAGE: return ncclInvalidUsage;
  case S_REMOTE: return ncclRemoteError;
  case S_SYSTEM: case S_NO_MEMORY: return ncclSystemError;
  case S_NOT_READY: return ncclInProgress;
  default: return ncclInternalError;
  }
}

static int engine_type(int dtype) { return dtype >= 0 && dtype < NCCL_TYPES ? TYPES[dtype] : -1; }
static int engine_op(int op) { return op >= 0 && op < 5 ? OPS[op] : -1; }

SHIM_EXPORT const char *ncclGetErrorString(ncclResult_t result) {
  static const char *text[] = {
    "no error", "unhandled cuda error (run with NCCL_DEBUG=INFO for details)", "unhandled system error",
    "internal error - please report this issue to the NCCL developers", "invalid argument", "invalid usage",
    "remote process exited or there was a network error", "NCCL operation in progress",
  };
  return result >= 0 && result < ncclNumResults ? text[result] : "unknown result code";
}

SHIM_EXPORT const char *ncclGetLastError(ncclComm_t comm) {
  (void)comm;
  return shim_last_error();
}

SHIM_EXPORT ncclResult_t ncclGetVersion(int *version) {
  if (version == NULL) return nccl_result(shim_fail(S_INVALID_ARGUMENT, "ncclGetVersion: NULL argument"));
  const char *text = getenv("MULTIRANK_SHIM_NCCL_VERSION");
  *version = text != NULL ? atoi(text) : 22105; /* reports itself as 2.21.5 */
  return ncclSuccess;
}

SHIM_EXPORT ncclResult_t ncclGetUniqueId(ncclUniqueId *id) {
  if (id == NULL) return nccl_result(shim_fail(S_INVALID_ARGUMENT, "ncclGetUniqueId: NULL argument"));
  shim_unique_id((unsigned char *)id->internal, sizeof id->internal);
  return ncclSuccess;
}

SHIM_EXPORT ncclResult_t ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank) {
  return nccl_result(shim_comm_init(comm, nranks, (const unsigned char *)id.internal, sizeof id.internal, rank));
}

SHIM_EXPORT ncclResult_t ncclCommCount(const ncclComm_t comm, int *count) {
  if (comm == NULL || count == NULL) return nccl_result(shim_fail(S_INVALID_ARGUMENT, "ncclCommCount: NULL argument"));
  *count = shim_comm_size(comm);
  return ncclSuccess;
}

SHIM_EXPORT ncclResult_t ncclCommUserRank(const ncclComm_t comm, int *rank) {
  if (comm == NULL || rank == NULL) return nccl_result(shim_fail(S_INVALID_ARGUMENT, "ncclCommUserRank: NULL argument"));
  *rank = shim_comm_rank(comm);
  return ncclSuccess;
}

static ncclResult_t enqueue(ncclComm_t comm, cudaStream_t stream, int kind, const void *send, void *recv,
                            size_t count, int dtype, int op, int root) {
  int type = engine_type(dtype), engine = kind == K_ALLREDUCE || kind == K_REDUCESCATTER || kind == K_REDUCE ? engine_op(op) : 0;
  if (type < 0) return nccl_result(shim_fail(S_INVALID_ARGUMENT, "invalid data type %d", dtype));
  if (engine < 0) return nccl_result(shim_fail(S_INVALID_ARGUMENT, "invalid reduction operation %d", op));
  return nccl_result(shim_enqueue(comm, stream, kind, send, recv, count, type, engine, root));
}

SHIM_EXPORT ncclResult_t ncclAllReduce(const void *send, void *recv, size_t count, int dtype, int op, ncclComm_t comm,
                                       cudaStream_t stream) {
  return enqueue(comm, stream, K_ALLREDUCE, send, recv, count, dtype, op, 0);
}

SHIM_EXPORT ncclResult_t ncclReduce(const void *send, void *recv, size_t count, int dtype, int op, int root,
                                    ncclComm_t comm, cudaStream_t stream) {
  return enqueue(comm, stream, K_REDUCE, send, recv, count, dtype, op, root);
}

SHIM_EXPORT ncclResult_t ncclBroadcast(const void *send, void *recv, size_t count, int dtype, int root,
                                       ncclComm_t comm, cudaStream_t stream) {
  return enqueue(comm, stream, K_BROADCAST, send, recv, count, dtype, 0, root);
}

SHIM_EXPORT ncclResult_t ncclBcast(void *buf, size_t count, int dtype, int root, ncclComm_t comm, cudaStream_t stream) {
  return enqueue(comm, stream, K_BROADCAST, buf, buf, count, dtype, 0, root);
}

SHIM_EXPORT ncclResult_t ncclAllGather(const void *send, void *recv, size_t sendcount, int dtype, ncclComm_t comm,
                                       cudaStream_t stream) {
  return enqueue(comm, stream, K_ALLGATHER, send, recv, sendcount, dtype, 0, 0);
}

SHIM_EXPORT ncclResult_t ncclReduceScatter(const void *send, void *recv, size_t recvcount, int dtype, int op,
                                           ncclComm_t comm, cudaStream_t stream) {
  return enqueue(comm, stream, K_REDUCESCATTER, send, recv, recvcount, dtype, op, 0);
}

SHIM_EXPORT ncclResult_t ncclSend(const void *buf, size_t count, int dtype, int peer, ncclComm_t comm,
                                  cudaStream_t stream) {
  return enqueue(comm, stream, K_SEND, buf, NULL, count, dtype, 0, peer);
}

SHIM_EXPORT ncclResult_t ncclRecv(void *buf, size_t count, int dtype, int peer, ncclComm_t comm, cudaStream_t stream) {
  return enqueue(comm, stream, K_RECV, NULL, buf, count, dtype, 0, peer);
}

SHIM_EXPORT ncclResult_t ncclGroupStart(void) { return nccl_result(shim_group_start()); }
SHIM_EXPORT ncclResult_t ncclGroupEnd(void) { return nccl_result(shim_group_end()); }

SHIM_EXPORT ncclResult_t ncclCommGetAsyncError(ncclComm_t comm, ncclResult_t *error) {
  if (comm == NULL || error == NULL) return nccl_result(shim_fail(S_INVALID_ARGUMENT, "ncclCommGetAsyncError: NULL argument"));
  *error = nccl_result(shim_comm_async_error(comm));
  return ncclSuccess;
}

SHIM_EXPORT ncclResult_t ncclCommAbort(ncclComm_t comm) { return nccl_result(shim_comm_abort(comm)); }
SHIM_EXPORT ncclResult_t ncclCommDestroy(ncclComm_t comm) { return nccl_result(shim_comm_destroy(comm)); }

SHIM_EXPORT void multirank_shim_fault(ncclComm_t comm, int mode, long after) { shim_comm_fault(comm, mode, after); }
SHIM_EXPORT long multirank_shim_live_allocations(void) { return shim_live_allocations(); }

/* ---- CUDA runtime subset ---- */

static cudaError_t cuda_error(int status) {
  switch (status) {
  case S_OK: return cudaSuccess;
  case S_NOT_READY: return cudaErrorNotReady;
  case S_NO_MEMORY: return cudaErrorMemoryAllocation;
  case S_INVALID_HANDLE: return cudaErrorInvalidResourceHandle;
  default: return cudaErrorInvalidValue;
  }
}

static __thread cudaError_t last_cuda_error;

static cudaError_t cuda(int status) {
  cudaError_t error = cuda_error(status);
  if (error != cudaSuccess && error != cudaErrorNotReady) last_cuda_error = error;
  return error;
}

SHIM_EXPORT const char *cudaGetErrorString(cudaError_t error) {
  switch (error) {
  case cudaSuccess: return "no error";
  case cudaErrorInvalidValue: return "invalid argument";
  case cudaErrorMemoryAllocation: return "out of memory";
  case cudaErrorInvalidDevice: return "invalid device ordinal";
  case cudaErrorInvalidResourceHandle: return "invalid resource handle";
  case cudaErrorNotReady: return "device not ready";
  case cudaErrorInvalidMemcpyDirection: return "invalid copy direction for memcpy";
  default: return "unrecognized error code";
  }
}

SHIM_EXPORT cudaError_t cudaGetLastError(void) {
  cudaError_t error = last_cuda_error;
  last_cuda_error = cudaSuccess;
  return error;
}

SHIM_EXPORT cudaError_t cudaRuntimeGetVersion(int *version) {
  if (version == NULL) return cuda(S_INVALID_ARGUMENT);
  *version = 12040;
  return cudaSuccess;
}

SHIM_EXPORT cudaError_t cudaGetDeviceCount(int *count) {
  if (count == NULL) return cuda(S_INVALID_ARGUMENT);
  *count = shim_device_count();
  return cudaSuccess;
}

SHIM_EXPORT cudaError_t cudaSetDevice(int device) {
  return shim_set_device(device) == S_OK ? cudaSuccess : (last_cuda_error = cudaErrorInvalidDevice);
}

SHIM_EXPORT cudaError_t cudaGetDevice(int *device) {
  if (device == NULL) return cuda(S_INVALID_ARGUMENT);
  *device = shim_get_device();
  return cudaSuccess;
}

SHIM_EXPORT cudaError_t cudaDeviceSynchronize(void) { return cuda(shim_stream_sync(NULL)); }
SHIM_EXPORT cudaError_t cudaMalloc(void **ptr, size_t bytes) { return cuda(shim_malloc(ptr, bytes)); }
SHIM_EXPORT cudaError_t cudaFree(void *ptr) { return cuda(shim_free(ptr)); }

static int bad_kind(int kind) { return kind < 0 || kind > 4; }

SHIM_EXPORT cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, int kind) {
  if (bad_kind(kind)) return last_cuda_error = cudaErrorInvalidMemcpyDirection;
  return cuda(shim_copy(NULL, dst, src, bytes, 0));
}

SHIM_EXPORT cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, int kind, cudaStream_t stream) {
  if (bad_kind(kind)) return last_cuda_error = cudaErrorInvalidMemcpyDirection;
  return cuda(shim_copy(stream, dst, src, bytes, 1));
}

SHIM_EXPORT cudaError_t cudaMemcpy2DAsync(void *dst, size_t dpitch, const void *src, size_t spitch, size_t width,
                                          size_t height, int kind, cudaStream_t stream) {
  if (bad_kind(kind)) return last_cuda_error = cudaErrorInvalidMemcpyDirection;
  return cuda(shim_copy2d(stream, dst, dpitch, src, spitch, width, height, 1));
}

SHIM_EXPORT cudaError_t cudaMemset(void *dst, int value, size_t bytes) { return cuda(shim_memset(NULL, dst, value, bytes, 0)); }

SHIM_EXPORT cudaError_t cudaMemsetAsync(void *dst, int value, size_t bytes, cudaStream_t stream) {
  return cuda(shim_memset(stream, dst, value, bytes, 1));
}

SHIM_EXPORT cudaError_t cudaStreamCreate(cudaStream_t *stream) { return cuda(shim_stream_create(stream)); }

SHIM_EXPORT cudaError_t cudaStreamCreateWithFlags(cudaStream_t *stream, unsigned flags) {
  (void)flags;
  return cuda(shim_stream_create(stream));
}

SHIM_EXPORT cudaError_t cudaStreamDestroy(cudaStream_t stream) { return cuda(shim_stream_destroy(stream)); }
SHIM_EXPORT cudaError_t cudaStreamSynchronize(cudaStream_t stream) { return cuda(shim_stream_sync(stream)); }
SHIM_EXPORT cudaError_t cudaStreamQuery(cudaStream_t stream) { return cuda(shim_stream_query(stream)); }
SHIM_EXPORT cudaError_t cudaEventCreate(cudaEvent_t *event) { return cuda(shim_event_create(event)); }

SHIM_EXPORT cudaError_t cudaEventCreateWithFlags(cudaEvent_t *event, unsigned flags) {
  (void)flags;
  return cuda(shim_event_create(event));
}

SHIM_EXPORT cudaError_t cudaEventDestroy(cudaEvent_t event) { return cuda(shim_event_destroy(event)); }
SHIM_EXPORT cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) { return cuda(shim_event_record(event, stream)); }
SHIM_EXPORT cudaError_t cudaEventQuery(cudaEvent_t event) { return cuda(shim_event_query(event)); }
SHIM_EXPORT cudaError_t cudaEventSynchronize(cudaEvent_t event) { return cuda(shim_event_sync(event)); }

SHIM_EXPORT cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t start, cudaEvent_t end) {
  return cuda(shim_event_elapsed(ms, start, end));
}
