// Which slots to run when a job's timer comes late, or when the store says nobody ran the
// slots since the last one: pure computation over a schedule.
#ifndef HEARTLOCK_SCHEDULER_MISSED_RUNS_H_
#define HEARTLOCK_SCHEDULER_MISSED_RUNS_H_

#include <chrono>
#include <vector>

#include "heartlock/cron.h"
#include "heartlock/scheduler.h"

namespace heartlock::detail {

struct DueSlots {
  std::vector<std::chrono::sys_seconds> run;     // to run now, oldest first
  std::size_t missed = 0;                        // slots past the grace (run or not)
  std::optional<std::chrono::sys_seconds> next;  // the first slot after `now`
};

// The schedule's slots from `first` (a slot) up to `now`: the latest runs when it is at most
// `missed.grace` old; every other one is missed (overtaken by a later slot, or too old) and runs
// as `missed.policy` says. After `kMaxScanned` slots (an
// every-second job after a long outage) the scan skips ahead to the grace: those skipped are
// missed and never run.
DueSlots due_slots(const CronSchedule& schedule, std::chrono::sys_seconds first,
                   std::chrono::system_clock::time_point now, const MissedRuns& missed);

inline constexpr std::size_t kMaxScanned = 100'000;

}  // namespace heartlock::detail

#endif  // HEARTLOCK_SCHEDULER_MISSED_RUNS_H_
