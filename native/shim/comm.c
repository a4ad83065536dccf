/*
 * Communicators of the shim: a clique per unique id (its members are threads of this process), one
 * rendezvous slot per member for collectives, and one single-producer ring per ordered pair of members
 * for send/recv (the receiver copies straight from the sender's buffer; the send finishes when its
 * message was consumed, as a rendezvous send does).
 *
 * This file: unique ids, the rendezvous that makes a clique's communicators, their lifetime, errors and
 * abort. The operations are in collective.c.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "comm.h"

static const char MAGIC[8] = { 'M', 'R', 'S', 'H', 'I', 'M', 'I', 'D' };

/* ---- lifetime ---- */

static void clique_unref(clique *q) {
  if (atomic_fetch_sub(&q->refs, 1) != 1) return;
  free(q->slots);
  free(q->channels);
  free(q);
}

void shim_comm_unref(shim_comm *c) {
  if (atomic_fetch_sub(&c->refs, 1) != 1) return;
  clique_unref(c->q);
  free(c->send_next);
  free(c->recv_next);
  free(c->inputs);
  free(c->scratch);
  free(c);
}

/* ---- unique ids and init ---- */

void shim_unique_id(unsigned char *out, size_t id_bytes) {
  static _Atomic uint64_t counter;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  uint64_t words[4] = { (uint64_t)getpid(), atomic_fetch_add(&counter, 1) + 1, (uint64_t)ts.tv_sec,
                        (uint64_t)ts.tv_nsec ^ ((uint64_t)rand() << 20) };
  memset(out, 0, id_bytes);
  memcpy(out, MAGIC, sizeof MAGIC);
  memcpy(out + sizeof MAGIC, words, sizeof words);
}

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t table_cond = PTHREAD_COND_INITIALIZER;
static clique *pending;

static long init_timeout_ms(void) {
  const char *text = getenv("MULTIRANK_SHIM_INIT_TIMEOUT_MS");
  long ms = text != NULL ? atol(text) : 0;
  return ms > 0 ? ms : 120000;
}

static clique *find_or_add(const unsigned char *key, int nranks) {
  for (clique *q = pending; q != NULL; q = q->next) {
    if (memcmp(q->key, key, KEY_BYTES) == 0) return q;
  }
  clique *q = calloc(1, sizeof *q);
  if (q == NULL) return NULL;
  q->slots = aligned_alloc(64, sizeof(slot) * (size_t)nranks);
  q->channels = aligned_alloc(64, sizeof(channel) * (size_t)nranks * (size_t)nranks);
  if (q->slots == NULL || q->channels == NULL) {
    free(q->slots);
    free(q->channels);
    free(q);
    return NULL;
  }
  memset(q->slots, 0, sizeof(slot) * (size_t)nranks);
  memset(q->channels, 0, sizeof(channel) * (size_t)nranks * (size_t)nranks);
  memcpy(q->key, key, KEY_BYTES);
  q->nranks = nranks;
  q->next = pending;
  pending = q;
  return q;
}

static void unlink_pending(clique *q) {
  for (clique **link = &pending; *link != NULL; link = &(*link)->next) {
    if (*link == q) {
      *link = q->next;
      return;
    }
  }
}

static shim_comm *new_comm(clique *q, int rank) {
  shim_comm *c = calloc(1, sizeof *c);
  if (c == NULL) return NULL;
  c->send_next = calloc((size_t)q->nranks, sizeof *c->send_next);
  c->recv_next = calloc((size_t)q->nranks, sizeof *c->recv_next);
  c->inputs = calloc((size_t)q->nranks, sizeof *c->inputs);
  if (c->send_next == NULL || c->recv_next == NULL || c->inputs == NULL) {
    free(c->send_next);
    free(c->recv_next);
    free(c->inputs);
    free(c);
    return NULL;
  }
  c->q = q;
  c->rank = rank;
  c->nranks = q->nranks;
  atomic_store(&c->refs, 1);
  return c;
}

static int wait_for_members(clique *q, int rank, long timeout_ms) {
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += timeout_ms / 1000;
  deadline.tv_nsec += (timeout_ms % 1000) * 1000000L;
  if (deadline.tv_nsec >= 1000000000L) {
    deadline.tv_sec++;
    deadline.tv_nsec -= 1000000000L;
  }
  while (q->joined < q->nranks) {
    if (pthread_cond_timedwait(&table_cond, &table_lock, &deadline) != 0 && q->joined < q->nranks) {
      int joined = q->joined;
      q->joined--;
      if (q->joined == 0) unlink_pending(q);
      return shim_fail(S_SYSTEM, "init: rank %d waited %ld ms, %d of %d ranks joined", rank, timeout_ms, joined,
                       q->nranks);
    }
  }
  return S_OK;
}

int shim_comm_init(shim_comm **out, int nranks, const unsigned char *id, size_t id_bytes, int rank) {
  if (out == NULL) return shim_fail(S_INVALID_ARGUMENT, "init: the result pointer is NULL");
  if (id == NULL || id_bytes < KEY_BYTES || memcmp(id, MAGIC, sizeof MAGIC) != 0) {
    return shim_fail(S_INVALID_ARGUMENT, "init: the unique id was not made by this library's get-unique-id call");
  }
  if (nranks < 1) return shim_fail(S_INVALID_ARGUMENT, "init: nranks %d must be at least 1", nranks);
  if (rank < 0 || rank >= nranks) return shim_fail(S_INVALID_ARGUMENT, "init: rank %d is not in 0..%d", rank, nranks - 1);
  pthread_mutex_lock(&table_lock);
  clique *q = find_or_add(id, nranks);
  int status = S_OK;
  if (q == NULL) status = shim_fail(S_NO_MEMORY, "init: out of host memory");
  else if (q->nranks != nranks) {
    status = shim_fail(S_INVALID_USAGE, "init: rank %d says %d ranks, an earlier rank said %d", rank, nranks, q->nranks);
  }
  shim_comm *c = status == S_OK ? new_comm(q, rank) : NULL;
  if (status == S_OK && c == NULL) status = shim_fail(S_NO_MEMORY, "init: out of host memory");
  if (status == S_OK) {
    atomic_fetch_add(&q->refs, 1);
    if (++q->joined == nranks) {
      unlink_pending(q);
      pthread_cond_broadcast(&table_cond);
    } else {
      status = wait_for_members(q, rank, init_timeout_ms());
      if (status != S_OK) {
        shim_comm_unref(c);
        c = NULL;
      }
    }
  }
  pthread_mutex_unlock(&table_lock);
  *out = c;
  return status;
}

int shim_comm_rank(const shim_comm *c) { return c->rank; }
int shim_comm_size(const shim_comm *c) { return c->nranks; }

int shim_comm_check(const shim_comm *c) {
  if (c == NULL) return shim_fail(S_INVALID_ARGUMENT, "the communicator is NULL");
  if (atomic_load(&c->aborted)) return shim_fail(S_INVALID_USAGE, "the communicator was aborted");
  return S_OK;
}

/* ---- errors, abort, destroy, faults ---- */

int shim_comm_async_error(shim_comm *c) {
  int status = atomic_load(&c->async_error);
  if (status != S_OK) shim_fail(status, "%s", c->error_text);
  return status;
}

int shim_comm_abort(shim_comm *c) {
  if (c == NULL) return shim_fail(S_INVALID_ARGUMENT, "abort: the communicator is NULL");
  atomic_store(&c->aborted, 1);
  atomic_store(&c->q->broken, 1);
  shim_comm_unref(c);
  return S_OK;
}

int shim_comm_destroy(shim_comm *c) {
  if (c == NULL) return shim_fail(S_INVALID_ARGUMENT, "destroy: the communicator is NULL");
  atomic_store(&c->aborted, 1);
  shim_comm_unref(c);
  return S_OK;
}

void shim_comm_fault(shim_comm *c, int mode, long after) {
  c->fault_mode = mode;
  c->fault_after = c->seq + (uint64_t)(after > 0 ? after : 0);
}
