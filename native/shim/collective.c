/*
 * The operations of the shim's communicators, run by stream progress. A collective numbered `seq` on
 * member r: post the arguments in slot r, wait until every member posted `seq` (and agrees on the call),
 * do r's share, publish stage1 = seq, wait for every member's stage1; a large all-reduce has a second
 * exchange (stage2). A member never starts `seq + 1` before every member finished reading its buffers
 * for `seq`, so one slot per member is enough. A send posts its buffer in the pair's ring and finishes
 * when the receiver copied it; a group's sends and receives progress together.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm.h"

/* ---- operations ---- */

static int is_collective(int kind) { return kind != K_SEND && kind != K_RECV; }

/* Ends `o` with `status` (a failure becomes the comm's asynchronous error). Returns 1 (the op is done). */
static int finish(op *o, int status, const char *why) {
  o->state = ST_DONE;
  if (status != S_OK) {
    int none = S_OK;
    if (atomic_compare_exchange_strong(&o->comm->async_error, &none, status)) {
      snprintf(o->comm->error_text, sizeof o->comm->error_text, "%s", why);
    }
  }
  return 1;
}

/* Not done yet, unless the comm was aborted or a peer's was. */
static int blocked(op *o) {
  if (atomic_load_explicit(&o->comm->aborted, memory_order_relaxed)) return finish(o, S_ABORTED, "aborted");
  if (atomic_load_explicit(&o->comm->q->broken, memory_order_acquire)) {
    return finish(o, S_REMOTE, "a peer's communicator was aborted or failed");
  }
  return 0;
}

static int all_reached(const clique *q, size_t offset, uint64_t seq) {
  for (int j = 0; j < q->nranks; j++) {
    const _Atomic uint64_t *word = (const _Atomic uint64_t *)((const char *)&q->slots[j] + offset);
    if (atomic_load_explicit(word, memory_order_acquire) < seq) return 0;
  }
  return 1;
}

static const char *kind_name(int kind) {
  static const char *names[] = { "all-reduce", "all-gather", "reduce-scatter", "broadcast", "reduce", "send", "recv" };
  return names[kind];
}

/* Every member must call the same collective with the same count, type, op and root. */
static int same_call(op *o) {
  const clique *q = o->comm->q;
  const slot *mine = &q->slots[o->comm->rank];
  for (int j = 0; j < q->nranks; j++) {
    const slot *s = &q->slots[j];
    if (s->kind == mine->kind && s->count == mine->count && s->type == mine->type && s->op == mine->op &&
        s->root == mine->root) continue;
    char why[256];
    snprintf(why, sizeof why, "mismatched collective #%llu: rank %d called %s (count %zu, type %d, op %d, root %d), "
             "rank %d called %s (count %zu, type %d, op %d, root %d)", (unsigned long long)o->seq,
             o->comm->rank, kind_name(mine->kind), mine->count, mine->type, mine->op, mine->root, j,
             kind_name(s->kind), s->count, s->type, s->op, s->root);
    atomic_store(&o->comm->q->broken, 1); /* the members' slots now disagree: nothing after this is safe */
    return finish(o, S_INVALID_USAGE, why), 0;
  }
  return 1;
}

static unsigned char *at(const void *base, size_t index, size_t size) {
  return (unsigned char *)base + index * size;
}

static int gather_inputs(shim_comm *c, size_t offset_elems, size_t size) {
  for (int j = 0; j < c->nranks; j++) c->inputs[j] = at(c->q->slots[j].send, offset_elems, size);
  return 1;
}

/* This member's share of the work, once every member posted. Returns S_OK or a failure. */
static int stage_a(op *o) {
  shim_comm *c = o->comm;
  const clique *q = c->q;
  int n = c->nranks, r = c->rank;
  size_t size = shim_type_size(o->type), count = o->count;
  switch (o->kind) {
  case K_ALLREDUCE: {
    gather_inputs(c, 0, size);
    if (count * size <= SMALL_BYTES) {
      if (c->scratch_bytes < count * size) {
        void *grown = realloc(c->scratch, count * size);
        if (grown == NULL) return S_NO_MEMORY;
        c->scratch = grown;
        c->scratch_bytes = count * size;
      }
      shim_reduce(o->type, o->op, c->scratch, c->inputs, n, 0, count);
    } else {
      size_t per = (count + (size_t)n - 1) / (size_t)n;
      size_t lo = per * (size_t)r < count ? per * (size_t)r : count, hi = lo + per < count ? lo + per : count;
      shim_reduce(o->type, o->op, o->recv, c->inputs, n, lo, hi);
    }
    return S_OK;
  }
  case K_REDUCESCATTER:
    gather_inputs(c, (size_t)r * count, size);
    shim_reduce(o->type, o->op, o->recv, c->inputs, n, 0, count);
    return S_OK;
  case K_REDUCE:
    if (r == o->root) {
      gather_inputs(c, 0, size);
      shim_reduce(o->type, o->op, o->recv, c->inputs, n, 0, count);
    }
    return S_OK;
  case K_BROADCAST: {
    const void *src = q->slots[o->root].send;
    if (o->recv != src && count > 0) memmove(o->recv, src, count * size);
    return S_OK;
  }
  case K_ALLGATHER:
    for (int j = 0; j < n; j++) {
      unsigned char *dst = at(o->recv, (size_t)j * count, size);
      if (dst != q->slots[j].send && count > 0) memmove(dst, q->slots[j].send, count * size);
    }
    return S_OK;
  }
  return S_INTERNAL;
}

/* The second exchange of a large all-reduce: copy every peer's slice of the result. */
static void stage_b(op *o) {
  shim_comm *c = o->comm;
  size_t size = shim_type_size(o->type), count = o->count, per = (count + (size_t)c->nranks - 1) / (size_t)c->nranks;
  for (int j = 0; j < c->nranks; j++) {
    size_t lo = per * (size_t)j < count ? per * (size_t)j : count, hi = lo + per < count ? lo + per : count;
    if (j != c->rank && hi > lo) memcpy(at(o->recv, lo, size), at(c->q->slots[j].recv, lo, size), (hi - lo) * size);
  }
}

static int post(op *o) {
  shim_comm *c = o->comm;
  o->seq = ++c->seq;
  if (c->fault_mode != FAULT_NONE && o->seq > c->fault_after) {
    if (c->fault_mode == FAULT_FAIL) return finish(o, S_INTERNAL, "injected failure (test seam)");
    o->state = ST_HANGING;
    return 0;
  }
  slot *s = &c->q->slots[c->rank];
  s->kind = o->kind;
  s->type = o->type;
  s->op = o->op;
  s->root = o->root;
  s->count = o->count;
  s->send = o->send;
  s->recv = o->recv;
  atomic_store_explicit(&s->posted, o->seq, memory_order_release);
  o->state = ST_POSTED;
  return 0;
}

static int step_collective(op *o) {
  shim_comm *c = o->comm;
  slot *mine = &c->q->slots[c->rank];
  if (o->state == ST_NEW) {
    if (blocked(o)) return 1;
    if (post(o)) return 1;
  }
  if (o->state == ST_HANGING) return blocked(o);
  if (o->state == ST_POSTED) {
    if (!all_reached(c->q, offsetof(slot, posted), o->seq)) return blocked(o);
    if (!same_call(o)) return 1;
    int status = stage_a(o);
    if (status != S_OK) return finish(o, status, "out of host memory");
    atomic_store_explicit(&mine->stage1, o->seq, memory_order_release);
    o->state = ST_STAGE1;
  }
  int large = o->kind == K_ALLREDUCE && o->count * shim_type_size(o->type) > SMALL_BYTES;
  if (o->state == ST_STAGE1) {
    if (!all_reached(c->q, offsetof(slot, stage1), o->seq)) return blocked(o);
    if (!large) {
      if (o->kind == K_ALLREDUCE && o->count > 0) memcpy(o->recv, c->scratch, o->count * shim_type_size(o->type));
      return finish(o, S_OK, NULL);
    }
    stage_b(o);
    atomic_store_explicit(&mine->stage2, o->seq, memory_order_release);
    o->state = ST_STAGE2;
  }
  if (!all_reached(c->q, offsetof(slot, stage2), o->seq)) return blocked(o);
  return finish(o, S_OK, NULL);
}

static int step_send(op *o) {
  shim_comm *c = o->comm;
  channel *ch = &c->q->channels[c->rank * c->nranks + o->root];
  if (o->state == ST_NEW) {
    if (blocked(o)) return 1;
    o->seq = c->send_next[o->root]++;
    o->state = ST_POSTED;
  }
  if (o->state == ST_POSTED) {
    uint64_t head = atomic_load_explicit(&ch->head, memory_order_relaxed);
    uint64_t tail = atomic_load_explicit(&ch->tail, memory_order_acquire);
    if (head != o->seq || head - tail >= CHANNEL_DEPTH) return blocked(o);
    ch->ring[head % CHANNEL_DEPTH] = (message){ o->send, o->count, o->type };
    atomic_store_explicit(&ch->head, head + 1, memory_order_release);
    o->state = ST_STAGE1;
  }
  if (atomic_load_explicit(&ch->tail, memory_order_acquire) > o->seq) return finish(o, S_OK, NULL);
  return blocked(o);
}

static int step_recv(op *o) {
  shim_comm *c = o->comm;
  channel *ch = &c->q->channels[o->root * c->nranks + c->rank];
  if (o->state == ST_NEW) {
    if (blocked(o)) return 1;
    o->seq = c->recv_next[o->root]++;
    o->state = ST_POSTED;
  }
  if (atomic_load_explicit(&ch->head, memory_order_acquire) <= o->seq ||
      atomic_load_explicit(&ch->tail, memory_order_relaxed) != o->seq) return blocked(o);
  const message *m = &ch->ring[o->seq % CHANNEL_DEPTH];
  if (m->count != o->count || m->type != o->type) {
    char why[256];
    snprintf(why, sizeof why, "recv from rank %d expects %zu elements of type %d, the send has %zu of type %d",
             o->root, o->count, o->type, m->count, m->type);
    atomic_store(&c->q->broken, 1);
    return finish(o, S_INVALID_USAGE, why);
  }
  if (o->count > 0) memcpy(o->recv, m->buf, o->count * shim_type_size(o->type));
  atomic_store_explicit(&ch->tail, o->seq + 1, memory_order_release);
  return finish(o, S_OK, NULL);
}

/* Collectives of a task (a group) run one after the other; its sends and receives all progress at once. */
static int task_step(shim_task *t) {
  op_task *ot = (op_task *)t;
  int done = 1, collective_waiting = 0;
  for (int i = 0; i < ot->n; i++) {
    op *o = &ot->ops[i];
    if (o->state == ST_DONE) continue;
    int finished;
    if (is_collective(o->kind)) {
      if (collective_waiting) {
        done = 0;
        continue;
      }
      finished = step_collective(o);
      if (!finished) collective_waiting = 1;
    } else {
      finished = o->kind == K_SEND ? step_send(o) : step_recv(o);
    }
    if (!finished) done = 0;
  }
  return done;
}

static void task_release(shim_task *t) {
  op_task *ot = (op_task *)t;
  for (int i = 0; i < ot->n; i++) shim_comm_unref(ot->ops[i].comm);
  free(ot);
}

/* ---- enqueue and groups ---- */

static int check_args(const op *o) {
  const shim_comm *c = o->comm;
  const char *name = kind_name(o->kind);
  size_t size = shim_type_size(o->type);
  if (size == 0) return shim_fail(S_INVALID_ARGUMENT, "%s: invalid data type %d", name, o->type);
  if (o->count > SIZE_MAX / size / (size_t)c->nranks) return shim_fail(S_INVALID_ARGUMENT, "%s: count %zu is too large", name, o->count);
  int reduces = o->kind == K_ALLREDUCE || o->kind == K_REDUCESCATTER || o->kind == K_REDUCE;
  if (reduces && (o->op < 0 || o->op >= OP_COUNT)) return shim_fail(S_INVALID_ARGUMENT, "%s: invalid reduction op %d", name, o->op);
  if (reduces && !shim_type_reducible(o->type)) {
    return shim_fail(S_INVALID_ARGUMENT, "%s: data type %d has no arithmetic in this library", name, o->type);
  }
  int rooted = o->kind == K_BROADCAST || o->kind == K_REDUCE || !is_collective(o->kind);
  if (rooted && (o->root < 0 || o->root >= c->nranks)) {
    return shim_fail(S_INVALID_ARGUMENT, "%s: %s %d is not a rank (0..%d)", name, is_collective(o->kind) ? "root" : "peer",
                     o->root, c->nranks - 1);
  }
  int is_root = o->root == c->rank;
  int needs_send = o->kind != K_RECV && (o->kind != K_BROADCAST || is_root);
  int needs_recv = o->kind != K_SEND && (o->kind != K_REDUCE || is_root);
  if (o->count > 0 && needs_send && o->send == NULL) return shim_fail(S_INVALID_ARGUMENT, "%s: the send buffer is NULL", name);
  if (o->count > 0 && needs_recv && o->recv == NULL) return shim_fail(S_INVALID_ARGUMENT, "%s: the receive buffer is NULL", name);
  return S_OK;
}

typedef struct pending_op {
  op o;
  shim_stream *stream;
} pending_op;

static __thread int group_depth;
static __thread pending_op *grouped;
static __thread int grouped_count, grouped_capacity;

static int push_ops(shim_stream *s, const op *ops, int n) {
  op_task *t = malloc(sizeof *t + sizeof(op) * (size_t)n);
  if (t == NULL) return shim_fail(S_NO_MEMORY, "out of host memory");
  t->n = n;
  memcpy(t->ops, ops, sizeof(op) * (size_t)n);
  t->base.step = task_step;
  t->base.release = task_release;
  return shim_stream_push(s, &t->base);
}

int shim_enqueue(shim_comm *c, shim_stream *s, int kind, const void *send, void *recv, size_t count, int type,
                 int op_code, int root) {
  int status = shim_comm_check(c);
  if (status != S_OK) return status;
  op o = { kind, type, op_code, root, count, send, recv, c, ST_NEW, 0 };
  if ((status = check_args(&o)) != S_OK) return status;
  atomic_fetch_add(&c->refs, 1);
  if (group_depth == 0) return push_ops(s, &o, 1);
  if (grouped_count == grouped_capacity) {
    int capacity = grouped_capacity == 0 ? 16 : grouped_capacity * 2;
    pending_op *grown = realloc(grouped, sizeof *grown * (size_t)capacity);
    if (grown == NULL) {
      shim_comm_unref(c);
      return shim_fail(S_NO_MEMORY, "group: out of host memory");
    }
    grouped = grown;
    grouped_capacity = capacity;
  }
  grouped[grouped_count++] = (pending_op){ o, s };
  return S_OK;
}

int shim_group_start(void) {
  group_depth++;
  return S_OK;
}

/* Closes the group: one task per stream, holding that stream's operations in call order. */
int shim_group_end(void) {
  if (group_depth == 0) return shim_fail(S_INVALID_USAGE, "group end without a group start");
  if (--group_depth > 0) return S_OK;
  int status = S_OK, n = grouped_count;
  op *ops = malloc(sizeof(op) * (size_t)(n > 0 ? n : 1));
  char *taken = calloc((size_t)(n > 0 ? n : 1), 1);
  for (int i = 0; i < n; i++) {
    if (taken[i]) continue;
    int count = 0;
    for (int j = i; j < n; j++) {
      if (taken[j] || grouped[j].stream != grouped[i].stream) continue;
      taken[j] = 1;
      ops[count++] = grouped[j].o;
    }
    int pushed = push_ops(grouped[i].stream, ops, count);
    if (pushed != S_OK) status = pushed;
  }
  free(ops);
  free(taken);
  grouped_count = 0;
  return status;
}

