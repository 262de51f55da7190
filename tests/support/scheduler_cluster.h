// Scheduler processes for multi-process tests: a forked member runs a Scheduler with the real
// clock on its own Store, an every-second job chained as recover + once_per_slot + with_lock
// (forbid), and appends what happens to one log every member shares; the test reads the log back
// and judges it (exactly once per slot, no overlap, tokens in slot order).
//
// The log: one line per event, each appended with a single write(2) to a file opened O_APPEND,
// so lines of concurrent processes never interleave. Times are wall-clock ns (one host: every
// process reads the same clock), slots are Unix seconds.
//   begin   <slot> <pid> <start>                   a run started (the job's first statement)
//   run     <slot> <pid> <start> <end> <token>     a run ended
//   outcome <slot> <pid> <status> <detail...>      SchedulerOptions::on_outcome
//   last    <pid> <slot or -1>                     Store::last_slot before add()
//   adding  <pid> <ns> / started <pid> <ns>        around Scheduler::add
//   stopping <pid> <ns>                            the member saw its stop file
#ifndef HEARTLOCK_TESTS_SUPPORT_SCHEDULER_CLUSTER_H_
#define HEARTLOCK_TESTS_SUPPORT_SCHEDULER_CLUSTER_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "heartlock/scheduler.h"

namespace heartlock::testing {

// What a forked scheduler process does.
struct Member {
  std::string url;
  std::string job;
  std::string log;        // the shared log
  std::string stop_file;  // the member stops its scheduler and exits 0 once this exists
  std::chrono::milliseconds work{300};        // how long each run takes
  std::chrono::milliseconds lock_ttl{2000};   // with_lock's lease
  MissedRuns missed;                          // .store is set to the member's store
  std::chrono::milliseconds claim_ttl{5000};  // once_per_slot's claim lease
};

// The body of a forked member. 0 after a clean stop; 2: the store did not open; 3: add() failed.
int run_member(const Member& m);

// Wall-clock ns now.
long long wall_ns();

// The log, parsed.
struct ClusterLog {
  struct Run {
    long long slot = 0;
    pid_t pid = 0;
    long long start = 0;
    long long end = 0;
    std::uint64_t token = 0;
  };
  struct Outcome {
    long long slot = 0;
    pid_t pid = 0;
    std::string status;
    std::string detail;
  };
  std::vector<Run> runs;
  std::vector<Outcome> outcomes;
  std::vector<std::pair<long long, pid_t>> begins;  // slot, pid
  std::map<pid_t, long long> last;                  // -1: none
  std::map<pid_t, long long> adding, started, stopping;

  static ClusterLog read(const std::string& path);

  // Whether `pid` began slot `slot` / a run of `slot` ended (by anyone).
  bool began(long long slot, pid_t pid) const;
  bool ran(long long slot) const;
  // Slots that did not run because the job's lock was held (with_lock, forbid), and by whom
  // ("running elsewhere: lock J is held by host:pid:random").
  std::map<long long, std::string> lock_busy() const;
};

// What check_runs found, for the test to judge and print.
struct RunsVerdict {
  std::vector<std::string> violations;  // empty: every rule held
  std::set<long long> missing;          // window slots without a run
  std::size_t ran_in_window = 0;
};

// The rules of a forbid + once_per_slot cluster: no slot ran twice; no two runs overlapped in
// time; tokens strictly increase in slot order; every slot in [first, last] ran, except those in
// `excused` (returned in `missing`, not a violation).
RunsVerdict check_runs(const ClusterLog& log, long long first, long long last,
                       const std::set<long long>& excused);

}  // namespace heartlock::testing

#endif  // HEARTLOCK_TESTS_SUPPORT_SCHEDULER_CLUSTER_H_
