// Benchmarks of the scheduler (heartlock/scheduler.h), each against a floor measured in the same
// run where there is one (goals in brackets):
//   idle CPU of a scheduler holding 10 000 jobs that do not fire, % of one core       [< 1 %]
//     (with the RSS growth per job and the time to parse and add them)
//   wake-up lateness of an every-second job on the real clock (the job's start - its slot),
//     p50/p99/max: a plain job; wrap::once_per_slot on a file store          [p99 < 5 ms];
//     once_per_slot + wrap::with_lock; floor: a clock_nanosleep(TIMER_ABSTIME) loop
//   dispatch: no-op runs/s and process CPU per run through the worker pool, all slots due at
//     once (a manual clock), against a bare mutex+condvar pool (scheduler_dispatch.cc)
// HEARTLOCK_BENCH_IDLE_SECONDS (default 10) is the idle measurement's wall time;
// HEARTLOCK_BENCH_ROUNDS (default 20) the lateness samples per variant (one slot each).
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>
#include <malloc.h>

#include "heartlock/heartlock.h"

#include "bench_report.h"
#include "scheduler_bench.h"

namespace {

using namespace std::chrono_literals;
using heartlock::ScheduledRun;
using heartlock::SchedulerClock;
using Steady = std::chrono::steady_clock;
using heartlock::bench::cpu_seconds;
using heartlock::bench::cpu_us_per_run;
using heartlock::bench::must_parse;

std::string scratch_dir() {
  static const std::string dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl =
        std::string(tmp != nullptr && *tmp != 0 ? tmp : "/tmp") + "/heartlock-bench-XXXXXX";
    return std::string(::mkdtemp(tmpl.data()));
  }();
  return dir;
}

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::max(1, std::atoi(v)) : fallback;
}

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

// `count` schedules that do not fire for months: a day of the month six months from now, at
// distinct times of day; the i-th fires i minutes after the 0-th.
std::vector<heartlock::CronSchedule> half_year_schedules(int count) {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  const int month = (tm.tm_mon + 6) % 12 + 1;
  std::vector<heartlock::CronSchedule> out;
  out.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    out.push_back(must_parse(std::to_string(i % 60) + " " + std::to_string(i / 60 % 24) + " " +
                             std::to_string(1 + i / 1440 % 28) + " " + std::to_string(month) +
                             " *"));
  }
  return out;
}

// 0 .. count-1 in a fixed pseudo-random order (the same in every run).
std::vector<int> shuffled(int count) {
  std::vector<int> order(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    order[static_cast<std::size_t>(i)] = i;
  }
  std::uint64_t x = 88172645463325252ull;  // xorshift
  for (std::size_t i = order.size(); i > 1; --i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::swap(order[i - 1], order[x % i]);
  }
  return order;
}

// Adds a no-op job for each of `schedules`, in `order`; returns the time taken in ms.
double add_all(heartlock::Scheduler& scheduler, std::vector<heartlock::CronSchedule>& schedules,
               const std::vector<int>& order) {
  const auto start = Steady::now();
  for (int i : order) {
    auto added = scheduler.add({.name = "idle-" + std::to_string(i),
                                .schedule = std::move(schedules[static_cast<std::size_t>(i)]),
                                .run = heartlock::job([](const ScheduledRun&) {})});
    if (!added) {
      std::fprintf(stderr, "add: %s\n", added.error().message.c_str());
      std::abort();
    }
  }
  return ms_since(start);
}

struct IdleResult {
  double parse_ms = 0;
  double add_ms = 0;             // in a shuffled order
  double add_descending_ms = 0;  // each job earlier than all before: every add wakes the timer
  double kib_per_job = 0;        // RSS growth
  double heap_per_job = 0;       // heap bytes in use, growth
  double cpu_percent = 0;
  double stop_ms = 0;
};

// `count` jobs of half_year_schedules() added in a shuffled order; then the process's CPU over
// `seconds` of wall time while the scheduler waits. Last, the same jobs added latest first to a
// new scheduler.
IdleResult idle(int count, int seconds) {
  IdleResult out;
  const double rss_before = rss_kib();
  const double heap_before = heap_bytes();
  auto start = Steady::now();
  auto schedules = half_year_schedules(count);
  out.parse_ms = ms_since(start);
  auto scheduler = std::make_unique<heartlock::Scheduler>();
  out.add_ms = add_all(*scheduler, schedules, shuffled(count));
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

  schedules = half_year_schedules(count);
  std::vector<int> descending(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    descending[static_cast<std::size_t>(i)] = count - 1 - i;
  }
  heartlock::Scheduler again;
  out.add_descending_ms = add_all(again, schedules, descending);
  return out;
}

struct Lateness {
  std::vector<double> start_ms;    // the job's body started this long after its slot
  std::vector<double> wrapper_ms;  // of which this long was spent in the wrappers
  std::vector<double> woke_ms;     // the scheduler's timer thread woke this long after the slot
};

// The system scheduler clock, noting when a sleep of the scheduler's timer thread last ended:
// tells a late wake-up (the kernel's, as the floor's) from a late hand-off to a worker.
// Thread-safety: every method may be called from any thread.
class WakeRecordingClock final : public SchedulerClock {
 public:
  time_point now() const override { return inner_->now(); }
  bool sleep_until(time_point t, std::stop_token stop) override {
    const bool reached = inner_->sleep_until(t, std::move(stop));
    if (reached) {
      woke_.store(inner_->now().time_since_epoch().count());
    }
    return reached;
  }
  time_point last_woke() const { return time_point(time_point::duration(woke_.load())); }

 private:
  std::shared_ptr<SchedulerClock> inner_ = heartlock::system_scheduler_clock();
  std::atomic<time_point::rep> woke_{0};
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
      out.woke_ms.push_back(out.start_ms.back());
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
  auto clock = std::make_shared<WakeRecordingClock>();
  auto body = heartlock::job([&](const ScheduledRun& run) {
    const auto started = std::chrono::system_clock::now();
    const auto woke = clock->last_woke();
    const double in_wrappers =
        std::chrono::duration<double, std::milli>(Steady::now() - began).count();
    std::lock_guard lock(mu);
    if (seen++ > 0 && static_cast<int>(out.start_ms.size()) < samples) {
      out.start_ms.push_back(std::chrono::duration<double, std::milli>(started - run.slot).count());
      out.wrapper_ms.push_back(in_wrappers);
      out.woke_ms.push_back(std::chrono::duration<double, std::milli>(woke - run.slot).count());
    }
    enough.notify_all();
  });
  heartlock::Scheduler scheduler({.clock = clock});
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
  std::printf("  %-44s %8.3f %8.3f %8.3f %10.3f %10.3f\n", what, percentile(l.start_ms, 50),
              percentile(l.start_ms, 99), percentile(l.start_ms, 100), percentile(l.wrapper_ms, 50),
              percentile(l.woke_ms, 99));
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
      "10000 jobs: parse %.1f ms; add %.1f ms (%.2f us/job; latest first, each add "
      "waking the timer: %.1f ms); RSS +%.2f KiB/job (heap +%.0f B/job); stop %.1f ms\n\n",
      i.parse_ms, i.add_ms, i.add_ms * 1000 / 10000, i.add_descending_ms, i.kib_per_job,
      i.heap_per_job, i.stop_ms);

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
  // Nearest-rank percentiles: below 100 samples, p99 is the max.
  std::printf("\nwake-up lateness of an every-second job, ms (%d slots each, after one warm-up)\n",
              samples);
  std::printf("  %-44s %8s %8s %8s %10s %10s\n", "", "p50", "p99", "max", "wrap. p50", "woke p99");
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
