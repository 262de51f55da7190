// Benchmarks of the PostgreSQL backend against a real server (HEARTLOCK_BENCH_POSTGRES_URL, started
// by scripts/bench.sh), as ratios against floors measured in the same run:
//   acquire+release, lease mode  vs  raw libpq pg_try_advisory_lock + pg_advisory_unlock [<= 1.3x]
//   acquire+release, advisory mode (a pinned session per lease, kept for the next: no target)
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
#include <libpq-fe.h>

#include "heartlock/heartlock.h"

#include "backend_floors.h"
#include "bench_report.h"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string url() {
  const char* u = std::getenv("HEARTLOCK_BENCH_POSTGRES_URL");
  return u != nullptr ? u : "postgres://localhost/postgres";
}

// The floor: the two round trips of the simplest PostgreSQL lock, on one libpq connection.
void BM_RawLibpqAdvisoryLockUnlock(benchmark::State& state) {
  heartlock::bench::raw_postgres_lock_cycle(state, url());
}
BENCHMARK(BM_RawLibpqAdvisoryLockUnlock)->Unit(benchmark::kMicrosecond)->MeasureProcessCPUTime();

void acquire_release(benchmark::State& state, const std::string& store_url) {
  auto store = heartlock::Store::open(store_url);
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

void BM_HeartlockPostgresLease(benchmark::State& state) {
  acquire_release(
      state, url() + (url().find('?') == std::string::npos ? "?" : "&") + "table=bench_leases");
}
BENCHMARK(BM_HeartlockPostgresLease)->Unit(benchmark::kMicrosecond)->MeasureProcessCPUTime();

void BM_HeartlockPostgresAdvisory(benchmark::State& state) {
  acquire_release(state, url() + (url().find('?') == std::string::npos ? "?" : "&") +
                             "mode=advisory&table=bench_advisory");
}
BENCHMARK(BM_HeartlockPostgresAdvisory)->Unit(benchmark::kMicrosecond)->MeasureProcessCPUTime();

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  heartlock::bench::Collector collector;
  benchmark::RunSpecifiedBenchmarks(&collector);
  // MeasureProcessCPUTime() adds "/process_time" to the names.
  double raw = collector.time("BM_RawLibpqAdvisoryLockUnlock/process_time");
  double lease = collector.time("BM_HeartlockPostgresLease/process_time");
  double advisory = collector.time("BM_HeartlockPostgresAdvisory/process_time");
  double raw_cpu = collector.cpu("BM_RawLibpqAdvisoryLockUnlock/process_time");
  double lease_cpu = collector.cpu("BM_HeartlockPostgresLease/process_time");
  double advisory_cpu = collector.cpu("BM_HeartlockPostgresAdvisory/process_time");
  const std::string sep = url().find('?') == std::string::npos ? "?" : "&";
  double handoff = heartlock::bench::handoff_ms(url() + sep + "table=bench_handoff", 25, 50ms);
  std::printf(
      "\nfloor: raw libpq try_advisory_lock + unlock %.1f us (CPU %.2f); lease mode %.1f us "
      "(CPU %.2f); advisory mode %.1f us (CPU %.2f)\n\n",
      raw, raw_cpu, lease, lease_cpu, advisory, advisory_cpu);
  std::printf("%-58s %9.3f x   target <= 1.3x  %s\n",
              "postgres acquire+release (lease mode) / raw libpq floor", lease / raw,
              lease / raw <= 1.3 ? "ok" : "MISSED");
  heartlock::bench::print_cpu_ratio(lease_cpu, raw_cpu, 1.3);
  std::printf("%-58s %9.3f x   (sessions kept between leases; no target)\n",
              "postgres acquire+release (advisory mode) / floor", advisory / raw);
  std::printf("%-58s %9.3f x   (no target)\n", "  CPU (process) / the floor's",
              raw_cpu > 0 ? advisory_cpu / raw_cpu : 0);
  std::printf("%-58s %9.3f ms  target <= 5 ms  %s\n",
              "postgres handoff from release to a blocked waiter", handoff,
              handoff <= 5 ? "ok" : "MISSED");
  return 0;
}
