// BootClock: the clock lease deadlines are measured on.
#ifndef HEARTLOCK_CLOCK_H_
#define HEARTLOCK_CLOCK_H_

#include <chrono>

#include "heartlock/export.h"

namespace heartlock {

// CLOCK_BOOTTIME as a std::chrono clock: it does not jump when the wall clock is set, keeps
// counting while the machine is suspended (a lease does expire while a laptop sleeps), and is
// shared by every process of one boot. std::chrono::steady_clock (CLOCK_MONOTONIC) stops during
// suspend, so a deadline converted to it would be late by the time spent suspended.
struct HEARTLOCK_API BootClock {
  using duration = std::chrono::nanoseconds;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::time_point<BootClock>;
  static constexpr bool is_steady = true;
  static time_point now() noexcept;
};

}  // namespace heartlock

#endif  // HEARTLOCK_CLOCK_H_
