// What the addon's modules share: the per-instance state (one instance per thread that loads the addon:
// it is context-aware, so every rank's worker thread has its own), communicator slots, argument helpers.
#pragma once

#include <napi.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "library.h"

namespace mr {

// Results of the collective calls (0: done). Details: lastError(handle).
enum Status { kOk = 0, kEnqueue = 1, kTimeout = 2, kAsync = 3, kJobAborted = 4, kRuntime = 5, kDead = 6 };

// One communicator of this thread: the vendor's handle, its stream, and the watchdog's state.
struct CommSlot {
  Library *lib = nullptr;
  Ptr comm = nullptr;
  Ptr stream = nullptr;
  int device = 0;
  bool dead = false;       // aborted (or destroyed): every later call fails with kDead
  bool closed = false;     // the handle was released
  const std::atomic<int32_t> *abortWord = nullptr;  // the job's abort word (shared memory), when watched
  Napi::Reference<Napi::Value> abortKeep;           // keeps that memory alive
  int status = kOk, code = 0, abortValue = 0;
  std::string detail;
  Ptr timerStart = nullptr, timerEnd = nullptr;  // events of timerStart / timerStop, made on first use
};

struct Instance {
  std::vector<std::unique_ptr<CommSlot>> comms;
  int currentDevice[2] = {-1, -1};
};

Instance &instance(const Napi::CallbackInfo &info);
Library &loadedLibrary(const Napi::Env &env, const Napi::Value &vendor);
// Makes `device` current on this thread for `L` (cached per thread and vendor).
void useDevice(Instance &in, Library &L, int device, const Napi::Env &env);
// A device pointer passed from JS as a Number (exact below 2^53).
inline void *pointerArg(const Napi::Value &v) {
  return reinterpret_cast<void *>(uintptr_t(v.As<Napi::Number>().DoubleValue()));
}
inline size_t sizeArg(const Napi::Value &v) { return size_t(v.As<Napi::Number>().DoubleValue()); }
inline int intArg(const Napi::Value &v) { return v.As<Napi::Number>().Int32Value(); }
inline Napi::Value pointerValue(const Napi::Env &env, const void *p) {
  return Napi::Number::New(env, double(uintptr_t(p)));
}

void initMemory(Napi::Env env, Napi::Object exports);
void initComm(Napi::Env env, Napi::Object exports);
void initBench(Napi::Env env, Napi::Object exports);
// The TCPStore server on a thread of its own (store-server.cc).
void initStoreServer(Napi::Env env, Napi::Object exports);
// Waits for the slot's stream: polls it, the asynchronous error, the job's abort word and the deadline,
// and aborts the communicator on any of them (the watchdog). Returns a Status.
int waitStream(CommSlot &c, double timeoutMs);

}  // namespace mr
