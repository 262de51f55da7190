// Benchmarks of the scheduler (heartlock/scheduler.h), each against a floor measured in the same
// run where there is one (goals in brackets):
//   idle CPU of a scheduler holding 10 000 jobs that do not fire, % of one core       [< 1 %]
//     (with the RSS growth per job and the time to parse and add them)
//   wake-up lateness of an every-second job on the real clock (the job's start - its slot),
//     p50/p99/max: a plain job; wrap::once_per_slot on a file store          [p99 < 5 ms];
//     once_per_slot + wrap::with_lock; floor: a clock_nanosleep(TIMER_ABSTIME) loop
//   dispatch: no-op runs/s through the worker pool, all slots due at once (a manual clock),
//     against a bare mutex+condvar pool running as many no-op tasks
// HEARTLOCK_BENCH_IDLE_SECONDS (default 10) is the idle measurement's wall time;
// HEARTLOCK_BENCH_ROUNDS (default 20) the lateness samples per variant (one slot each).
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>
#include <malloc.h>
#include <time.h>

#include "heartlock/heartlock.h"

#include "bench_report.h"

namespace {

using namespace std::chrono_literals;
using heartlock::ScheduledRun;
using heartlock::SchedulerClock;
using Steady = std::chrono::steady_clock;

std::string scratch_dir() {
  static const std::string dir = [] {
    char tmpl[] = "/tmp/heartlock-bench-XXXXXX";
    return std::string(::mkdtemp(tmpl));
  }();
  return dir;
}

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::max(1, std::atoi(v)) : fallback;
}

heartlock::CronSchedule must_parse(const std::string& expr) {
  auto s = heartlock::CronSchedule::parse(expr, "UTC");
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

// Process CPU (all threads) per run of each dispatch benchmark, in microseconds, by its
// "name/N": steadier than wall time on a shared 2-core machine, where a descheduled thread
// stretches the wall time without using the CPU.
std::map<std::string, double>& cpu_us_per_run() {
  static std::map<std::string, double> m;
  return m;
}

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
  heartlock::Scheduler scheduler(
      {.clock = clock, .on_outcome = [&](const ScheduledRun&, const auto&) { finished.add(); }});
  const auto every_second = must_parse("* * * * * *");
  for (long i = 0; i < state.range(0); ++i) {
    auto added =
        scheduler.add({.name = "noop-" + std::to_string(i),
                       .schedule = every_second,
                       .run = [](const ScheduledRun&) { return heartlock::RunOutcome::ok(); }});
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

// Resident set size of this process, in KiB.
double rss_kib() {
  std::ifstream statm("/proc/self/statm");
  long size = 0;
  long resident = 0;
  statm >> size >> resident;
  return static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGESIZE)) / 1024.0;
}

double ms_since(Steady::time_point start) {
  return std::chrono::duration<double, std::milli>(Steady::now() - start).count();
}

// Heap bytes in use (glibc's count): unlike the RSS, it also sees memory that freed blocks of
// earlier work are reused for.
double heap_bytes() {
  const struct mallinfo2 mi = ::mallinfo2();
  return static_cast<double>(mi.uordblks + mi.hblkhd);
}

struct IdleResult {
  double parse_ms = 0;
  double add_ms = 0;
  double kib_per_job = 0;   // RSS growth
  double heap_per_job = 0;  // heap bytes in use, growth
  double cpu_percent = 0;
  double stop_ms = 0;
};

// `count` jobs whose slots all lie about half a year ahead (a day of the month six months from
// now, at distinct times of day), added in a shuffled order; then the process's CPU over
// `seconds` of wall time while the scheduler waits.
IdleResult idle(int count, int seconds) {
  IdleResult out;
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  const int month = (tm.tm_mon + 6) % 12 + 1;
  const double rss_before = rss_kib();
  const double heap_before = heap_bytes();
  auto start = Steady::now();
  std::vector<heartlock::CronSchedule> schedules;
  schedules.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    schedules.push_back(must_parse(std::to_string(i % 60) + " " + std::to_string(i / 60 % 24) +
                                   " " + std::to_string(1 + i / 1440 % 28) + " " +
                                   std::to_string(month) + " *"));
  }
  out.parse_ms = ms_since(start);
  std::vector<int> order(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    order[static_cast<std::size_t>(i)] = i;
  }
  std::uint64_t x = 88172645463325252ull;  // xorshift: the same shuffle in every run
  for (std::size_t i = order.size(); i > 1; --i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::swap(order[i - 1], order[x % i]);
  }
  auto scheduler = std::make_unique<heartlock::Scheduler>();
  start = Steady::now();
  for (int i : order) {
    auto added = scheduler->add({.name = "idle-" + std::to_string(i),
                                 .schedule = std::move(schedules[static_cast<std::size_t>(i)]),
                                 .run = heartlock::job([](const ScheduledRun&) {})});
    if (!added) {
      std::fprintf(stderr, "add: %s\n", added.error().message.c_str());
      std::abort();
    }
  }
  out.add_ms = ms_since(start);
  schedules.clear();
  schedules.shrink_to_fit();
  out.kib_per_job = (rss_kib() - rss_before) / count;
  out.heap_per_job = (heap_bytes() - heap_before) / count;
  std::this_thread::sleep_for(200ms);  // the timer thread settles on the earliest slot
  const double cpu_before = cpu_seconds();
  start = Steady::now();
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  out.cpu_percent = (cpu_seconds() - cpu_before) / (ms_since(start) / 1000.0) * 100.0;
  start = Steady::now();
  scheduler.reset();
  out.stop_ms = ms_since(start);
  return out;
}

struct Lateness {
  std::vector<double> start_ms;    // the job's body started this long after its slot
  std::vector<double> wrapper_ms;  // of which this long was spent in the wrappers
};

// `samples` + 1 slots of a raw loop sleeping with clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME)
// until each whole second: how late the wake-up is. The first is dropped (a warm-up).
Lateness floor_lateness(int samples) {
  Lateness out;
  for (int i = 0; i <= samples; ++i) {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    const timespec target{ts.tv_sec + 1, 0};
    while (::clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &target, nullptr) != 0) {
    }
    const auto woke = std::chrono::system_clock::now();
    const auto slot = std::chrono::system_clock::time_point(std::chrono::seconds(target.tv_sec));
    if (i > 0) {
      out.start_ms.push_back(std::chrono::duration<double, std::milli>(woke - slot).count());
      out.wrapper_ms.push_back(0);
    }
  }
  return out;
}

// An every-second job on the system clock, wrapped in `wrappers`, for `samples` + 1 slots (the
// first dropped). A probe outside the wrappers notes when the run began, so the wrappers' share
// of the lateness can be told from the wake-up's.
Lateness scheduler_lateness(int samples, std::vector<heartlock::Wrapper> wrappers) {
  Lateness out;
  std::mutex mu;
  std::condition_variable enough;
  thread_local Steady::time_point began;  // set by the probe, read by the body (one thread)
  heartlock::Wrapper probe = [](heartlock::JobFn next) -> heartlock::JobFn {
    return [next = std::move(next)](const ScheduledRun& run) {
      began = Steady::now();
      return next(run);
    };
  };
  wrappers.insert(wrappers.begin(), probe);
  int seen = 0;
  auto body = heartlock::job([&](const ScheduledRun& run) {
    const auto started = std::chrono::system_clock::now();
    const double in_wrappers =
        std::chrono::duration<double, std::milli>(Steady::now() - began).count();
    std::lock_guard lock(mu);
    if (seen++ > 0 && static_cast<int>(out.start_ms.size()) < samples) {
      out.start_ms.push_back(std::chrono::duration<double, std::milli>(started - run.slot).count());
      out.wrapper_ms.push_back(in_wrappers);
    }
    enough.notify_all();
  });
  heartlock::Scheduler scheduler;
  auto added = scheduler.add({.name = "lateness",
                              .schedule = must_parse("* * * * * *"),
                              .run = heartlock::chain(std::move(wrappers), std::move(body))});
  if (!added) {
    std::fprintf(stderr, "add: %s\n", added.error().message.c_str());
    std::abort();
  }
  std::unique_lock lock(mu);
  enough.wait(lock, [&] { return static_cast<int>(out.start_ms.size()) >= samples; });
  lock.unlock();
  scheduler.stop();
  return out;
}

// The nearest-rank percentile `p` (0..100) of `v`.
double percentile(std::vector<double> v, double p) {
  if (v.empty()) {
    return 0;
  }
  std::sort(v.begin(), v.end());
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  return v[std::clamp<std::size_t>(rank, 1, v.size()) - 1];
}

void print_lateness(const char* what, const Lateness& l) {
  std::printf("  %-44s %8.3f %8.3f %8.3f %10.3f\n", what, percentile(l.start_ms, 50),
              percentile(l.start_ms, 99), percentile(l.start_ms, 100),
              percentile(l.wrapper_ms, 50));
}

void report(const char* what, double value, const char* unit, double target) {
  std::printf("%-58s %9.3f %-2s  target < %.3g %s  %s\n", what, value, unit, target, unit,
              value < target ? "ok" : "MISSED");
}

}  // namespace

int main(int argc, char** argv) {
  // The build tree's heartlock-tz.so, unless HEARTLOCK_TZ_MODULE names another (tz_api.h).
  ::setenv("HEARTLOCK_TZ_MODULE", HEARTLOCK_TZ_MODULE_PATH, 0);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
    return 1;
  }
  // First, while the process is small: RSS growth is only seen in pages not used before.
  const int idle_seconds = env_int("HEARTLOCK_BENCH_IDLE_SECONDS", 10);
  const int samples = env_int("HEARTLOCK_BENCH_ROUNDS", 20);
  const auto i = idle(10000, idle_seconds);
  std::printf(
      "10000 jobs: parse %.1f ms, add %.1f ms (%.2f us/job), RSS +%.2f KiB/job "
      "(heap +%.0f B/job), stop %.1f ms\n\n",
      i.parse_ms, i.add_ms, i.add_ms * 1000 / 10000, i.kib_per_job, i.heap_per_job, i.stop_ms);

  heartlock::bench::Collector collector;
  benchmark::RunSpecifiedBenchmarks(&collector);
  for (const char* n : {"1000", "10000"}) {
    const double raw = collector.time(std::string("BM_RawPoolNoop/") + n + "/real_time");
    const double ours = collector.time(std::string("BM_SchedulerDispatchNoop/") + n + "/real_time");
    const double raw_cpu = cpu_us_per_run()[std::string("raw/") + n];
    const double our_cpu = cpu_us_per_run()[std::string("scheduler/") + n];
    if (raw > 0 && ours > 0) {
      std::printf(
          "dispatch of %5s due no-op runs: %.3f ms wall, %.3f us CPU/run; bare pool %.3f "
          "ms, %.3f us CPU/run: %.1fx the CPU\n",
          n, ours, our_cpu, raw, raw_cpu, our_cpu / raw_cpu);
    }
  }

  auto store = heartlock::Store::open("file://" + scratch_dir() + "/locks");
  if (!store) {
    std::fprintf(stderr, "%s\n", store.error().message.c_str());
    return 1;
  }
  namespace wrap = heartlock::wrap;
  std::printf("\nwake-up lateness of an every-second job, ms (%d slots each, after one warm-up)\n",
              samples);
  std::printf("  %-44s %8s %8s %8s %10s\n", "", "p50", "p99", "max", "wrappers");
  print_lateness("floor: clock_nanosleep(TIMER_ABSTIME) loop", floor_lateness(samples));
  print_lateness("(a) plain job", scheduler_lateness(samples, {}));
  const auto b = scheduler_lateness(samples, {wrap::once_per_slot(**store)});
  print_lateness("(b) once_per_slot, file store", b);
  print_lateness(
      "(c) once_per_slot + with_lock, file store",
      scheduler_lateness(samples, {wrap::once_per_slot(**store), wrap::with_lock(**store, {})}));
  std::printf("\n");
  report("idle CPU, 10000 jobs that do not fire (% of one core)", i.cpu_percent, "%", 1);
  report("lateness p99, once_per_slot on a file store", percentile(b.start_ms, 99), "ms", 5);
  std::error_code ec;
  std::filesystem::remove_all(scratch_dir(), ec);
  benchmark::Shutdown();
  return 0;
}
