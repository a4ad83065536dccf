// The MPI binding's process-wide state and its waits. MPI is initialised once per process (not per
// addon instance: every rank thread of the process loads its own instance of the context-aware addon, but
// they share one MPI library and one table of communicators). Every operation is posted non-blocking and
// then waited for on the calling thread with a deadline and the job's abort word, so no call can hang.
#pragma once

#include <mpi.h>

#include <napi.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <string>

namespace mpib {

// Results of the calls (the same numbers as the nccl addon's Status): 0 done, else lastError() says why.
enum Status { kOk = 0, kPost = 1, kTimeout = 2, kFailed = 3, kJobAborted = 4, kDead = 6 };

// What went wrong in the last call of this thread.
struct CallError {
  int status = kOk;
  int code = 0;         // the MPI error class, or the abort word's value
  std::string text;
};

// An eager send on its way: MPI reads `buffer` (a private copy, kept alive here) until it completes.
struct PendingSend {
  int handle;
  int peer;
  MPI_Request request;
  Napi::Reference<Napi::Value> buffer;
};

// This thread's state (one per addon instance).
struct ThreadState {
  CallError last;
  const std::atomic<int32_t> *abortWord = nullptr;  // the job's abort word, when watched
  std::deque<PendingSend> sends;                    // in posting order
  MPI_Message matched = MPI_MESSAGE_NULL;           // the message probeWait found, for recvMatched
  int matchedHandle = -1;
  // How long this thread's current wait polls without sleeping (yielding the core between polls): set per
  // call from the bytes it moves (yieldWindowMs), since Open MPI moves a large message only while polled.
  double yieldMs = 2.0;
};

// The polling window of a wait that moves `bytes`: 2 ms, plus 1 ms per 100 KB (the slowest transfer
// expected on a loaded machine), so that a large transfer is never stalled by sleeps between polls.
inline double yieldWindowMs(size_t bytes) { return 2.0 + double(bytes) / 100000.0; }

// MPI_Init_thread(MPI_THREAD_MULTIPLE) once per process; returns "" or why it failed.
std::string initOnce(int *provided);
bool initialised();
// Handles: 0 is MPI_COMM_WORLD; others index the process-wide table. Invalid or freed: MPI_COMM_NULL.
MPI_Comm commOf(int handle);
int addComm(MPI_Comm comm);
void freeComm(int handle);
// A communicator whose call timed out or was aborted is dead: a collective on it may still be pending.
void markDead(int handle);
bool isDead(int handle);

std::string errorText(int code);
int fail(ThreadState &t, int status, int code, const std::string &text);
// Waits for `request` until it completes, the deadline passes, or the abort word is raised. `what`
// names the call in errors. On timeout or abort the communicator is marked dead (the request stays).
int waitRequest(ThreadState &t, int handle, MPI_Request *request, double timeoutMs, const std::string &what);
// Waits for all of `count` requests, as waitRequest.
int waitRequests(ThreadState &t, int handle, int count, MPI_Request *requests, double timeoutMs,
                 const std::string &what);
// Waits for a message from peer with tag (MPI_Improbe), as waitRequest waits; the match goes to *message.
int pollProbe(ThreadState &t, int handle, MPI_Comm comm, int peer, int tag, double timeoutMs, const std::string &what,
              MPI_Message *message, MPI_Status *status);

}  // namespace mpib
