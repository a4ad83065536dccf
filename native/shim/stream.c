/*
 * Device memory, streams and events of the shim. Memory is host memory, kept in a table so that a bad or
 * double free fails (as cudaFree does) and tests can count live allocations. A stream is a FIFO of tasks
 * run by progress(): each poll advances the head task until one cannot finish yet.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"

/* ---- memory ---- */

typedef struct allocation {
  void *ptr;
  struct allocation *next;
} allocation;

#define BUCKETS 4096
static allocation *buckets[BUCKETS];
static pthread_mutex_t memory_lock = PTHREAD_MUTEX_INITIALIZER;
static long live_allocations;

static size_t bucket_of(const void *ptr) {
  return ((uintptr_t)ptr >> 8) % BUCKETS;
}

int shim_malloc(void **out, size_t bytes) {
  if (out == NULL) return shim_fail(S_INVALID_ARGUMENT, "malloc: the result pointer is NULL");
  *out = NULL;
  if (bytes == 0) return S_OK;
  size_t rounded = (bytes + 255) & ~(size_t)255;
  if (rounded < bytes) return shim_fail(S_NO_MEMORY, "malloc: %zu bytes is too large", bytes);
  allocation *a = malloc(sizeof *a);
  void *ptr = aligned_alloc(256, rounded);
  if (a == NULL || ptr == NULL) {
    free(a);
    free(ptr);
    return shim_fail(S_NO_MEMORY, "malloc: out of host memory for %zu bytes", bytes);
  }
  a->ptr = ptr;
  pthread_mutex_lock(&memory_lock);
  a->next = buckets[bucket_of(ptr)];
  buckets[bucket_of(ptr)] = a;
  live_allocations++;
  pthread_mutex_unlock(&memory_lock);
  *out = ptr;
  return S_OK;
}

int shim_free(void *ptr) {
  if (ptr == NULL) return S_OK;
  pthread_mutex_lock(&memory_lock);
  allocation **link = &buckets[bucket_of(ptr)];
  while (*link != NULL && (*link)->ptr != ptr) link = &(*link)->next;
  allocation *found = *link;
  if (found != NULL) {
    *link = found->next;
    live_allocations--;
  }
  pthread_mutex_unlock(&memory_lock);
  if (found == NULL) return shim_fail(S_INVALID_ARGUMENT, "free: %p is not a live device allocation", ptr);
  free(found->ptr);
  free(found);
  return S_OK;
}

long shim_live_allocations(void) {
  pthread_mutex_lock(&memory_lock);
  long n = live_allocations;
  pthread_mutex_unlock(&memory_lock);
  return n;
}

/* ---- devices: any index below the count is accepted; memory is shared by all of them ---- */

static __thread int current_device;

int shim_device_count(void) {
  const char *text = getenv("MULTIRANK_SHIM_DEVICES");
  int n = text != NULL ? atoi(text) : 64;
  return n > 0 ? n : 64;
}

int shim_set_device(int device) {
  if (device < 0 || device >= shim_device_count()) {
    return shim_fail(S_INVALID_ARGUMENT, "set device: %d is not a device (0..%d)", device, shim_device_count() - 1);
  }
  current_device = device;
  return S_OK;
}

int shim_get_device(void) {
  return current_device;
}

/* ---- streams ---- */

struct shim_stream {
  pthread_mutex_t lock;
  shim_task *head, *tail;
};

static shim_stream default_stream = { PTHREAD_MUTEX_INITIALIZER, NULL, NULL };

static shim_stream *resolve(shim_stream *s) {
  return s == NULL ? &default_stream : s;
}

int shim_stream_create(shim_stream **out) {
  if (out == NULL) return shim_fail(S_INVALID_ARGUMENT, "stream create: the result pointer is NULL");
  shim_stream *s = calloc(1, sizeof *s);
  if (s == NULL) return shim_fail(S_NO_MEMORY, "stream create: out of host memory");
  pthread_mutex_init(&s->lock, NULL);
  *out = s;
  return S_OK;
}

/* Runs the head tasks that can finish now; returns S_OK when the stream is empty. */
static int progress(shim_stream *s) {
  pthread_mutex_lock(&s->lock);
  while (s->head != NULL && s->head->step(s->head)) {
    shim_task *done = s->head;
    s->head = done->next;
    if (s->head == NULL) s->tail = NULL;
    done->release(done);
  }
  int status = s->head == NULL ? S_OK : S_NOT_READY;
  pthread_mutex_unlock(&s->lock);
  return status;
}

int shim_stream_push(shim_stream *s, shim_task *t) {
  s = resolve(s);
  t->next = NULL;
  pthread_mutex_lock(&s->lock);
  if (s->tail == NULL) s->head = t;
  else s->tail->next = t;
  s->tail = t;
  pthread_mutex_unlock(&s->lock);
  progress(s);
  return S_OK;
}

int shim_stream_query(shim_stream *s) {
  return progress(resolve(s));
}

void shim_backoff(unsigned *round) {
  unsigned r = (*round)++;
  if (r < 64) return;
  if (r < 256) {
    sched_yield();
    return;
  }
  long ns = r < 1024 ? 20000 : 200000;
  struct timespec pause = { 0, ns };
  nanosleep(&pause, NULL);
}

int shim_stream_sync(shim_stream *s) {
  unsigned round = 0;
  while (progress(resolve(s)) == S_NOT_READY) shim_backoff(&round);
  return S_OK;
}

int shim_stream_destroy(shim_stream *s) {
  if (s == NULL) return S_OK;
  shim_stream_sync(s);
  pthread_mutex_destroy(&s->lock);
  free(s);
  return S_OK;
}

/* ---- copies and fills: done at once when synchronous, else a task on the stream ---- */

typedef struct copy_task {
  shim_task base;
  void *dst;
  const void *src;
  size_t dpitch, spitch, width, height;
  int value; /* < 0: a copy; else memset with this byte */
} copy_task;

static void run_copy(const copy_task *c) {
  for (size_t row = 0; row < c->height; row++) {
    unsigned char *dst = (unsigned char *)c->dst + row * c->dpitch;
    if (c->value >= 0) memset(dst, c->value, c->width);
    else memmove(dst, (const unsigned char *)c->src + row * c->spitch, c->width);
  }
}

static int copy_step(shim_task *t) {
  run_copy((copy_task *)t);
  return 1;
}

static void copy_release(shim_task *t) {
  free(t);
}

static int copy_or_enqueue(shim_stream *s, const copy_task *spec, int async) {
  if (spec->width > 0 && spec->height > 0 && (spec->dst == NULL || (spec->value < 0 && spec->src == NULL))) {
    return shim_fail(S_INVALID_ARGUMENT, "copy: a NULL pointer for %zu x %zu bytes", spec->height, spec->width);
  }
  if (!async) {
    shim_stream_sync(s);
    run_copy(spec);
    return S_OK;
  }
  copy_task *t = malloc(sizeof *t);
  if (t == NULL) return shim_fail(S_NO_MEMORY, "copy: out of host memory");
  *t = *spec;
  t->base.step = copy_step;
  t->base.release = copy_release;
  return shim_stream_push(s, &t->base);
}

int shim_copy(shim_stream *s, void *dst, const void *src, size_t bytes, int async) {
  copy_task spec = { { 0 }, dst, src, bytes, bytes, bytes, 1, -1 };
  return copy_or_enqueue(s, &spec, async);
}

int shim_copy2d(shim_stream *s, void *dst, size_t dpitch, const void *src, size_t spitch, size_t width,
                size_t height, int async) {
  if (height > 1 && (dpitch < width || spitch < width)) {
    return shim_fail(S_INVALID_ARGUMENT, "copy2d: a pitch (%zu, %zu) is below the width %zu", dpitch, spitch, width);
  }
  copy_task spec = { { 0 }, dst, src, dpitch, spitch, width, height, -1 };
  return copy_or_enqueue(s, &spec, async);
}

int shim_memset(shim_stream *s, void *dst, int value, size_t bytes, int async) {
  copy_task spec = { { 0 }, dst, NULL, bytes, bytes, bytes, 1, value & 0xff };
  return copy_or_enqueue(s, &spec, async);
}

/* ---- events: a task that stamps the time when its stream reaches it ---- */

struct shim_event {
  shim_stream *stream;
  int recorded;          /* the record task was enqueued */
  volatile int reached;  /* the stream ran it */
  double ms;             /* when, CLOCK_MONOTONIC */
};

typedef struct event_task {
  shim_task base;
  shim_event *event;
} event_task;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int event_step(shim_task *t) {
  shim_event *e = ((event_task *)t)->event;
  e->ms = now_ms();
  e->reached = 1;
  return 1;
}

int shim_event_create(shim_event **out) {
  if (out == NULL) return shim_fail(S_INVALID_ARGUMENT, "event create: the result pointer is NULL");
  *out = calloc(1, sizeof **out);
  return *out == NULL ? shim_fail(S_NO_MEMORY, "event create: out of host memory") : S_OK;
}

int shim_event_destroy(shim_event *e) {
  if (e == NULL) return shim_fail(S_INVALID_HANDLE, "event destroy: NULL event");
  if (e->recorded && !e->reached) shim_stream_sync(e->stream);
  free(e);
  return S_OK;
}

int shim_event_record(shim_event *e, shim_stream *s) {
  if (e == NULL) return shim_fail(S_INVALID_HANDLE, "event record: NULL event");
  event_task *t = malloc(sizeof *t);
  if (t == NULL) return shim_fail(S_NO_MEMORY, "event record: out of host memory");
  e->stream = s;
  e->recorded = 1;
  e->reached = 0;
  t->event = e;
  t->base.step = event_step;
  t->base.release = copy_release;
  return shim_stream_push(s, &t->base);
}

int shim_event_query(shim_event *e) {
  if (e == NULL) return shim_fail(S_INVALID_HANDLE, "event query: NULL event");
  if (!e->recorded || e->reached) return S_OK;
  progress(resolve(e->stream));
  return e->reached ? S_OK : S_NOT_READY;
}

int shim_event_sync(shim_event *e) {
  unsigned round = 0;
  int status;
  while ((status = shim_event_query(e)) == S_NOT_READY) shim_backoff(&round);
  return status;
}

int shim_event_elapsed(float *ms, shim_event *start, shim_event *end) {
  if (ms == NULL || start == NULL || end == NULL) return shim_fail(S_INVALID_ARGUMENT, "elapsed time: a NULL argument");
  if (!start->reached || !end->reached) return shim_fail(S_NOT_READY, "elapsed time: an event was not reached yet");
  *ms = (float)(end->ms - start->ms);
  return S_OK;
}
