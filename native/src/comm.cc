// Communicators and collectives from JavaScript. Each collective call enqueues on the communicator's own
// stream and, unless its timeout is negative, waits for that stream on the calling thread: a rank's
// blocking call occupies its own thread only (no lock is held while waiting, no thread pool is used).
// The wait is the watchdog: it polls the stream, the communicator's asynchronous error, the job's abort
// word and the call's deadline, and aborts the communicator on any failure, so that no rank hangs.
#include <sched.h>
#include <time.h>

#include <chrono>

#include "addon.h"

namespace mr {
namespace {

double nowMs() {
  using namespace std::chrono;
  return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

int fail(CommSlot &c, int status, int code, const std::string &detail) {
  c.status = status;
  c.code = code;
  c.detail = detail;
  return status;
}

void kill(CommSlot &c) {
  if (c.dead) return;
  abortComm(*c.lib, c.comm);
  c.dead = true;
}

void backoff(unsigned round) {
  if (round < 128) return;
  if (round < 2048) {
    sched_yield();
    return;
  }
  struct timespec pause = {0, round < 8192 ? 20000L : 200000L};
  nanosleep(&pause, nullptr);
}

CommSlot &slotOf(const Napi::CallbackInfo &info) {
  Instance &in = instance(info);
  int h = info[0].As<Napi::Number>().Int32Value();
  if (h < 0 || size_t(h) >= in.comms.size() || in.comms[size_t(h)]->closed) {
    throw Napi::TypeError::New(info.Env(), "not a live communicator handle: " + std::to_string(h));
  }
  return *in.comms[size_t(h)];
}

// Runs `enqueue` on the slot's stream, then waits `info[timeoutArg]` ms (negative: do not wait).
template <typename F>
Napi::Value run(const Napi::CallbackInfo &info, size_t timeoutArg, F enqueue) {
  CommSlot &c = slotOf(info);
  if (c.dead) {
    c.status = kDead;
    return Napi::Number::New(info.Env(), kDead);
  }
  useDevice(instance(info), *c.lib, c.device, info.Env());
  int rc = enqueue(c);
  if (rc != 0) return Napi::Number::New(info.Env(), fail(c, kEnqueue, rc, errorText(*c.lib, rc, c.comm)));
  return Napi::Number::New(info.Env(), waitStream(c, info[timeoutArg].As<Napi::Number>().DoubleValue()));
}

Napi::Value UniqueId(const Napi::CallbackInfo &info) {
  Library &L = loadedLibrary(info.Env(), info[0]);
  Napi::Uint8Array id = Napi::Uint8Array::New(info.Env(), idBytes(L));
  int rc = uniqueId(L, id.Data());
  if (rc != 0) throw Napi::Error::New(info.Env(), "get unique id failed: " + errorText(L, rc, nullptr));
  return id;
}

// commInit(vendor, nranks, id, rank, device) -> handle. Blocks until every rank of the id joined.
Napi::Value CommInit(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Library &L = loadedLibrary(env, info[0]);
  Napi::Uint8Array id = info[2].As<Napi::Uint8Array>();
  if (id.ByteLength() != idBytes(L)) {
    throw Napi::TypeError::New(env, "the unique id must be " + std::to_string(idBytes(L)) + " bytes, got " +
                                        std::to_string(id.ByteLength()));
  }
  auto slot = std::make_unique<CommSlot>();
  slot->lib = &L;
  slot->device = intArg(info[4]);
  Instance &in = instance(info);
  useDevice(in, L, slot->device, env);
  int rc = initRank(L, &slot->comm, intArg(info[1]), id.Data(), intArg(info[3]));
  if (rc != 0) throw Napi::Error::New(env, "communicator init failed: " + errorText(L, rc, nullptr) + " (code " + std::to_string(rc) + ")");
  rc = streamCreate(L, &slot->stream);
  if (rc != 0) {
    destroyComm(L, slot->comm);
    throw Napi::Error::New(env, "stream create failed: " + runtimeErrorText(L, rc));
  }
  in.comms.push_back(std::move(slot));
  return Napi::Number::New(env, double(in.comms.size() - 1));
}

// commWatch(handle, int32Array, index): the wait also ends (and aborts) when that word becomes non-zero.
Napi::Value CommWatch(const Napi::CallbackInfo &info) {
  CommSlot &c = slotOf(info);
  Napi::Int32Array words = info[1].As<Napi::Int32Array>();
  size_t index = sizeArg(info[2]);
  if (index >= words.ElementLength()) throw Napi::RangeError::New(info.Env(), "abort word index out of range");
  c.abortWord = reinterpret_cast<const std::atomic<int32_t> *>(words.Data() + index);
  c.abortKeep = Napi::Persistent(Napi::Value(words));
  return info.Env().Undefined();
}

// commDestroy(handle, abort): ends the communicator (abort: without waiting for its peers) and its stream.
Napi::Value CommDestroy(const Napi::CallbackInfo &info) {
  CommSlot &c = slotOf(info);
  if (!c.dead) {
    if (info[1].ToBoolean()) abortComm(*c.lib, c.comm);
    else destroyComm(*c.lib, c.comm);
    c.dead = true;
  }
  if (c.timerStart != nullptr) {
    eventDestroy(*c.lib, c.timerStart);
    eventDestroy(*c.lib, c.timerEnd);
  }
  streamDestroy(*c.lib, c.stream);
  c.closed = true;
  c.abortKeep.Reset();
  return info.Env().Undefined();
}

// commFault(handle, mode, after) -> false unless the library is a CPU shim with the fault seam.
Napi::Value CommFault(const Napi::CallbackInfo &info) {
  CommSlot &c = slotOf(info);
  if (c.lib->shim.fault == nullptr) return Napi::Boolean::New(info.Env(), false);
  c.lib->shim.fault(c.comm, intArg(info[1]), long(info[2].As<Napi::Number>().Int64Value()));
  return Napi::Boolean::New(info.Env(), true);
}

Napi::Value LastError(const Napi::CallbackInfo &info) {
  CommSlot &c = slotOf(info);
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("status", c.status);
  o.Set("code", c.code);
  o.Set("text", c.detail);
  o.Set("abortValue", c.abortValue);
  return o;
}

Napi::Value AllReduce(const Napi::CallbackInfo &info) {
  return run(info, 6, [&](CommSlot &c) {
    return allReduce(*c.lib, c.comm, c.stream, pointerArg(info[1]), pointerArg(info[2]), sizeArg(info[3]),
                     intArg(info[4]), intArg(info[5]));
  });
}

Napi::Value AllGather(const Napi::CallbackInfo &info) {
  return run(info, 5, [&](CommSlot &c) {
    return allGather(*c.lib, c.comm, c.stream, pointerArg(info[1]), pointerArg(info[2]), sizeArg(info[3]),
                     intArg(info[4]));
  });
}

Napi::Value ReduceScatter(const Napi::CallbackInfo &info) {
  return run(info, 6, [&](CommSlot &c) {
    return reduceScatter(*c.lib, c.comm, c.stream, pointerArg(info[1]), pointerArg(info[2]), sizeArg(info[3]),
                         intArg(info[4]), intArg(info[5]));
  });
}

Napi::Value Broadcast(const Napi::CallbackInfo &info) {
  return run(info, 6, [&](CommSlot &c) {
    return broadcast(*c.lib, c.comm, c.stream, pointerArg(info[1]), pointerArg(info[2]), sizeArg(info[3]),
                     intArg(info[4]), intArg(info[5]));
  });
}

Napi::Value Reduce(const Napi::CallbackInfo &info) {
  return run(info, 7, [&](CommSlot &c) {
    return reduce(*c.lib, c.comm, c.stream, pointerArg(info[1]), pointerArg(info[2]), sizeArg(info[3]),
                  intArg(info[4]), intArg(info[5]), intArg(info[6]));
  });
}

// send(handle, pointer, count, dtype, peer, timeoutMs) and recv(...): point to point.
Napi::Value Send(const Napi::CallbackInfo &info) {
  return run(info, 5, [&](CommSlot &c) {
    return sendTo(*c.lib, c.comm, c.stream, pointerArg(info[1]), sizeArg(info[2]), intArg(info[3]), intArg(info[4]));
  });
}

Napi::Value Recv(const Napi::CallbackInfo &info) {
  return run(info, 5, [&](CommSlot &c) {
    return recvFrom(*c.lib, c.comm, c.stream, pointerArg(info[1]), sizeArg(info[2]), intArg(info[3]), intArg(info[4]));
  });
}

// batch(handle, Float64Array [isRecv, pointer, count, dtype, peer] * n, timeoutMs): sends and receives
// in one group, so that they progress together (an exchange in both directions cannot deadlock).
Napi::Value Batch(const Napi::CallbackInfo &info) {
  Napi::Float64Array ops = info[1].As<Napi::Float64Array>();
  return run(info, 2, [&](CommSlot &c) {
    const Library &L = *c.lib;
    int rc = groupStart(L);
    if (rc != 0) return rc;
    for (size_t i = 0; rc == 0 && i + 5 <= ops.ElementLength(); i += 5) {
      void *ptr = reinterpret_cast<void *>(uintptr_t(ops[i + 1]));
      size_t count = size_t(ops[i + 2]);
      int dtype = int(ops[i + 3]), peer = int(ops[i + 4]);
      rc = ops[i] != 0 ? recvFrom(L, c.comm, c.stream, ptr, count, dtype, peer)
                       : sendTo(L, c.comm, c.stream, ptr, count, dtype, peer);
    }
    int end = groupEnd(L);
    return rc != 0 ? rc : end;
  });
}

// copy2d(handle, dst, dpitch, src, spitch, width, height, timeoutMs): device to device, on the stream.
Napi::Value Copy2d(const Napi::CallbackInfo &info) {
  CommSlot &c = slotOf(info);
  int rc = c.dead ? 0 : copy2dAsync(*c.lib, c.stream, pointerArg(info[1]), sizeArg(info[2]), pointerArg(info[3]),
                                    sizeArg(info[4]), sizeArg(info[5]), sizeArg(info[6]));
  if (rc != 0) return Napi::Number::New(info.Env(), fail(c, kRuntime, rc, runtimeErrorText(*c.lib, rc)));
  return run(info, 7, [](CommSlot &) { return 0; });
}

Napi::Value Sync(const Napi::CallbackInfo &info) {
  return run(info, 1, [](CommSlot &) { return 0; });
}

// timerStart(handle): records an event on the communicator's stream; timerStop(handle) records another,
// waits for it and returns the milliseconds between them on the device's clock (the time of the work
// enqueued in between, as cudaEventElapsedTime measures it).
Napi::Value TimerStart(const Napi::CallbackInfo &info) {
  CommSlot &c = slotOf(info);
  const Library &L = *c.lib;
  useDevice(instance(info), *c.lib, c.device, info.Env());
  if (c.timerStart == nullptr && (eventCreate(L, &c.timerStart) != 0 || eventCreate(L, &c.timerEnd) != 0)) {
    throw Napi::Error::New(info.Env(), "event create failed");
  }
  int rc = eventRecord(L, c.timerStart, c.stream);
  if (rc != 0) throw Napi::Error::New(info.Env(), "event record failed: " + runtimeErrorText(L, rc));
  return info.Env().Undefined();
}

Napi::Value TimerStop(const Napi::CallbackInfo &info) {
  CommSlot &c = slotOf(info);
  const Library &L = *c.lib;
  if (c.timerStart == nullptr) throw Napi::Error::New(info.Env(), "timerStop without timerStart");
  float ms = 0;
  int rc = eventRecord(L, c.timerEnd, c.stream);
  if (rc == 0) rc = eventElapsed(L, c.timerStart, c.timerEnd, &ms);
  if (rc != 0) throw Napi::Error::New(info.Env(), "event timing failed: " + runtimeErrorText(L, rc));
  return Napi::Number::New(info.Env(), ms);
}

// benchLoop(handle, send, recv, count, iters) -> mean ns per float32 sum all-reduce, driven from C on this
// thread and this communicator: enqueue, then poll the stream (no watchdog). The baseline of the overhead
// measurement, alternated with the JavaScript loops on the same threads.
Napi::Value BenchLoop(const Napi::CallbackInfo &info) {
  CommSlot &c = slotOf(info);
  const Library &L = *c.lib;
  void *send = pointerArg(info[1]), *recv = pointerArg(info[2]);
  size_t count = sizeArg(info[3]);
  int iters = intArg(info[4]);
  const int f32 = L.vendor == kNccl ? 7 : 4;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < iters; i++) {
    allReduce(L, c.comm, c.stream, send, recv, count, f32, 0);
    for (unsigned round = 0; streamQuery(L, c.stream) != 0; round++) backoff(round);
  }
  auto end = std::chrono::steady_clock::now();
  return Napi::Number::New(info.Env(), std::chrono::duration<double, std::nano>(end - start).count() / iters);
}

}  // namespace

int waitStream(CommSlot &c, double timeoutMs) {
  if (timeoutMs < 0) return kOk;
  const Library &L = *c.lib;
  double deadline = nowMs() + timeoutMs;
  for (unsigned round = 0;; round++) {
    int q = streamQuery(L, c.stream);
    if (q == 0 || (round & 15) == 15) {
      int e = asyncError(L, c.comm);
      if (e != 0) {
        std::string text = errorText(L, e, c.comm);
        kill(c);
        return fail(c, kAsync, e, text);
      }
      if (q == 0) return kOk;
    }
    if (q < 0) {
      kill(c);
      return fail(c, kRuntime, -q, runtimeErrorText(L, -q));
    }
    if ((round & 15) == 15) {
      int word = c.abortWord != nullptr ? c.abortWord->load(std::memory_order_acquire) : 0;
      if (word != 0) {
        kill(c);
        c.abortValue = word;
        return fail(c, kJobAborted, 0, "the job was aborted");
      }
      if (nowMs() > deadline) {
        kill(c);
        return fail(c, kTimeout, 0, "timed out after " + std::to_string(long(timeoutMs)) + " ms");
      }
    }
    backoff(round);
  }
}

void initComm(Napi::Env env, Napi::Object exports) {
  exports.Set("uniqueId", Napi::Function::New(env, UniqueId, "uniqueId"));
  exports.Set("commInit", Napi::Function::New(env, CommInit, "commInit"));
  exports.Set("commWatch", Napi::Function::New(env, CommWatch, "commWatch"));
  exports.Set("commDestroy", Napi::Function::New(env, CommDestroy, "commDestroy"));
  exports.Set("commFault", Napi::Function::New(env, CommFault, "commFault"));
  exports.Set("lastError", Napi::Function::New(env, LastError, "lastError"));
  exports.Set("allReduce", Napi::Function::New(env, AllReduce, "allReduce"));
  exports.Set("allGather", Napi::Function::New(env, AllGather, "allGather"));
  exports.Set("reduceScatter", Napi::Function::New(env, ReduceScatter, "reduceScatter"));
  exports.Set("broadcast", Napi::Function::New(env, Broadcast, "broadcast"));
  exports.Set("reduce", Napi::Function::New(env, Reduce, "reduce"));
  exports.Set("send", Napi::Function::New(env, Send, "send"));
  exports.Set("recv", Napi::Function::New(env, Recv, "recv"));
  exports.Set("batch", Napi::Function::New(env, Batch, "batch"));
  exports.Set("copy2d", Napi::Function::New(env, Copy2d, "copy2d"));
  exports.Set("sync", Napi::Function::New(env, Sync, "sync"));
  exports.Set("benchLoop", Napi::Function::New(env, BenchLoop, "benchLoop"));
  exports.Set("timerStart", Napi::Function::New(env, TimerStart, "timerStart"));
  exports.Set("timerStop", Napi::Function::New(env, TimerStop, "timerStop"));
}

}  // namespace mr
