// Dispatch throughput of the scheduler: no-op runs per second (and process CPU per run) through
// the worker pool, every slot due at once on a manual clock, against a bare mutex+condvar pool
// running as many no-op tasks. Part of scheduler_benchmark (its main() prints the ratios).
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>

#include "heartlock/heartlock.h"

#include "scheduler_bench.h"

namespace heartlock::bench {

CronSchedule must_parse(const std::string& expr) {
  auto s = CronSchedule::parse(expr, "UTC");
  if (!s) {
    std::fprintf(stderr, "%s\n", s.error().message.c_str());
    std::abort();
  }
  return *s;
}

// User + system CPU time of this process, in seconds.
double cpu_seconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  auto secs = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  return secs(ru.ru_utime) + secs(ru.ru_stime);
}

std::map<std::string, double>& cpu_us_per_run() {
  static std::map<std::string, double> m;
  return m;
}

namespace {

using namespace std::chrono_literals;

void note_cpu(benchmark::State& state, const std::string& name, double cpu_before) {
  const double runs = static_cast<double>(state.iterations() * state.range(0));
  const double us = (cpu_seconds() - cpu_before) * 1e6 / runs;
  cpu_us_per_run()[name + "/" + std::to_string(state.range(0))] = us;
  state.counters["cpu_us/run"] = us;
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

// A SchedulerClock that moves only when advance() is called, so that the dispatch benchmark can
// make every job's slot due at once. Thread-safety: every method may be called from any thread.
class ManualClock final : public SchedulerClock {
 public:
  explicit ManualClock(time_point start) : now_(start) {}
  time_point now() const override {
    std::lock_guard lock(mu_);
    return now_;
  }
  bool sleep_until(time_point t, std::stop_token stop) override {
    std::unique_lock lock(mu_);
    return moved_.wait(lock, stop, [&] { return now_ >= t; });
  }
  void advance(std::chrono::system_clock::duration d) {
    {
      std::lock_guard lock(mu_);
      now_ += d;
    }
    moved_.notify_all();
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable_any moved_;
  time_point now_;  // guarded by mu_
};

// Counts finished runs; wait_for() blocks until `n` have finished in all. Only the run that
// reaches the awaited count wakes the waiter, so counting costs the runs next to nothing.
class Countdown {
 public:
  void add() {
    if (done_.fetch_add(1) + 1 >= target_.load()) {
      std::lock_guard lock(mu_);
      reached_.notify_all();
    }
  }
  void wait_for(long n) {
    std::unique_lock lock(mu_);
    target_ = n;
    reached_.wait(lock, [&] { return done_.load() >= n; });
  }

 private:
  std::atomic<long> done_{0};
  std::atomic<long> target_{std::numeric_limits<long>::max()};
  std::mutex mu_;
  std::condition_variable reached_;
};

// The floor of dispatch: a bare pool (4 threads, one mutex, one condition variable, a deque of
// std::function) running as many no-op tasks as the scheduler runs jobs per slot, queued in one
// batch. (Posted one by one, each with its notify_one, the floor itself varied 5x between runs
// on the 2-core VM: the producer and four consumers convoy on the mutex.)
void BM_RawPoolNoop(benchmark::State& state) {
  std::mutex mu;
  std::condition_variable ready;
  std::deque<std::function<void()>> tasks;
  bool closed = false;
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      for (;;) {
        std::unique_lock lock(mu);
        ready.wait(lock, [&] { return closed || !tasks.empty(); });
        if (closed) {
          return;
        }
        auto task = std::move(tasks.front());
        tasks.pop_front();
        lock.unlock();
        task();
      }
    });
  }
  Countdown finished;
  auto payload = std::make_shared<int>(0);  // a capture like the scheduler's shared job entry
  long target = 0;
  const double cpu_before = cpu_seconds();
  for (auto _ : state) {
    {
      std::lock_guard lock(mu);
      for (long i = 0; i < state.range(0); ++i) {
        tasks.emplace_back([payload, &finished] { finished.add(); });
      }
    }
    ready.notify_all();
    target += state.range(0);
    finished.wait_for(target);
  }
  note_cpu(state, "raw", cpu_before);
  {
    std::lock_guard lock(mu);
    closed = true;
  }
  ready.notify_all();
  for (auto& t : threads) {
    t.join();
  }
}
BENCHMARK(BM_RawPoolNoop)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond)->UseRealTime();

// state.range(0) every-second no-op jobs on a manual clock; each iteration moves the clock one
// second and waits until every job ran once: timer heap, due_slots, the pool, the outcome.
void BM_SchedulerDispatchNoop(benchmark::State& state) {
  const auto t0 = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  auto clock = std::make_shared<ManualClock>(t0 + 500ms);
  Countdown finished;
  Scheduler scheduler(
      {.clock = clock, .on_outcome = [&](const ScheduledRun&, const auto&) { finished.add(); }});
  const auto every_second = must_parse("* * * * * *");
  for (long i = 0; i < state.range(0); ++i) {
    auto added = scheduler.add({.name = "noop-" + std::to_string(i),
                                .schedule = every_second,
                                .run = [](const ScheduledRun&) { return RunOutcome::ok(); }});
    if (!added) {
      state.SkipWithError(added.error().message.c_str());
      return;
    }
  }
  long target = 0;
  const double cpu_before = cpu_seconds();
  for (auto _ : state) {
    target += state.range(0);
    clock->advance(1s);
    finished.wait_for(target);
  }
  note_cpu(state, "scheduler", cpu_before);
}
BENCHMARK(BM_SchedulerDispatchNoop)
    ->Arg(1000)
    ->Arg(10000)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace heartlock::bench
