/*
 * What comm.c (cliques, init, lifetime, abort) and collective.c (the operations, enqueue, groups) of the
 * shim share: the rendezvous layout of a clique and the operation records. Internal to the shim.
 */
#ifndef MULTIRANK_SHIM_COMM_H
#define MULTIRANK_SHIM_COMM_H

#include <stdatomic.h>
#include <stdint.h>

#include "engine.h"

#define KEY_BYTES 64
#define CHANNEL_DEPTH 64
/* All-reduces up to this size: every member folds the whole input into its scratch (two exchanges). */
#define SMALL_BYTES 65536

typedef struct slot {
  _Atomic uint64_t posted, stage1, stage2;
  int kind, type, op, root;
  size_t count;
  const void *send;
  void *recv;
} __attribute__((aligned(64))) slot;

typedef struct message {
  const void *buf;
  size_t count;
  int type;
} message;

typedef struct channel {
  _Atomic uint64_t head; /* messages posted (the sender writes it) */
  _Atomic uint64_t tail; /* messages consumed (the receiver writes it) */
  message ring[CHANNEL_DEPTH];
} __attribute__((aligned(64))) channel;

typedef struct clique {
  unsigned char key[KEY_BYTES];
  int nranks, joined;
  struct clique *next;
  _Atomic int broken;
  _Atomic int refs;
  slot *slots;
  channel *channels; /* [src * nranks + dst] */
} clique;

struct shim_comm {
  clique *q;
  int rank, nranks;
  _Atomic int refs; /* the user's, plus one per pending operation */
  _Atomic int aborted;
  _Atomic int async_error;
  char error_text[256];
  uint64_t seq;
  uint64_t *send_next, *recv_next;
  int fault_mode;
  uint64_t fault_after;
  const void **inputs;
  void *scratch;
  size_t scratch_bytes;
};

enum { ST_NEW, ST_POSTED, ST_STAGE1, ST_STAGE2, ST_HANGING, ST_DONE };

typedef struct op {
  int kind, type, op, root;
  size_t count;
  const void *send;
  void *recv;
  shim_comm *comm;
  int state;
  uint64_t seq;
} op;

typedef struct op_task {
  shim_task base;
  int n;
  op ops[];
} op_task;

/* Drops a reference to a communicator (the user's, or a pending operation's); the last one frees it. */
SHIM_HIDDEN void shim_comm_unref(shim_comm *c);

#endif
