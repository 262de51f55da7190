// Benchmarks of the etcd backend against a real etcd (HEARTLOCK_BENCH_ETCD_URL, started by
// scripts/bench.sh), as ratios against floors measured in the same run over the same transport
// (libcurl to etcd's JSON gateway, one kept-alive connection):
//   acquire+release   vs  raw Txn put-if-absent + DeleteRange                        [<= 1.3x]
//   handoff from release() to a waiter blocked in acquire()                         [<= 5 ms]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>
#include <curl/curl.h>

#include "heartlock/heartlock.h"

#include "backend_floors.h"
#include "bench_report.h"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string url() {
  const char* u = std::getenv("HEARTLOCK_BENCH_ETCD_URL");
  return u != nullptr ? u : "etcd://127.0.0.1:2379";
}

// The floor: the two requests of the simplest etcd lock (a key created only if absent, then
// deleted), as raw POSTs through libcurl.
void BM_RawEtcdTxnDelete(benchmark::State& state) {
  heartlock::bench::raw_etcd_lock_cycle(state, url());
}
BENCHMARK(BM_RawEtcdTxnDelete)->Unit(benchmark::kMicrosecond)->MeasureProcessCPUTime();

void BM_HeartlockEtcdAcquireRelease(benchmark::State& state) {
  auto store = heartlock::Store::open(url());
  if (!store) {
    state.SkipWithError(store.error().message.c_str());
    return;
  }
  for (auto _ : state) {
    auto got = (*store)->try_acquire("bench", {});
    if (!got || !got->acquired()) {
      state.SkipWithError(got ? "busy" : got.error().message.c_str());
      break;
    }
    (void)got->lease().release();
  }
}
BENCHMARK(BM_HeartlockEtcdAcquireRelease)->Unit(benchmark::kMicrosecond)->MeasureProcessCPUTime();

}  // namespace

int main(int argc, char** argv) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  benchmark::Initialize(&argc, argv);
  heartlock::bench::Collector collector;
  benchmark::RunSpecifiedBenchmarks(&collector);
  // MeasureProcessCPUTime() adds "/process_time" to the names.
  double raw = collector.time("BM_RawEtcdTxnDelete/process_time");
  double ours = collector.time("BM_HeartlockEtcdAcquireRelease/process_time");
  double raw_cpu = collector.cpu("BM_RawEtcdTxnDelete/process_time");
  double ours_cpu = collector.cpu("BM_HeartlockEtcdAcquireRelease/process_time");
  double handoff = heartlock::bench::handoff_ms(url(), 25, 50ms);
  std::printf("\nfloor: raw Txn + DeleteRange %.1f us (CPU %.2f); heartlock %.1f us (CPU %.2f)\n\n",
              raw, raw_cpu, ours, ours_cpu);
  std::printf("%-58s %9.3f x   target <= 1.3x  %s\n", "etcd acquire+release / raw Txn floor",
              ours / raw, ours / raw <= 1.3 ? "ok" : "MISSED");
  heartlock::bench::print_cpu_ratio(ours_cpu, raw_cpu, 1.3);
  std::printf("%-58s %9.3f ms  target <= 5 ms  %s\n",
              "etcd handoff from release to a blocked waiter", handoff,
              handoff <= 5 ? "ok" : "MISSED");
  return 0;
}
