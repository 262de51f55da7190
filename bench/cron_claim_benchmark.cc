// What `heartlock cron` does for one slot before its command starts, on each backend, against the
// floor of that backend measured in the same run (backend_floors.h: the simplest raw lock cycle,
// two round trips on a network backend):
//   to start: the claim lease JOB@claim (wrap::once_per_slot), the job's lease (try_acquire JOB),
//     last_slot(JOB), claim_slot + the claim's release (once_per_slot's on_start), the ledger's
//     "running" entry (record_run): what cli/cron_job.cc runs before it spawns the command
//   whole slot (counter whole_us): the above + the lease's release and the ledger's end entry
//   library chain: chain({once_per_slot, with_lock}, no-op job), what a library user writes
//   and, printed after, each of the daemon's steps alone (step_means)
// Backends: file (a temporary directory, always), and each of HEARTLOCK_BENCH_REDIS_URL,
// HEARTLOCK_BENCH_POSTGRES_URL, HEARTLOCK_BENCH_ETCD_URL that is set (scripts/bench.sh starts
// the servers). Each iteration is a new slot of one job; kSlotsPerRun slots per benchmark, because
// on the file store every claim scans the store's directory (docs/benchmarks.md).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#ifdef HEARTLOCK_BENCH_WITH_REDIS
#include <hiredis/hiredis.h>
#endif
#ifdef HEARTLOCK_BENCH_WITH_POSTGRES
#include <libpq-fe.h>
#endif
#ifdef HEARTLOCK_BENCH_WITH_ETCD
#include <curl/curl.h>
#endif

#include "heartlock/heartlock.h"

#include "backend_floors.h"
#include "bench_report.h"

namespace {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;
using heartlock::RunOutcome;
using heartlock::ScheduledRun;
using heartlock::Store;

// Slots (iterations) per benchmark: enough for a stable mean, few enough that the file store's
// directory stays small (~3 files a slot).
constexpr int kSlotsPerRun = 400;

std::string scratch_dir() {
  static const std::string dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl =
        std::string(tmp != nullptr && *tmp != 0 ? tmp : "/tmp") + "/heartlock-bench-XXXXXX";
    return std::string(::mkdtemp(tmpl.data()));
  }();
  return dir;
}

// A job name no earlier run used (slot records outlive a run on the servers).
std::string fresh_job(const std::string& what) {
  static int n = 0;
  return "claim-" + what + "-" + std::to_string(::getpid()) + "-" + std::to_string(++n);
}

// The first slot of a run: a whole second an hour ahead, so no slot is older than the retention.
std::chrono::sys_seconds first_slot() {
  return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()) + 1h;
}

// The store of `url`, with a table of its own on PostgreSQL; skips the benchmark when it fails.
std::unique_ptr<Store> open_store(benchmark::State& state, std::string url) {
  if (url.starts_with("postgres")) {
    url += (url.find('?') == std::string::npos ? "?" : "&") + std::string("table=bench_cron");
  }
  auto store = Store::open(url);
  if (!store) {
    state.SkipWithError(store.error().message.c_str());
    return nullptr;
  }
  return *std::move(store);
}

// One slot's run as cli/cron_job.cc's CronRun makes it, with no command: notes when the command
// would be spawned in `started`.
RunOutcome daemon_run(Store& store, const ScheduledRun& run, Steady::time_point& started) {
  heartlock::LeaseOptions options{.ttl = 30s, .command = "true", .slot = run.slot};
  auto got = store.try_acquire(run.job, options);
  if (!got || !got->acquired()) {
    return RunOutcome::store(got ? "busy" : got.error().message);
  }
  heartlock::Lease lease = std::move(*got).lease();
  (void)store.last_slot(run.job);
  if (auto instead = run.on_start ? run.on_start() : std::nullopt) {
    (void)lease.release();
    return *instead;
  }
  heartlock::RunRecord record{.job = run.job, .slot = run.slot, .host = "bench", .pid = ::getpid()};
  record.started = std::chrono::system_clock::now();
  record.token = lease.token();
  record.attempts = 1;
  if (auto ok = heartlock::record_run(store, record); !ok) {
    return RunOutcome::store(ok.error().message);
  }
  started = Steady::now();
  (void)lease.release();
  record.state = heartlock::RunState::done;
  record.ended = std::chrono::system_clock::now();
  record.exit_code = 0;
  if (auto ok = heartlock::record_run(store, record); !ok) {
    return RunOutcome::store(ok.error().message);
  }
  return RunOutcome::ok();
}

// The daemon's per-slot work: manual time = to the command's start; whole_us = the whole slot.
void BM_DaemonSlot(benchmark::State& state, const std::string& url) {
  auto store = open_store(state, url);
  if (!store) {
    return;
  }
  Steady::time_point started;
  heartlock::JobFn fn = heartlock::wrap::once_per_slot(*store)(
      [&](const ScheduledRun& run) { return daemon_run(*store, run, started); });
  const std::string job = fresh_job("daemon");
  auto slot = first_slot();
  double whole_us = 0;
  for (auto _ : state) {
    const auto t0 = Steady::now();
    const RunOutcome out = fn(ScheduledRun{.job = job, .slot = slot});
    const auto t1 = Steady::now();
    slot += 1s;
    if (out.status != heartlock::RunStatus::done) {
      state.SkipWithError(out.detail.c_str());
      break;
    }
    state.SetIterationTime(std::chrono::duration<double>(started - t0).count());
    whole_us += std::chrono::duration<double, std::micro>(t1 - t0).count();
  }
  state.counters["whole_us"] = benchmark::Counter(whole_us, benchmark::Counter::kAvgIterations);
}

// The library's chain: once_per_slot outside with_lock, a job that does nothing.
void BM_OncePerSlotWithLock(benchmark::State& state, const std::string& url) {
  auto store = open_store(state, url);
  if (!store) {
    return;
  }
  heartlock::JobFn fn = heartlock::chain(
      {heartlock::wrap::once_per_slot(*store), heartlock::wrap::with_lock(*store, {})},
      heartlock::job([](const ScheduledRun&) {}));
  const std::string job = fresh_job("chain");
  auto slot = first_slot();
  for (auto _ : state) {
    const RunOutcome out = fn(ScheduledRun{.job = job, .slot = slot});
    slot += 1s;
    if (out.status != heartlock::RunStatus::done) {
      state.SkipWithError(out.detail.c_str());
      break;
    }
  }
}

// The daemon's steps one by one, mean us over `slots` slots of a new job on a new store of `url`:
// where the time of BM_DaemonSlot goes. Empty if the store cannot be opened.
std::vector<std::pair<std::string, double>> step_means(const std::string& url, int slots) {
  auto store = Store::open(
      url.starts_with("postgres")
          ? url + (url.find('?') == std::string::npos ? "?table=bench_steps" : "&table=bench_steps")
          : url);
  if (!store) {
    return {};
  }
  Store& s = **store;
  const std::string job = fresh_job("steps");
  std::vector<std::pair<std::string, double>> out;
  auto add = [&](std::size_t i, const char* what, Steady::time_point& t) {
    const auto now = Steady::now();
    if (out.size() <= i) {
      out.emplace_back(what, 0);
    }
    out[i].second += std::chrono::duration<double, std::micro>(now - t).count() / slots;
    t = now;
  };
  auto slot = first_slot();
  for (int i = 0; i < slots; ++i, slot += 1s) {
    auto t = Steady::now();
    auto claim = s.acquire(job + "@claim", {.ttl = 5s, .slot = slot}, 15s);
    add(0, "acquire JOB@claim (with a wait)", t);
    auto got = s.try_acquire(job, {.ttl = 30s, .slot = slot});
    add(1, "try_acquire JOB", t);
    (void)s.last_slot(job);
    add(2, "last_slot", t);
    (void)s.claim_slot(job, slot);
    add(3, "claim_slot", t);
    if (claim && claim->acquired()) {
      (void)claim->lease().release();
    }
    add(4, "release JOB@claim", t);
    heartlock::RunRecord record{.job = job, .slot = slot, .host = "bench", .pid = ::getpid()};
    record.started = std::chrono::system_clock::now();
    (void)heartlock::record_run(s, record);
    add(5, "record_run (running)", t);
    if (got && got->acquired()) {
      (void)got->lease().release();
    }
    add(6, "release JOB", t);
    record.state = heartlock::RunState::done;
    (void)heartlock::record_run(s, record);
    add(7, "record_run (done)", t);
  }
  return out;
}

struct Backend {
  std::string name;  // file, redis, postgres, etcd
  std::string url;
  std::function<void(benchmark::State&)> floor;
};

std::vector<Backend> backends() {
  std::vector<Backend> out;
  const std::string dir = scratch_dir();
  out.push_back({"file", "file://" + dir + "/locks", [dir](benchmark::State& s) {
                   heartlock::bench::raw_file_lock_cycle(s, dir + "/raw.lock");
                 }});
  auto env = [](const char* name) {
    const char* v = std::getenv(name);
    return std::string(v != nullptr ? v : "");
  };
#ifdef HEARTLOCK_BENCH_WITH_REDIS
  if (auto u = env("HEARTLOCK_BENCH_REDIS_URL"); !u.empty()) {
    out.push_back(
        {"redis", u, [u](benchmark::State& s) { heartlock::bench::raw_redis_lock_cycle(s, u); }});
  }
#endif
#ifdef HEARTLOCK_BENCH_WITH_POSTGRES
  if (auto u = env("HEARTLOCK_BENCH_POSTGRES_URL"); !u.empty()) {
    out.push_back({"postgres", u,
                   [u](benchmark::State& s) { heartlock::bench::raw_postgres_lock_cycle(s, u); }});
  }
#endif
#ifdef HEARTLOCK_BENCH_WITH_ETCD
  if (auto u = env("HEARTLOCK_BENCH_ETCD_URL"); !u.empty()) {
    out.push_back(
        {"etcd", u, [u](benchmark::State& s) { heartlock::bench::raw_etcd_lock_cycle(s, u); }});
  }
#endif
  return out;
}

}  // namespace

int main(int argc, char** argv) {
#ifdef HEARTLOCK_BENCH_WITH_ETCD
  curl_global_init(CURL_GLOBAL_DEFAULT);
#endif
  benchmark::Initialize(&argc, argv);
  const auto all = backends();
  for (const Backend& b : all) {
    benchmark::RegisterBenchmark(("BM_Floor/" + b.name).c_str(), b.floor)
        ->Unit(benchmark::kMicrosecond)
        ->MeasureProcessCPUTime();
    benchmark::RegisterBenchmark(("BM_DaemonSlot/" + b.name).c_str(), BM_DaemonSlot, b.url)
        ->Unit(benchmark::kMicrosecond)
        ->UseManualTime()
        ->MeasureProcessCPUTime()
        ->Iterations(kSlotsPerRun);
    benchmark::RegisterBenchmark(("BM_OncePerSlotWithLock/" + b.name).c_str(),
                                 BM_OncePerSlotWithLock, b.url)
        ->Unit(benchmark::kMicrosecond)
        ->MeasureProcessCPUTime()
        ->Iterations(kSlotsPerRun);
  }
  heartlock::bench::Collector collector;
  benchmark::RunSpecifiedBenchmarks(&collector);
  std::printf("\nper slot, before the command starts, against the backend's raw lock cycle\n");
  std::printf("  %-9s %12s %16s %8s %18s %8s\n", "backend", "floor us", "daemon to start", "ratio",
              "once+with_lock us", "ratio");
  // MeasureProcessCPUTime() adds "/process_time" to the names, before "/manual_time".
  const std::string iterations = "/iterations:" + std::to_string(kSlotsPerRun) + "/process_time";
  // One row per backend: the floor, the daemon's slot and the once+with_lock chain, each of the
  // latter two with its ratio to the floor; `figure` reads wall time or CPU.
  auto rows = [&](auto figure, int floor_decimals) {
    auto ratio = [](double ours, double floor) { return floor > 0 ? ours / floor : 0; };
    for (const Backend& b : all) {
      const double floor = figure("BM_Floor/" + b.name + "/process_time");
      const double daemon = figure("BM_DaemonSlot/" + b.name + iterations + "/manual_time");
      const double chain = figure("BM_OncePerSlotWithLock/" + b.name + iterations);
      std::printf("  %-9s %12.*f %16.1f %7.1fx %18.1f %7.1fx\n", b.name.c_str(), floor_decimals,
                  floor, daemon, ratio(daemon, floor), chain, ratio(chain, floor));
    }
  };
  rows([&](const std::string& name) { return collector.time(name); }, 1);
  // Client-side CPU (this process; the servers' CPU is theirs). Under manual time the daemon's
  // CPU covers its whole slot (the release and the ledger's end entry too), not only the part
  // before the command starts.
  std::printf("\nCPU of this process per slot, against the floor's CPU\n");
  std::printf("  %-9s %12s %16s %8s %18s %8s\n", "backend", "floor CPU us", "daemon whole slot",
              "ratio", "once+with_lock", "ratio");
  rows([&](const std::string& name) { return collector.cpu(name); }, 2);
  std::printf("\nthe same steps one by one, mean us over %d slots of a new job\n", kSlotsPerRun);
  for (const Backend& b : all) {
    const std::string url = b.name == "file" ? "file://" + scratch_dir() + "/steps" : b.url;
    std::printf("  %s:", b.name.c_str());
    for (const auto& [what, us] : step_means(url, kSlotsPerRun)) {
      std::printf("  %s %.1f;", what.c_str(), us);
    }
    std::printf("\n");
  }
  std::error_code ec;
  std::filesystem::remove_all(scratch_dir(), ec);
  benchmark::Shutdown();
  return 0;
}
