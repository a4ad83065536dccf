// The process-wide half of the MPI binding: initialisation once per process, the communicator table,
// and the wait every call ends in. The wait polls MPI_Test (which also drives Open MPI's progress
// engine): briefly in a spin, since a peer process usually answers within microseconds, then yielding,
// then sleeping (backoff), so that a long wait burns no core that ranks share; between polls it checks
// the job's abort word and the call's deadline.
#include "mpi-comms.h"

#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>

#include <chrono>
#include <mutex>
#include <vector>

namespace mpib {
namespace {

std::once_flag initFlag;
std::string initError;
int initProvided = 0;
std::atomic<bool> initDone{false};

std::mutex tableMutex;
std::vector<MPI_Comm> table;  // index = handle; [0] is MPI_COMM_WORLD once initialised
std::vector<bool> dead;

double nowMs() {
  using namespace std::chrono;
  return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

// Whether this process has cores of its own: bound to at most its share of the machine's (mpirun's
// binding, one process per core or `--map-by slot:PE=n`). Open MPI tells the processes on this machine
// (OMPI_COMM_WORLD_LOCAL_SIZE); without it, or unbound, the answer is no.
bool hasOwnCores() {
  const char *local = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
  long processes = local == nullptr ? 0 : std::atol(local), cpus = sysconf(_SC_NPROCESSORS_ONLN);
  cpu_set_t set;
  CPU_ZERO(&set);
  if (processes < 1 || cpus < 1 || sched_getaffinity(0, sizeof set, &set) != 0) return false;
  return long(CPU_COUNT(&set)) * processes <= cpus;
}

// How long a wait polls without giving up its core. With cores of its own, a leader's other threads are
// waiting for it (its result), so the core has nothing better to do: it spins up to kOwnSpinMs, which
// covers the other leaders' usual lateness (a yield here hands the core to each waiting thread in turn
// before the leader polls again; on 2 cores the rounds where that happened took about twice as long,
// docs/BENCHMARKS.md). Sharing cores, it spins 256 polls (a round trip between processes is a µs or
// two): the peer process may be waiting for the core.
constexpr double kOwnSpinMs = 0.05;
const bool ownCores = hasOwnCores();

// Between polls: spin (above), then yield the core for the first `yieldMs` of the wait (the peer process
// may be waiting for one: ranks outnumber cores; and Open MPI's non-blocking collectives and large
// messages progress only while polled), then sleep 50 µs at a time, so that a long wait costs no core.
void backoff(unsigned round, double startedMs, double yieldMs) {
  if (round < 256) return;
  double waitedMs = nowMs() - startedMs;
  if (ownCores && waitedMs < kOwnSpinMs) return;
  if (waitedMs < yieldMs) {
    sched_yield();
    return;
  }
  struct timespec pause = {0, 50000L};
  nanosleep(&pause, nullptr);
}

}  // namespace

std::string initOnce(int *provided) {
  std::call_once(initFlag, [] {
    int already = 0;
    MPI_Initialized(&already);
    if (!already) {
      int rc = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &initProvided);
      if (rc != MPI_SUCCESS) {
        initError = "MPI_Init_thread failed: " + errorText(rc);
        return;
      }
    } else {
      MPI_Query_thread(&initProvided);
    }
    if (initProvided < MPI_THREAD_MULTIPLE) {
      initError = "this MPI library gives thread level " + std::to_string(initProvided) +
                  ", and rank threads need MPI_THREAD_MULTIPLE (" + std::to_string(MPI_THREAD_MULTIPLE) + ")";
      return;
    }
    // Errors come back as return codes, never as the default handler's abort of the job.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    std::lock_guard<std::mutex> lock(tableMutex);
    table.push_back(MPI_COMM_WORLD);
    dead.push_back(false);
    initDone.store(true, std::memory_order_release);
  });
  *provided = initProvided;
  return initError;
}

bool initialised() { return initDone.load(std::memory_order_acquire); }

MPI_Comm commOf(int handle) {
  std::lock_guard<std::mutex> lock(tableMutex);
  if (handle < 0 || size_t(handle) >= table.size()) return MPI_COMM_NULL;
  return table[size_t(handle)];
}

int addComm(MPI_Comm comm) {
  MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
  std::lock_guard<std::mutex> lock(tableMutex);
  table.push_back(comm);
  dead.push_back(false);
  return int(table.size() - 1);
}

void freeComm(int handle) {
  MPI_Comm comm = MPI_COMM_NULL;
  bool wasDead = false;
  {
    std::lock_guard<std::mutex> lock(tableMutex);
    if (handle <= 0 || size_t(handle) >= table.size()) return;
    comm = table[size_t(handle)];
    wasDead = dead[size_t(handle)];
    table[size_t(handle)] = MPI_COMM_NULL;
  }
  // A dead communicator may have a collective pending: freeing it would be erroneous; the job ends anyway.
  if (comm != MPI_COMM_NULL && !wasDead) MPI_Comm_free(&comm);
}

void markDead(int handle) {
  std::lock_guard<std::mutex> lock(tableMutex);
  if (handle >= 0 && size_t(handle) < dead.size()) dead[size_t(handle)] = true;
}

bool isDead(int handle) {
  std::lock_guard<std::mutex> lock(tableMutex);
  return handle >= 0 && size_t(handle) < dead.size() && dead[size_t(handle)];
}

std::string errorText(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) return "MPI error " + std::to_string(code);
  return std::string(text, size_t(length));
}

int fail(ThreadState &t, int status, int code, const std::string &text) {
  t.last.status = status;
  t.last.code = code;
  t.last.text = text;
  return status;
}

int waitRequest(ThreadState &t, int handle, MPI_Request *request, double timeoutMs, const std::string &what) {
  return waitRequests(t, handle, 1, request, timeoutMs, what);
}

int waitRequests(ThreadState &t, int handle, int count, MPI_Request *requests, double timeoutMs,
                 const std::string &what) {
  double started = nowMs(), deadline = started + timeoutMs;
  for (unsigned round = 0;; round++) {
    int done = 0;
    int rc = count == 1 ? MPI_Test(requests, &done, MPI_STATUS_IGNORE)
                        : MPI_Testall(count, requests, &done, MPI_STATUSES_IGNORE);
    if (rc != MPI_SUCCESS) {
      markDead(handle);
      return fail(t, kFailed, rc, what + " failed: " + errorText(rc));
    }
    if (done) return kOk;
    if (t.abortWord != nullptr) {
      int32_t word = t.abortWord->load(std::memory_order_acquire);
      if (word != 0) {
        markDead(handle);
        return fail(t, kJobAborted, word, what + ": the job was aborted");
      }
    }
    if ((round & 15) == 15 && nowMs() > deadline) {
      markDead(handle);
      return fail(t, kTimeout, 0, what + " timed out after " + std::to_string(int64_t(timeoutMs)) + " ms");
    }
    backoff(round, started, t.yieldMs);
  }
}

int pollProbe(ThreadState &t, int handle, MPI_Comm comm, int peer, int tag, double timeoutMs, const std::string &what,
              MPI_Message *message, MPI_Status *status) {
  double started = nowMs(), deadline = started + timeoutMs;
  for (unsigned round = 0;; round++) {
    int found = 0;
    int rc = MPI_Improbe(peer, tag, comm, &found, message, status);
    if (rc != MPI_SUCCESS) return fail(t, kFailed, rc, what + " failed: " + errorText(rc));
    if (found) return kOk;
    if (t.abortWord != nullptr) {
      int32_t word = t.abortWord->load(std::memory_order_acquire);
      if (word != 0) return fail(t, kJobAborted, word, what + ": the job was aborted");
    }
    // A recv that times out leaves nothing pending: the communicator stays usable.
    if ((round & 15) == 15 && nowMs() > deadline) {
      return fail(t, kTimeout, 0, what + " timed out after " + std::to_string(int64_t(timeoutMs)) + " ms");
    }
    backoff(round, started, t.yieldMs);
  }
}

}  // namespace mpib
