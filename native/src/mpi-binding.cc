// The MPI binding (multirank_mpi.node, linked against the MPI library found at build time): Node-API
// functions over MPI for the `mpi` backend. Context-aware: each rank thread loads its own instance, and
// all instances share the process's MPI (initialised once, MPI_THREAD_MULTIPLE) and communicator table
// (mpi-comms.cc). Buffers are Uint8Arrays (over an ArrayBuffer or a SharedArrayBuffer); MPI moves bytes.
// Calls that can wait return a Status (0 done; lastError() says why not) and never throw for a failure at
// run time; arguments that cannot be right throw a TypeError or RangeError naming them.
#include <napi.h>

#include <cstring>

#include "mpi-comms.h"

namespace mpib {
namespace {

constexpr int kTagLimit = 32767;        // MPI guarantees at least this MPI_TAG_UB
constexpr int kCollectiveTag = kTagLimit - 1;  // allGatherDirect's messages (point-to-point tags stay below)

ThreadState &state(const Napi::CallbackInfo &info) { return *info.Env().GetInstanceData<ThreadState>(); }

struct Bytes {
  uint8_t *data;
  size_t length;
};

Bytes bytesArg(const Napi::CallbackInfo &info, size_t index, const char *name) {
  napi_value value = info[index];
  bool isTyped = false;
  napi_is_typedarray(info.Env(), value, &isTyped);
  if (!isTyped) throw Napi::TypeError::New(info.Env(), std::string("`") + name + "` must be a Uint8Array");
  napi_typedarray_type type;
  size_t length = 0;
  void *data = nullptr;
  napi_get_typedarray_info(info.Env(), value, &type, &length, &data, nullptr, nullptr);
  if (type != napi_uint8_array) {
    throw Napi::TypeError::New(info.Env(), std::string("`") + name + "` must be a Uint8Array");
  }
  return Bytes{static_cast<uint8_t *>(data), length};
}

int intArg(const Napi::CallbackInfo &info, size_t index, const char *name) {
  if (!info[index].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string("`") + name + "` must be a number");
  return info[index].As<Napi::Number>().Int32Value();
}

double msArg(const Napi::CallbackInfo &info, size_t index) {
  if (!info[index].IsNumber()) throw Napi::TypeError::New(info.Env(), "`timeoutMs` must be a number");
  return info[index].As<Napi::Number>().DoubleValue();
}

void requireInit(const Napi::Env &env) {
  if (!initialised()) throw Napi::Error::New(env, "MPI is not initialised: call init() first");
}

// The live communicator of argument 0, or a status: kDead when an earlier call on it timed out or aborted.
MPI_Comm commArg(const Napi::CallbackInfo &info, int *handle) {
  requireInit(info.Env());
  *handle = intArg(info, 0, "handle");
  MPI_Comm comm = commOf(*handle);
  if (comm == MPI_COMM_NULL) {
    throw Napi::RangeError::New(info.Env(), "not a live MPI communicator handle: " + std::to_string(*handle));
  }
  return comm;
}

Napi::Value result(const Napi::CallbackInfo &info, int status) { return Napi::Number::New(info.Env(), status); }

// Posts with `post` (returns an MPI code), then waits. The common path of every operation that can wait.
template <typename Post>
Napi::Value run(const Napi::CallbackInfo &info, int handle, double timeoutMs, const std::string &what, Post post,
                size_t bytes) {
  ThreadState &t = state(info);
  t.last = CallError{};
  t.yieldMs = yieldWindowMs(bytes);
  if (isDead(handle)) return result(info, fail(t, kDead, 0, what + ": the communicator failed earlier"));
  MPI_Request request = MPI_REQUEST_NULL;
  int rc = post(&request);
  if (rc != MPI_SUCCESS) return result(info, fail(t, kPost, rc, what + " failed: " + errorText(rc)));
  return result(info, waitRequest(t, handle, &request, timeoutMs, what));
}

Napi::Value Init(const Napi::CallbackInfo &info) {
  int provided = 0;
  std::string error = initOnce(&provided);
  if (!error.empty()) throw Napi::Error::New(info.Env(), error);
  int rank = 0, size = 0, versionLength = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  char version[MPI_MAX_LIBRARY_VERSION_STRING];
  MPI_Get_library_version(version, &versionLength);
  std::string library(version, size_t(versionLength));
  size_t cut = library.find_first_of(",\n");
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("rank", rank);
  o.Set("size", size);
  o.Set("threadLevel", provided);
  o.Set("library", cut == std::string::npos ? library : library.substr(0, cut));
  return o;
}

// commCreate(parent, ranks: Int32Array (ranks in parent, this process among them), tag, timeoutMs) -> handle
// or -1 (lastError). Members first meet in a handshake with a deadline (each tells each the hash of its
// rank list, so members that disagree fail instead of hanging), then MPI_Comm_create_group, which
// involves only the members.
Napi::Value CommCreate(const Napi::CallbackInfo &info) {
  int parentHandle = 0;
  MPI_Comm parent = commArg(info, &parentHandle);
  Napi::Int32Array ranks = info[1].As<Napi::Int32Array>();
  int tag = intArg(info, 2, "tag");
  double timeoutMs = msArg(info, 3);
  if (tag < 0 || tag >= kTagLimit) throw Napi::RangeError::New(info.Env(), "`tag` must be in 0..32766");
  int me = 0, parentSize = 0;
  MPI_Comm_rank(parent, &me);
  MPI_Comm_size(parent, &parentSize);
  std::vector<int> members(ranks.Data(), ranks.Data() + ranks.ElementLength());
  uint32_t hash = 2166136261u;
  bool found = false;
  for (int r : members) {
    if (r < 0 || r >= parentSize) {
      throw Napi::RangeError::New(info.Env(), "rank " + std::to_string(r) + " is not in the parent");
    }
    found = found || r == me;
    hash = (hash ^ uint32_t(r)) * 16777619u;
  }
  if (!found) throw Napi::RangeError::New(info.Env(), "this process (" + std::to_string(me) + ") is not a member");
  ThreadState &t = state(info);
  t.yieldMs = yieldWindowMs(0);
  std::vector<uint32_t> theirs(members.size());
  for (size_t i = 0; i < members.size(); i++) {
    if (members[i] == me) continue;
    MPI_Request rq[2];
    MPI_Irecv(&theirs[i], 1, MPI_UINT32_T, members[i], tag, parent, &rq[0]);
    MPI_Isend(&hash, 1, MPI_UINT32_T, members[i], tag, parent, &rq[1]);
    std::string what =
        "group creation (tag " + std::to_string(tag) + ") waiting for process " + std::to_string(members[i]);
    for (MPI_Request &r : rq) {
      if (waitRequest(t, parentHandle, &r, timeoutMs, what) != kOk) return Napi::Number::New(info.Env(), -1);
    }
    if (theirs[i] != hash) {
      fail(t, kFailed, 0, "group creation (tag " + std::to_string(tag) + "): process " + std::to_string(members[i]) +
                              " creates a group of other members");
      return Napi::Number::New(info.Env(), -1);
    }
  }
  MPI_Group parentGroup, group;
  MPI_Comm_group(parent, &parentGroup);
  MPI_Group_incl(parentGroup, int(members.size()), members.data(), &group);
  MPI_Comm comm = MPI_COMM_NULL;
  int rc = MPI_Comm_create_group(parent, group, tag, &comm);
  MPI_Group_free(&group);
  MPI_Group_free(&parentGroup);
  if (rc != MPI_SUCCESS) {
    fail(t, kFailed, rc, "MPI_Comm_create_group failed: " + errorText(rc));
    return Napi::Number::New(info.Env(), -1);
  }
  return Napi::Number::New(info.Env(), addComm(comm));
}

// commSplit(parent, color (< 0: none), key, timeoutMs) -> handle, -2 (no color), or -1 (lastError).
// Every process of the parent calls it; a barrier with a deadline comes first, so nobody hangs in the split.
Napi::Value CommSplit(const Napi::CallbackInfo &info) {
  int handle = 0;
  MPI_Comm parent = commArg(info, &handle);
  int color = intArg(info, 1, "color"), key = intArg(info, 2, "key");
  Napi::Value barrier = run(info, handle, msArg(info, 3), "commSplit", [&](MPI_Request *r) {
    return MPI_Ibarrier(parent, r);
  }, 0);
  if (barrier.As<Napi::Number>().Int32Value() != kOk) return Napi::Number::New(info.Env(), -1);
  MPI_Comm comm = MPI_COMM_NULL;
  int rc = MPI_Comm_split(parent, color < 0 ? MPI_UNDEFINED : color, key, &comm);
  if (rc != MPI_SUCCESS) {
    fail(state(info), kFailed, rc, "MPI_Comm_split failed: " + errorText(rc));
    return Napi::Number::New(info.Env(), -1);
  }
  return Napi::Number::New(info.Env(), comm == MPI_COMM_NULL ? -2 : addComm(comm));
}

Napi::Value CommRank(const Napi::CallbackInfo &info) {
  int handle = 0, rank = 0;
  MPI_Comm_rank(commArg(info, &handle), &rank);
  return Napi::Number::New(info.Env(), rank);
}

Napi::Value CommSize(const Napi::CallbackInfo &info) {
  int handle = 0, size = 0;
  MPI_Comm_size(commArg(info, &handle), &size);
  return Napi::Number::New(info.Env(), size);
}

Napi::Value CommFree(const Napi::CallbackInfo &info) {
  int handle = intArg(info, 0, "handle");
  if (handle > 0) freeComm(handle);
  return info.Env().Undefined();
}

int commSize(MPI_Comm comm) {
  int size = 0;
  MPI_Comm_size(comm, &size);
  return size;
}

// allGather(h, send, recv, timeoutMs): recv holds size x send.length bytes, in rank order.
Napi::Value AllGather(const Napi::CallbackInfo &info) {
  int h = 0;
  MPI_Comm comm = commArg(info, &h);
  Bytes send = bytesArg(info, 1, "send"), recv = bytesArg(info, 2, "recv");
  if (recv.length != send.length * size_t(commSize(comm))) {
    throw Napi::RangeError::New(info.Env(), "`recv` must hold size x send bytes");
  }
  return run(info, h, msArg(info, 3), "allGather", [&](MPI_Request *r) {
    return MPI_Iallgather(send.data, int(send.length), MPI_BYTE, recv.data, int(send.length), MPI_BYTE, comm, r);
  }, recv.length);
}

// allGatherDirect(h, send, recv, timeoutMs): as allGather, by point to point (each process sends its bytes to
// every other): for small inputs over few processes Open MPI's point to point answers in a fraction of
// the time of its non-blocking collectives (libnbc). Tag kCollectiveTag, which no send/recv uses.
Napi::Value AllGatherDirect(const Napi::CallbackInfo &info) {
  int h = 0;
  MPI_Comm comm = commArg(info, &h);
  Bytes send = bytesArg(info, 1, "send"), recv = bytesArg(info, 2, "recv");
  int size = commSize(comm), me = 0;
  MPI_Comm_rank(comm, &me);
  if (recv.length != send.length * size_t(size)) {
    throw Napi::RangeError::New(info.Env(), "`recv` must hold size x send bytes");
  }
  ThreadState &t = state(info);
  t.last = CallError{};
  t.yieldMs = yieldWindowMs(recv.length);
  if (isDead(h)) return result(info, fail(t, kDead, 0, "allGather: the communicator failed earlier"));
  std::memcpy(recv.data + size_t(me) * send.length, send.data, send.length);
  // a latency path: the requests live on the stack when they fit (the callers use it for few processes)
  constexpr int kStackRequests = 32;
  MPI_Request onStack[kStackRequests];
  std::vector<MPI_Request> onHeap;
  MPI_Request *requests = onStack;
  if (2 * size > kStackRequests) {
    onHeap.resize(size_t(2 * size));
    requests = onHeap.data();
  }
  int count = 0, n = int(send.length);
  for (int peer = 0; peer < size; peer++) {
    if (peer == me) continue;
    int rc = MPI_Irecv(recv.data + size_t(peer) * send.length, n, MPI_BYTE, peer, kCollectiveTag, comm,
                       &requests[count]);
    if (rc == MPI_SUCCESS) {
      rc = MPI_Isend(send.data, n, MPI_BYTE, peer, kCollectiveTag, comm, &requests[count + 1]);
    }
    if (rc != MPI_SUCCESS) {
      markDead(h);
      return result(info, fail(t, kPost, rc, "allGather failed: " + errorText(rc)));
    }
    count += 2;
  }
  if (count == 0) return result(info, kOk);
  return result(info, waitRequests(t, h, count, requests, msArg(info, 3), "allGather"));
}

// allToAll(h, send, recv, timeoutMs): block j of send goes to rank j; block j of recv came from rank j.
Napi::Value AllToAll(const Napi::CallbackInfo &info) {
  int h = 0;
  MPI_Comm comm = commArg(info, &h);
  Bytes send = bytesArg(info, 1, "send"), recv = bytesArg(info, 2, "recv");
  size_t size = size_t(commSize(comm));
  if (send.length % size != 0 || recv.length != send.length) {
    throw Napi::RangeError::New(info.Env(), "`send` must split into size blocks and `recv` be as long");
  }
  int block = int(send.length / size);
  return run(info, h, msArg(info, 3), "allToAll", [&](MPI_Request *r) {
    return MPI_Ialltoall(send.data, block, MPI_BYTE, recv.data, block, MPI_BYTE, comm, r);
  }, send.length);
}

// broadcast(h, buf, root, timeoutMs): root's bytes into every member's buf.
Napi::Value Broadcast(const Napi::CallbackInfo &info) {
  int h = 0;
  MPI_Comm comm = commArg(info, &h);
  Bytes buf = bytesArg(info, 1, "buf");
  int root = intArg(info, 2, "root");
  if (root < 0 || root >= commSize(comm)) {
    throw Napi::RangeError::New(info.Env(), "`root` is not a rank of the communicator");
  }
  return run(info, h, msArg(info, 3), "broadcast", [&](MPI_Request *r) {
    return MPI_Ibcast(buf.data, int(buf.length), MPI_BYTE, root, comm, r);
  }, buf.length);
}

Napi::Value Barrier(const Napi::CallbackInfo &info) {
  int h = 0;
  MPI_Comm comm = commArg(info, &h);
  return run(info, h, msArg(info, 1), "barrier", [&](MPI_Request *r) { return MPI_Ibarrier(comm, r); }, 0);
}

// Arguments `index` (the peer, returned) and `index + 1` (the tag) of a point-to-point call on comm, checked.
int peerArgs(const Napi::CallbackInfo &info, MPI_Comm comm, size_t index, int *tagOut) {
  int peer = intArg(info, index, "peer"), tag = intArg(info, index + 1, "tag");
  if (peer < 0 || peer >= commSize(comm)) {
    throw Napi::RangeError::New(info.Env(), "`peer` is not a rank of the communicator");
  }
  if (tag < 0 || tag >= kCollectiveTag) throw Napi::RangeError::New(info.Env(), "`tag` must be in 0..32765");
  *tagOut = tag;
  return peer;
}

// Completes the finished eager sends of this thread; returns how many to (handle, peer) are still on their way.
size_t reapSends(ThreadState &t, int handle, int peer) {
  size_t left = 0;
  for (auto it = t.sends.begin(); it != t.sends.end();) {
    int done = 0;
    MPI_Test(&it->request, &done, MPI_STATUS_IGNORE);
    if (done) {
      it->buffer.Reset();
      it = t.sends.erase(it);
      continue;
    }
    if (it->handle == handle && (peer < 0 || it->peer == peer)) left++;
    ++it;
  }
  return left;
}

// isend(h, buf, peer, tag): posts an eager send of buf (the caller's private copy) and returns at once.
Napi::Value Isend(const Napi::CallbackInfo &info) {
  int h = 0;
  MPI_Comm comm = commArg(info, &h);
  Bytes buf = bytesArg(info, 1, "buf");
  int tag = 0, peer = peerArgs(info, comm, 2, &tag);
  ThreadState &t = state(info);
  t.last = CallError{};
  if (isDead(h)) return result(info, fail(t, kDead, 0, "send: the communicator failed earlier"));
  PendingSend pending{h, peer, MPI_REQUEST_NULL, Napi::Persistent(info[1])};
  int rc = MPI_Isend(buf.data, int(buf.length), MPI_BYTE, peer, tag, comm, &pending.request);
  if (rc != MPI_SUCCESS) return result(info, fail(t, kPost, rc, "send failed: " + errorText(rc)));
  t.sends.push_back(std::move(pending));
  return result(info, kOk);
}

// waitSends(h, peer (< 0: all), most, timeoutMs): waits until at most `most` sends to peer are on their way.
Napi::Value WaitSends(const Napi::CallbackInfo &info) {
  int h = 0;
  commArg(info, &h);
  int peer = intArg(info, 1, "peer"), most = intArg(info, 2, "most");
  double timeoutMs = msArg(info, 3);
  ThreadState &t = state(info);
  t.last = CallError{};
  while (reapSends(t, h, peer) > size_t(most)) {
    for (PendingSend &p : t.sends) {
      if (p.handle != h || (peer >= 0 && p.peer != peer)) continue;
      std::string what = "send to " + std::to_string(p.peer) + " (waiting for the receiver to take an earlier message)";
      t.yieldMs = yieldWindowMs(p.buffer.Value().As<Napi::TypedArray>().ByteLength());
      int rc = waitRequest(t, h, &p.request, timeoutMs, what);
      if (rc != kOk) return result(info, rc);
      break;
    }
  }
  return result(info, kOk);
}

// probeWait(h, peer, tag, timeoutMs) -> byte count of the next message from peer (matched: recvMatched
// receives exactly that one, whatever other threads do), or -1 (lastError).
Napi::Value ProbeWait(const Napi::CallbackInfo &info) {
  int h = 0;
  MPI_Comm comm = commArg(info, &h);
  int tag = 0, peer = peerArgs(info, comm, 1, &tag);
  ThreadState &t = state(info);
  t.last = CallError{};
  if (isDead(h)) {
    fail(t, kDead, 0, "recv: the communicator failed earlier");
    return Napi::Number::New(info.Env(), -1);
  }
  double timeoutMs = msArg(info, 3);
  t.yieldMs = yieldWindowMs(0);
  std::string what = "recv from process " + std::to_string(peer);
  // An Ibarrier-free wait: poll MPI_Improbe with the same backoff, deadline and abort word as every wait.
  MPI_Status status;
  int rc = pollProbe(t, h, comm, peer, tag, timeoutMs, what, &t.matched, &status);
  if (rc != kOk) return Napi::Number::New(info.Env(), -1);
  int count = 0;
  MPI_Get_count(&status, MPI_BYTE, &count);
  t.matchedHandle = h;
  return Napi::Number::New(info.Env(), count);
}

// recvMatched(buf): receives the message probeWait found into buf (exactly its size). Status.
Napi::Value RecvMatched(const Napi::CallbackInfo &info) {
  ThreadState &t = state(info);
  Bytes buf = bytesArg(info, 0, "buf");
  if (t.matched == MPI_MESSAGE_NULL) {
    throw Napi::Error::New(info.Env(), "recvMatched: no message was matched by probeWait");
  }
  int h = t.matchedHandle;
  MPI_Message message = t.matched;
  t.matched = MPI_MESSAGE_NULL;
  return run(info, h, 1e12, "recv", [&](MPI_Request *r) {
    return MPI_Imrecv(buf.data, int(buf.length), MPI_BYTE, &message, r);
  }, buf.length);
}

// probe(h, peer, tag) -> the byte count of a waiting message, or -1. Never waits.
Napi::Value Probe(const Napi::CallbackInfo &info) {
  int h = 0;
  MPI_Comm comm = commArg(info, &h);
  int tag = 0, peer = peerArgs(info, comm, 1, &tag);
  int flag = 0, count = -1;
  MPI_Status status;
  if (MPI_Iprobe(peer, tag, comm, &flag, &status) == MPI_SUCCESS && flag) MPI_Get_count(&status, MPI_BYTE, &count);
  return Napi::Number::New(info.Env(), flag ? count : -1);
}

// watch(words: Int32Array, index) / watch(null): this thread's waits also end when that word is non-zero.
Napi::Value Watch(const Napi::CallbackInfo &info) {
  ThreadState &t = state(info);
  if (info[0].IsNull() || info[0].IsUndefined()) {
    t.abortWord = nullptr;
    return info.Env().Undefined();
  }
  Napi::Int32Array words = info[0].As<Napi::Int32Array>();
  size_t index = size_t(intArg(info, 1, "index"));
  if (index >= words.ElementLength()) throw Napi::RangeError::New(info.Env(), "`index` is outside `words`");
  t.abortWord = reinterpret_cast<const std::atomic<int32_t> *>(words.Data() + index);
  return info.Env().Undefined();
}

Napi::Value LastError(const Napi::CallbackInfo &info) {
  ThreadState &t = state(info);
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("status", t.last.status);
  o.Set("code", t.last.code);
  o.Set("text", t.last.text);
  return o;
}

// abort(code): MPI_Abort on the world; mpirun ends every process of the job with that code.
Napi::Value Abort(const Napi::CallbackInfo &info) {
  requireInit(info.Env());
  MPI_Abort(MPI_COMM_WORLD, intArg(info, 0, "code"));
  return info.Env().Undefined();
}

// finalize(): MPI_Finalize, once, from the thread that initialised MPI (the process's driver).
Napi::Value Finalize(const Napi::CallbackInfo &info) {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (initialised() && !finalized) MPI_Finalize();
  return info.Env().Undefined();
}

Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new ThreadState());
  exports.Set("abi", Napi::Number::New(env, 1));
  const std::pair<const char *, Napi::Function::Callback> functions[] = {
      {"init", Init}, {"commCreate", CommCreate}, {"commSplit", CommSplit}, {"commRank", CommRank},
      {"commSize", CommSize}, {"commFree", CommFree}, {"allGather", AllGather}, {"allToAll", AllToAll},
      {"broadcast", Broadcast}, {"barrier", Barrier}, {"probe", Probe},
      {"allGatherDirect", AllGatherDirect}, {"isend", Isend}, {"waitSends", WaitSends}, {"probeWait", ProbeWait},
      {"recvMatched", RecvMatched},
      {"watch", Watch}, {"lastError", LastError}, {"abort", Abort}, {"finalize", Finalize},
  };
  for (const auto &f : functions) exports.Set(f.first, Napi::Function::New(env, f.second, f.first));
  return exports;
}

}  // namespace
}  // namespace mpib

static Napi::Object InitMpiAddon(Napi::Env env, Napi::Object exports) { return mpib::InitModule(env, exports); }

NODE_API_MODULE(multirank_mpi, InitMpiAddon)
