// What the benchmarks share: a reporter that prints as usual and keeps each benchmark's real and
// CPU time, so main() can print ratios against the floor measured in the same run.
#ifndef HEARTLOCK_BENCH_BENCH_REPORT_H_
#define HEARTLOCK_BENCH_BENCH_REPORT_H_

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>

#include "heartlock/heartlock.h"

namespace heartlock::bench {

class Collector : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& run : runs) {
      times_[run.benchmark_name()] = run.GetAdjustedRealTime();
      cpu_[run.benchmark_name()] = run.GetAdjustedCPUTime();
    }
    ConsoleReporter::ReportRuns(runs);
  }
  // Real time of `name` in its benchmark's unit, 0 if it did not run.
  double time(const std::string& name) const {
    auto it = times_.find(name);
    return it == times_.end() ? 0 : it->second;
  }
  // CPU time of `name` in its benchmark's unit (the process's, for benchmarks registered with
  // MeasureProcessCPUTime(), else the benchmark thread's), 0 if it did not run.
  double cpu(const std::string& name) const {
    auto it = cpu_.find(name);
    return it == cpu_.end() ? 0 : it->second;
  }

 private:
  std::map<std::string, double> times_;
  std::map<std::string, double> cpu_;
};

// Prints the CPU line that follows a wall ratio: "  CPU (process) / the floor's", ours / floor and
// the target, in the format of the wall ratio lines (scripts/bench_report.py reads both); "n/a"
// when the floor is 0 (below the clock's resolution, or the floor did not run). Client-side CPU
// only: a server's CPU is another process's.
inline void print_cpu_ratio(double ours, double floor, double target) {
  const char* what = "  CPU (process) / the floor's";
  if (floor <= 0) {
    std::printf("%-58s %9s %-2s  target <= %.3gx  (floor %.0f)\n", what, "n/a", "", target, floor);
    return;
  }
  std::printf("%-58s %9.3f x   target <= %.3gx  %s\n", what, ours / floor, target,
              ours / floor <= target ? "ok" : "MISSED");
}

// Median time in ms from release() to a waiter (blocked in acquire() on another store of `url`)
// holding the lock, over `rounds`. `settle`: how long the waiter gets to start waiting (its
// subscription, LISTEN or watch); not measured.
inline double handoff_ms(const std::string& url, int rounds, std::chrono::milliseconds settle) {
  using Clock = std::chrono::steady_clock;
  std::vector<double> samples;
  auto holder_store = Store::open(url);
  auto waiter_store = Store::open(url);
  if (!holder_store || !waiter_store) {
    return -1;
  }
  for (int i = 0; i < rounds; ++i) {
    auto held = (*holder_store)->try_acquire("handoff", {});
    if (!held || !held->acquired()) {
      return -1;
    }
    std::atomic<long> acquired_at{0};
    std::thread waiter([&] {
      auto got = (*waiter_store)->acquire("handoff", {}, std::chrono::seconds(30));
      acquired_at = Clock::now().time_since_epoch().count();
    });
    std::this_thread::sleep_for(settle);
    long t0 = Clock::now().time_since_epoch().count();
    (void)held->lease().release();
    waiter.join();
    samples.push_back(static_cast<double>(acquired_at - t0) / 1e6);
  }
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

}  // namespace heartlock::bench

#endif  // HEARTLOCK_BENCH_BENCH_REPORT_H_
