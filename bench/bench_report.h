// What the benchmarks share: a reporter that prints as usual and keeps each benchmark's real time,
// so main() can print ratios against the floor measured in the same run.
#ifndef HEARTLOCK_BENCH_BENCH_REPORT_H_
#define HEARTLOCK_BENCH_BENCH_REPORT_H_

#include <map>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

namespace heartlock::bench {

class Collector : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& run : runs) {
      times_[run.benchmark_name()] = run.GetAdjustedRealTime();
    }
    ConsoleReporter::ReportRuns(runs);
  }
  // Real time of `name` in its benchmark's unit, 0 if it did not run.
  double time(const std::string& name) const {
    auto it = times_.find(name);
    return it == times_.end() ? 0 : it->second;
  }

 private:
  std::map<std::string, double> times_;
};

}  // namespace heartlock::bench

#endif  // HEARTLOCK_BENCH_BENCH_REPORT_H_
