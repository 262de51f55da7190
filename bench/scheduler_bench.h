// What the parts of scheduler_benchmark share: scheduler_benchmark.cc (idle CPU and memory,
// wake-up lateness, main) and scheduler_dispatch.cc (dispatch throughput).
#ifndef HEARTLOCK_BENCH_SCHEDULER_BENCH_H_
#define HEARTLOCK_BENCH_SCHEDULER_BENCH_H_

#include <map>
#include <string>

#include "heartlock/cron.h"

namespace heartlock::bench {

// `expr` parsed in UTC; aborts on an error.
CronSchedule must_parse(const std::string& expr);

// User + system CPU time of this process (all threads), in seconds.
double cpu_seconds();

// Process CPU per run of each dispatch benchmark, in microseconds, keyed "raw/N" and
// "scheduler/N": steadier than wall time on a shared 2-core machine, where a descheduled thread
// stretches the wall time without using the CPU. Written by the benchmarks, read by main().
std::map<std::string, double>& cpu_us_per_run();

}  // namespace heartlock::bench

#endif  // HEARTLOCK_BENCH_SCHEDULER_BENCH_H_
