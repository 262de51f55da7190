// Clocks. Deadlines and staleness use boot_now(): CLOCK_BOOTTIME does not jump when the wall clock
// is set, counts time spent suspended (a lease does expire while a laptop sleeps), and is shared
// by every process of one boot, so a time written by one process can be compared by another.
#ifndef HEARTLOCK_CORE_CLOCK_H_
#define HEARTLOCK_CORE_CLOCK_H_

#include <chrono>

#include <time.h>

namespace heartlock::detail {

// Nanoseconds since boot.
using BootTime = std::chrono::nanoseconds;

inline BootTime boot_now() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_BOOTTIME, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

// Converts a BootTime deadline to the steady clock, for condition variables and poll timeouts.
inline std::chrono::steady_clock::time_point to_steady(BootTime t) noexcept {
  return std::chrono::steady_clock::now() +
         std::chrono::duration_cast<std::chrono::steady_clock::duration>(t - boot_now());
}

// Milliseconds from now until t, clamped to [0, cap]; for poll(2).
inline int poll_timeout_ms(BootTime t, std::chrono::milliseconds cap) noexcept {
  auto left = std::chrono::ceil<std::chrono::milliseconds>(t - boot_now());
  if (left < std::chrono::milliseconds(0)) {
    return 0;
  }
  return static_cast<int>(std::min(left, cap).count());
}

}  // namespace heartlock::detail

#endif  // HEARTLOCK_CORE_CLOCK_H_
