/*
 * An OSU-style collective benchmark against MPI, measured the way `multirank bench` measures:
 * for each size, every rank times each iteration of the collective (MPI_Wtime around the call, after
 * `warmup` untimed calls), the per-iteration times are reduced with MPI_MAX over ranks (the slowest
 * rank), and rank 0 prints the median (and min, max, p99) as one JSON line per size. Sizes and counts
 * follow nccl-tests (size = the larger of send and receive bytes per rank; allGather, reduceScatter and
 * allToAll move count/ranks elements per peer). Data are float32 (sum); after timing, one checked call
 * on integer-valued data counts the wrong elements over all ranks (`nwrong`).
 *
 *   mpirun -np N mpi-bench OP MINBYTES MAXBYTES FACTOR ITERS WARMUP [WARMUP_BYTES]
 *   (a size gets at least WARMUP_BYTES / size untimed calls when that is more than WARMUP: the first sizes
 *   of a sweep of large messages then warm up as long as a sweep of small ones)
 *   OP: allReduce allGather reduceScatter broadcast reduce allToAll sendRecv barrier
 *
 * Built by bench/compare/compare.ts with `mpicc -O2`.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ALL_REDUCE, ALL_GATHER, REDUCE_SCATTER, BROADCAST, REDUCE, ALL_TO_ALL, SEND_RECV, BARRIER, OPS };
static const char *NAMES[OPS] = {"allReduce", "allGather", "reduceScatter", "broadcast", "reduce", "allToAll", "sendRecv", "barrier"};

typedef struct {
  int op, rank, ranks;
  size_t send, recv; /* elements per rank */
  float *in, *out;
} Bench;

/* Integer-valued input of `rank` at element `i`: sums over up to 2^16 ranks stay exact in float32. */
static float value(int rank, size_t i) { return (float)((rank * 7 + (int)(i % 251)) % 13) - 6.0f; }

static void run(Bench *b) {
  int n = b->ranks, next = (b->rank + 1) % n, prev = (b->rank + n - 1) % n;
  switch (b->op) {
    case ALL_REDUCE: MPI_Allreduce(b->in, b->out, (int)b->send, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD); break;
    case ALL_GATHER: MPI_Allgather(b->in, (int)b->send, MPI_FLOAT, b->out, (int)b->send, MPI_FLOAT, MPI_COMM_WORLD); break;
    case REDUCE_SCATTER: MPI_Reduce_scatter_block(b->in, b->out, (int)b->recv, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD); break;
    case BROADCAST: MPI_Bcast(b->in, (int)b->send, MPI_FLOAT, 0, MPI_COMM_WORLD); break;
    case REDUCE: MPI_Reduce(b->in, b->out, (int)b->send, MPI_FLOAT, MPI_SUM, 0, MPI_COMM_WORLD); break;
    case ALL_TO_ALL: MPI_Alltoall(b->in, (int)(b->send / n), MPI_FLOAT, b->out, (int)(b->send / n), MPI_FLOAT, MPI_COMM_WORLD); break;
    case SEND_RECV:
      MPI_Sendrecv(b->in, (int)b->send, MPI_FLOAT, next, 0, b->out, (int)b->recv, MPI_FLOAT, prev, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      break;
    default: MPI_Barrier(MPI_COMM_WORLD);
  }
}

/* Expected element i of this rank's result. */
static float expected(const Bench *b, size_t i) {
  int n = b->ranks;
  float s = 0;
  switch (b->op) {
    case ALL_REDUCE: case REDUCE: for (int r = 0; r < n; r++) s += value(r, i); return s;
    case REDUCE_SCATTER: for (int r = 0; r < n; r++) s += value(r, b->rank * b->recv + i); return s;
    case ALL_GATHER: return value((int)(i / b->send), i % b->send);
    case BROADCAST: return value(0, i);
    case ALL_TO_ALL: { size_t c = b->send / n; return value((int)(i / c), b->rank * c + i % c); }
    default: return value((b->rank + n - 1) % n, i);
  }
}

/* One checked call; returns the wrong elements over all ranks (on rank 0). */
static long check(Bench *b) {
  if (b->op == BARRIER) return 0;
  for (size_t i = 0; i < b->send; i++) b->in[i] = value(b->rank, i);
  run(b);
  const float *result = b->op == BROADCAST ? b->in : b->out;
  size_t count = b->op == BROADCAST ? b->send : b->recv;
  long wrong = 0;
  if (!(b->op == REDUCE && b->rank != 0))
    for (size_t i = 0; i < count; i++) wrong += result[i] != expected(b, i);
  long total = 0;
  MPI_Reduce(&wrong, &total, 1, MPI_LONG, MPI_SUM, 0, MPI_COMM_WORLD);
  return total;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Element counts per rank for a requested size, as nccl-tests. */
static void counts(Bench *b, size_t bytes) {
  size_t count = bytes / sizeof(float), chunk = count / b->ranks;
  switch (b->op) {
    case ALL_GATHER: b->send = chunk; b->recv = chunk * b->ranks; break;
    case REDUCE_SCATTER: b->send = chunk * b->ranks; b->recv = chunk; break;
    case ALL_TO_ALL: b->send = b->recv = chunk * b->ranks; break;
    case BARRIER: b->send = b->recv = 0; break;
    default: b->send = b->recv = count;
  }
}

static void measure(Bench *b, size_t bytes, int iters, int warmup, double *times, double *slowest) {
  counts(b, bytes);
  for (size_t i = 0; i < b->send; i++) b->in[i] = value(b->rank, i);
  MPI_Barrier(MPI_COMM_WORLD);
  for (int i = 0; i < warmup; i++) run(b);
  for (int i = 0; i < iters; i++) {
    double start = MPI_Wtime();
    run(b);
    times[i] = (MPI_Wtime() - start) * 1e6;
  }
  MPI_Reduce(times, slowest, iters, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
  long wrong = check(b);
  if (b->rank != 0) return;
  qsort(slowest, iters, sizeof(double), cmp);
  double median = iters % 2 ? slowest[iters / 2] : (slowest[iters / 2 - 1] + slowest[iters / 2]) / 2;
  int p99 = (iters * 99 + 99) / 100 - 1;
  size_t size = (b->send > b->recv ? b->send : b->recv) * sizeof(float);
  size_t param = b->op == ALL_GATHER || b->op == REDUCE_SCATTER || b->op == ALL_TO_ALL ? b->send / (b->op == ALL_GATHER ? 1 : b->ranks) : b->send;
  printf("{\"impl\":\"mpi\",\"op\":\"%s\",\"ranks\":%d,\"size\":%zu,\"count\":%zu,\"time_us\":%.4f,\"min_us\":%.4f,\"max_us\":%.4f,\"p99_us\":%.4f,\"nwrong\":%ld}\n",
         NAMES[b->op], b->ranks, size, param, median, slowest[0], slowest[iters - 1], slowest[p99 < iters ? p99 : iters - 1], wrong);
  fflush(stdout);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  Bench b = {0};
  MPI_Comm_rank(MPI_COMM_WORLD, &b.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &b.ranks);
  if (argc != 7 && argc != 8) {
    if (b.rank == 0) {
      fprintf(stderr, "usage: mpi-bench OP MINBYTES MAXBYTES FACTOR ITERS WARMUP [WARMUP_BYTES]\n");
    }
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  b.op = -1;
  for (int i = 0; i < OPS; i++) if (strcmp(argv[1], NAMES[i]) == 0) b.op = i;
  size_t minBytes = strtoull(argv[2], NULL, 10), maxBytes = strtoull(argv[3], NULL, 10), factor = strtoull(argv[4], NULL, 10);
  int iters = atoi(argv[5]), warmup = atoi(argv[6]);
  size_t warmupBytes = argc == 8 ? strtoull(argv[7], NULL, 10) : 0;
  if (b.op < 0 || minBytes < 1 || maxBytes < minBytes || factor < 2 || iters < 1 || warmup < 0) {
    if (b.rank == 0) fprintf(stderr, "mpi-bench: bad arguments (op %s, sizes %s..%s, factor %s, iters %s, warmup %s)\n", argv[1], argv[2], argv[3], argv[4], argv[5], argv[6]);
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  if (posix_memalign((void **)&b.in, 64, maxBytes + 64) || posix_memalign((void **)&b.out, 64, maxBytes + 64)) MPI_Abort(MPI_COMM_WORLD, 1);
  memset(b.out, 0, maxBytes);
  double *times = malloc(iters * sizeof(double)), *slowest = malloc(iters * sizeof(double));
  for (size_t bytes = minBytes; bytes <= maxBytes; bytes *= factor) {
    size_t byBytes = (warmupBytes + bytes - 1) / bytes;
    measure(&b, bytes, iters, byBytes > (size_t)warmup ? (int)byBytes : warmup, times, slowest);
    if (b.op == BARRIER) break;
  }
  free(times);
  free(slowest);
  free(b.in);
  free(b.out);
  MPI_Finalize();
  return 0;
}
