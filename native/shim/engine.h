/*
 * The CPU shim's engine: "devices" whose memory is host memory, streams that run their work when polled,
 * and collectives between communicators whose ranks are threads of one process. The NCCL + CUDA runtime
 * ABI (nccl.c) and the HCCL + ACL ABI (hccl.c) are thin translations onto it; this header is the only
 * interface between them.
 *
 * Execution model: an operation is enqueued on a stream and returns at once (as on a GPU); the stream makes
 * progress whenever its owner polls it (query, synchronize), and also right after each enqueue. Every
 * collective is a small state machine over a rendezvous area shared by the members: post the arguments,
 * wait for every member's post, do this member's share of the work, then wait until every member finished
 * reading its peers' buffers. Reductions fold the members' inputs in rank order, so every rank of every
 * run gets the same bits.
 */
#ifndef MULTIRANK_SHIM_ENGINE_H
#define MULTIRANK_SHIM_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#define SHIM_HIDDEN __attribute__((visibility("hidden")))
#define SHIM_EXPORT __attribute__((visibility("default")))

/** Element types; each ABI maps its own numbering onto these. */
enum shim_type {
  T_I8, T_U8, T_I16, T_U16, T_I32, T_U32, T_I64, T_U64, T_F16, T_BF16, T_F32, T_F64, T_F8E4M3, T_F8E5M2, T_COUNT
};
enum shim_op { OP_SUM, OP_PROD, OP_MAX, OP_MIN, OP_AVG, OP_COUNT };
enum shim_kind { K_ALLREDUCE, K_ALLGATHER, K_REDUCESCATTER, K_BROADCAST, K_REDUCE, K_SEND, K_RECV };

/** Engine results; each ABI maps them onto its error codes. */
enum shim_status {
  S_OK = 0, S_INVALID_ARGUMENT, S_INVALID_USAGE, S_SYSTEM, S_INTERNAL, S_REMOTE, S_ABORTED, S_NOT_READY,
  S_NO_MEMORY, S_INVALID_HANDLE
};

/** Fault modes of the test seam: the comm's collectives after `after` of them hang, or fail. */
enum shim_fault { FAULT_NONE = 0, FAULT_HANG = 1, FAULT_FAIL = 2 };

typedef struct shim_stream shim_stream;
typedef struct shim_comm shim_comm;
typedef struct shim_event shim_event;

/* Types and reductions (reduce.c). */
SHIM_HIDDEN size_t shim_type_size(int type);
SHIM_HIDDEN int shim_type_reducible(int type);
/** out[i] = fold over k inputs of in[j][i] for i in [begin, end), in input order (avg: then / k). */
SHIM_HIDDEN void shim_reduce(int type, int op, void *out, const void *const *in, int k, size_t begin, size_t end);

/* Last error text of this thread (what ncclGetLastError / aclGetRecentErrMsg return). */
SHIM_HIDDEN int shim_fail(int status, const char *format, ...) __attribute__((format(printf, 2, 3)));
SHIM_HIDDEN const char *shim_last_error(void);

/* Device memory (host memory, tracked so that bad frees fail and leaks can be counted). */
SHIM_HIDDEN int shim_malloc(void **out, size_t bytes);
SHIM_HIDDEN int shim_free(void *ptr);
SHIM_HIDDEN long shim_live_allocations(void);
SHIM_HIDDEN int shim_set_device(int device);
SHIM_HIDDEN int shim_get_device(void);
SHIM_HIDDEN int shim_device_count(void);

/* Streams (NULL is the process's default stream). */
SHIM_HIDDEN int shim_stream_create(shim_stream **out);
SHIM_HIDDEN int shim_stream_destroy(shim_stream *s);
/** S_OK when every enqueued operation finished, S_NOT_READY otherwise (and makes progress). */
SHIM_HIDDEN int shim_stream_query(shim_stream *s);
SHIM_HIDDEN int shim_stream_sync(shim_stream *s);
SHIM_HIDDEN int shim_copy(shim_stream *s, void *dst, const void *src, size_t bytes, int async);
SHIM_HIDDEN int shim_copy2d(shim_stream *s, void *dst, size_t dpitch, const void *src, size_t spitch,
                            size_t width, size_t height, int async);
SHIM_HIDDEN int shim_memset(shim_stream *s, void *dst, int value, size_t bytes, int async);
SHIM_HIDDEN int shim_event_create(shim_event **out);
SHIM_HIDDEN int shim_event_destroy(shim_event *e);
SHIM_HIDDEN int shim_event_record(shim_event *e, shim_stream *s);
/** S_OK when the event's point of its stream was reached, S_NOT_READY otherwise. */
SHIM_HIDDEN int shim_event_query(shim_event *e);
SHIM_HIDDEN int shim_event_sync(shim_event *e);
SHIM_HIDDEN int shim_event_elapsed(float *ms, shim_event *start, shim_event *end);

/* Communicators (comm.c). Unique ids are `id_bytes` long; the first 64 bytes identify the clique. */
SHIM_HIDDEN void shim_unique_id(unsigned char *out, size_t id_bytes);
SHIM_HIDDEN int shim_comm_init(shim_comm **out, int nranks, const unsigned char *id, size_t id_bytes, int rank);
SHIM_HIDDEN int shim_comm_rank(const shim_comm *c);
SHIM_HIDDEN int shim_comm_size(const shim_comm *c);
SHIM_HIDDEN int shim_comm_check(const shim_comm *c);
/** A collective or send/recv (`root` is the peer of K_SEND / K_RECV). Enqueued, or added to the open group. */
SHIM_HIDDEN int shim_enqueue(shim_comm *c, shim_stream *s, int kind, const void *send, void *recv, size_t count,
                             int type, int op, int root);
SHIM_HIDDEN int shim_group_start(void);
SHIM_HIDDEN int shim_group_end(void);
/** The communicator's asynchronous error (S_OK while none). */
SHIM_HIDDEN int shim_comm_async_error(shim_comm *c);
/** Aborts: pending and later operations of the comm end, its peers' operations fail with S_REMOTE. */
SHIM_HIDDEN int shim_comm_abort(shim_comm *c);
SHIM_HIDDEN int shim_comm_destroy(shim_comm *c);
SHIM_HIDDEN void shim_comm_fault(shim_comm *c, int mode, long after);

/* Internal to the engine: a task is a list of operations run by stream progress (stream.c <-> comm.c). */
typedef struct shim_task shim_task;
struct shim_task {
  shim_task *next;
  /** Advances the task; returns 1 when it finished. */
  int (*step)(shim_task *t);
  void (*release)(shim_task *t);
};
SHIM_HIDDEN int shim_stream_push(shim_stream *s, shim_task *t);
/** Spins, yields, then sleeps a little longer each call (`*round` counts the calls). */
SHIM_HIDDEN void shim_backoff(unsigned *round);

#endif
