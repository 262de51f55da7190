// CronSchedule::next_after throughput [target: >= 1 M evaluations/s for the typical mix], as
// items_per_second. Starting points spread over two years in Europe/Berlin, so the searches
// cross month ends and both DST changes.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <benchmark/benchmark.h>

#include "heartlock/cron.h"

namespace {

using std::chrono::sys_seconds;

heartlock::CronSchedule must_parse(const char* expr) {
  auto s = heartlock::CronSchedule::parse(expr, "Europe/Berlin");
  if (!s) {
    std::fprintf(stderr, "%s\n", s.error().message.c_str());
    std::abort();
  }
  return *s;
}

// Starting points: a fixed pseudo-random walk over 2026-2027 (the same in every run).
std::vector<sys_seconds> starts() {
  std::vector<sys_seconds> out;
  std::uint64_t x = 88172645463325252ull;
  const std::int64_t from = 1767225600;  // 2026-01-01T00:00:00Z
  for (int i = 0; i < 4096; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    out.push_back(
        sys_seconds{std::chrono::seconds{from + static_cast<std::int64_t>(x % (2 * 365 * 86400))}});
  }
  return out;
}

void run(benchmark::State& state, const std::vector<heartlock::CronSchedule>& mix) {
  const auto points = starts();
  std::size_t i = 0;
  for (auto _ : state) {
    const auto& s = mix[i % mix.size()];
    benchmark::DoNotOptimize(s.next_after(points[i % points.size()]));
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_NextAfterTypicalMix(benchmark::State& state) {
  static const std::vector<heartlock::CronSchedule> mix = {
      must_parse("*/5 * * * *"), must_parse("0 3 * * *"),   must_parse("30 2 * * 1-5"),
      must_parse("0 0 L * ?"),   must_parse("0 */2 * * *"), must_parse("15 4 1 * *"),
      must_parse("0 9 * * MON"), must_parse("0 0 * * 5#3")};
  run(state, mix);
}
BENCHMARK(BM_NextAfterTypicalMix);

void BM_NextAfterEveryFiveMinutes(benchmark::State& state) {
  static const std::vector<heartlock::CronSchedule> mix = {must_parse("*/5 * * * *")};
  run(state, mix);
}
BENCHMARK(BM_NextAfterEveryFiveMinutes);

void BM_NextAfterFixedTimeWeekdays(benchmark::State& state) {
  static const std::vector<heartlock::CronSchedule> mix = {must_parse("30 2 * * 1-5")};
  run(state, mix);
}
BENCHMARK(BM_NextAfterFixedTimeWeekdays);

void BM_NextAfterLastDayOfMonth(benchmark::State& state) {
  static const std::vector<heartlock::CronSchedule> mix = {must_parse("0 0 L * ?")};
  run(state, mix);
}
BENCHMARK(BM_NextAfterLastDayOfMonth);

void BM_Parse(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(heartlock::CronSchedule::parse("0 9-17/2 * * MON-FRI", "UTC"));
  }
}
BENCHMARK(BM_Parse);

}  // namespace

int main(int argc, char** argv) {
  // The build tree's heartlock-tz.so, unless HEARTLOCK_TZ_MODULE names another (tz_api.h).
  ::setenv("HEARTLOCK_TZ_MODULE", HEARTLOCK_TZ_MODULE_PATH, 0);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
    return 1;
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
