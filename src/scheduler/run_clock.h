// The clock a run waits on, and waits that end on either of two stop tokens.
#ifndef HEARTLOCK_SCHEDULER_RUN_CLOCK_H_
#define HEARTLOCK_SCHEDULER_RUN_CLOCK_H_

#include <stop_token>

#include "heartlock/scheduler.h"

namespace heartlock::detail {

// The run's scheduler clock, or the system's for a run made outside a scheduler.
inline SchedulerClock& clock_of(const ScheduledRun& run) {
  return run.clock != nullptr ? *run.clock : *system_scheduler_clock();
}

// Sleeps until `t` or until `a` or `b` is stopped. True if `t` was reached.
inline bool sleep_until_either(SchedulerClock& clock, SchedulerClock::time_point t,
                               const std::stop_token& a, const std::stop_token& b) {
  std::stop_source either;
  std::stop_callback on_a(a, [&either] { either.request_stop(); });
  std::stop_callback on_b(b, [&either] { either.request_stop(); });
  return clock.sleep_until(t, either.get_token());
}

// A stop source requested when `from` is: a run's own stop token that also follows its caller's.
class LinkedStop {
 public:
  explicit LinkedStop(const std::stop_token& from)
      : follow_(from, [this] { source_.request_stop(); }) {}
  LinkedStop(const LinkedStop&) = delete;
  LinkedStop& operator=(const LinkedStop&) = delete;
  std::stop_source& source() { return source_; }

 private:
  std::stop_source source_;
  std::stop_callback<std::function<void()>> follow_;
};

}  // namespace heartlock::detail

#endif  // HEARTLOCK_SCHEDULER_RUN_CLOCK_H_
