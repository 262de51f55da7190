// Benchmarks of the Redis backend against a real redis-server (HEARTLOCK_BENCH_REDIS_URL, started
// by scripts/bench.sh), as ratios against floors measured in the same run:
//   acquire+release                 vs  raw hiredis SET NX PX + EVALSHA release   [<= 1.15x]
//   handoff from release() to a waiter blocked in acquire()                      [<= 2 ms]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>
#include <hiredis/hiredis.h>

#include "heartlock/heartlock.h"

#include "backend_floors.h"
#include "bench_report.h"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string url() {
  const char* u = std::getenv("HEARTLOCK_BENCH_REDIS_URL");
  return u != nullptr ? u : "redis://127.0.0.1:6379";
}

using heartlock::bench::port_of;

// The floor: the two round trips any fenced Redis lock needs, through hiredis's own client.
void BM_RawHiredisSetNxEvalsha(benchmark::State& state) {
  heartlock::bench::raw_redis_lock_cycle(state, url());
}
BENCHMARK(BM_RawHiredisSetNxEvalsha)->Unit(benchmark::kMicrosecond)->MeasureProcessCPUTime();

void BM_HeartlockRedisAcquireRelease(benchmark::State& state) {
  auto store = heartlock::Store::open(url());
  for (auto _ : state) {
    auto got = (*store)->try_acquire("bench", {});
    if (!got || !got->acquired()) {
      state.SkipWithError(got ? "busy" : got.error().message.c_str());
      break;
    }
    (void)got->lease().release();
  }
}
BENCHMARK(BM_HeartlockRedisAcquireRelease)->Unit(benchmark::kMicrosecond)->MeasureProcessCPUTime();

// Holds `count` leases with a 3 s ttl (keepalive tick 1 s) and measures this process's CPU time
// and the server's EVALSHA calls over `seconds`: renewals are pipelined, one round trip a tick.
std::pair<double, double> many_leases(int count, int seconds) {
  auto store = heartlock::Store::open(url());
  std::vector<heartlock::Lease> leases;
  leases.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    auto got = (*store)->try_acquire("many-" + std::to_string(i), {.ttl = 3s});
    if (!got || !got->acquired()) {
      return {-1, -1};
    }
    leases.push_back(std::move(*got).lease());
  }
  auto evalsha_calls = [] {
    redisContext* c = redisConnect("127.0.0.1", port_of(url()));
    auto* r = static_cast<redisReply*>(redisCommand(c, "INFO commandstats"));
    std::string text(r->str, r->len);
    freeReplyObject(r);
    redisFree(c);
    auto at = text.find("cmdstat_evalsha:calls=");
    return at == std::string::npos ? 0.0 : std::atof(text.c_str() + at + 22);
  };
  std::this_thread::sleep_for(2s);  // let the renewals align into one batch per tick
  auto cpu = [] {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
  };
  double calls0 = evalsha_calls();
  double cpu0 = cpu();
  auto t0 = Clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  double core_share = (cpu() - cpu0) / wall;
  double renewals_per_s = (evalsha_calls() - calls0) / wall;
  return {core_share, renewals_per_s};
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  heartlock::bench::Collector collector;
  benchmark::RunSpecifiedBenchmarks(&collector);
  // MeasureProcessCPUTime() adds "/process_time" to the names.
  double raw = collector.time("BM_RawHiredisSetNxEvalsha/process_time");
  double ours = collector.time("BM_HeartlockRedisAcquireRelease/process_time");
  double raw_cpu = collector.cpu("BM_RawHiredisSetNxEvalsha/process_time");
  double ours_cpu = collector.cpu("BM_HeartlockRedisAcquireRelease/process_time");
  double handoff = heartlock::bench::handoff_ms(url(), 25, 30ms);
  auto [core_share, renewals] = many_leases(10000, 6);
  std::printf(
      "\nfloor: raw hiredis SET NX PX + EVALSHA %.1f us (CPU %.2f); heartlock %.1f us (CPU "
      "%.2f)\n\n",
      raw, raw_cpu, ours, ours_cpu);
  std::printf("%-58s %9.3f x   target <= 1.15x  %s\n", "redis acquire+release / raw hiredis floor",
              ours / raw, ours / raw <= 1.15 ? "ok" : "MISSED");
  heartlock::bench::print_cpu_ratio(ours_cpu, raw_cpu, 1.15);
  std::printf("%-58s %9.3f ms  target <= 2 ms  %s\n",
              "redis handoff from release to a blocked waiter (median)", handoff,
              handoff <= 2 ? "ok" : "MISSED");
  std::printf("%-58s %9.2f %%   target well under 5%%  (%.0f renewals/s seen by the server)\n",
              "10000 held leases, 1 s tick: CPU of this process", core_share * 100, renewals);
  return 0;
}
