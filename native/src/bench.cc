// The baseline of docs/BENCHMARKS.md: the loaded library driven from C, with no JavaScript in the loop.
// benchC(vendor, ranks, iters, count) starts `ranks` threads; each makes a communicator and a stream,
// warms up, then times `iters` all-reduces of `count` float32 elements, each enqueued and then waited for
// by polling the stream (what a C program does), and returns every rank's mean time per call in ns.
// It blocks the calling thread; it is meant for benchmarks, not for rank code.
#include <sched.h>

#include <chrono>
#include <thread>

#include "addon.h"

namespace mr {
namespace {

struct Run {
  Library *lib;
  std::vector<uint8_t> id;
  int ranks, iters;
  size_t count;
  std::atomic<int> arrived{0};
  std::vector<double> ns;
  std::vector<std::string> errors;
};

void arrive(std::atomic<int> &counter, int target) {
  counter.fetch_add(1);
  while (counter.load() < target) sched_yield();
}

void rankBody(Run &run, int rank) {
  const Library &L = *run.lib;
  const int f32 = L.vendor == kNccl ? 7 : 4;
  Ptr comm = nullptr, stream = nullptr;
  void *send = nullptr, *recv = nullptr;
  size_t bytes = run.count * 4;
  if (setDevice(L, 0) != 0 || initRank(L, &comm, run.ranks, run.id.data(), rank) != 0 ||
      streamCreate(L, &stream) != 0 || deviceMalloc(L, &send, bytes) != 0 || deviceMalloc(L, &recv, bytes) != 0) {
    run.errors[size_t(rank)] = "setup failed";
    arrive(run.arrived, run.ranks);
    return;
  }
  auto once = [&]() {
    allReduce(L, comm, stream, send, recv, run.count, f32, 0);
    for (unsigned round = 0; streamQuery(L, stream) != 0; round++) {
      if (round > 128) sched_yield();
    }
  };
  for (int i = 0; i < 200; i++) once();
  arrive(run.arrived, run.ranks);
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < run.iters; i++) once();
  auto end = std::chrono::steady_clock::now();
  run.ns[size_t(rank)] = std::chrono::duration<double, std::nano>(end - start).count() / run.iters;
  streamDestroy(L, stream);
  deviceFree(L, send);
  deviceFree(L, recv);
  destroyComm(L, comm);
}

Napi::Value BenchC(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Run run;
  run.lib = &loadedLibrary(env, info[0]);
  run.ranks = intArg(info[1]);
  run.iters = intArg(info[2]);
  run.count = sizeArg(info[3]);
  run.id.resize(idBytes(*run.lib));
  run.ns.assign(size_t(run.ranks), 0);
  run.errors.assign(size_t(run.ranks), "");
  if (uniqueId(*run.lib, run.id.data()) != 0) throw Napi::Error::New(env, "get unique id failed");
  std::vector<std::thread> threads;
  for (int r = 0; r < run.ranks; r++) threads.emplace_back(rankBody, std::ref(run), r);
  for (std::thread &t : threads) t.join();
  Napi::Array out = Napi::Array::New(env, size_t(run.ranks));
  for (int r = 0; r < run.ranks; r++) {
    if (!run.errors[size_t(r)].empty()) throw Napi::Error::New(env, "rank " + std::to_string(r) + ": " + run.errors[size_t(r)]);
    out.Set(uint32_t(r), run.ns[size_t(r)]);
  }
  return out;
}

}  // namespace

void initBench(Napi::Env env, Napi::Object exports) {
  exports.Set("benchC", Napi::Function::New(env, BenchC, "benchC"));
}

}  // namespace mr
