// The I/O deadline of the current thread: a bound that every blocking call a backend makes on a
// lease's behalf must respect, whatever its own timeout (`?timeout=` of the URL) says.
//
// The keepalive sets it, for the duration of one renewal or release, to the moment the lease
// stops being certainly valid; a backend's transport reads it where it computes a poll(2) or
// socket timeout (`capped(...)`). It is ambient (thread-local, like a request context) rather than
// a parameter so that the deadline reaches every layer -- connection, reconnect, TLS handshake,
// Sentinel lookup -- without threading an argument through each of them.
#ifndef HEARTLOCK_CORE_IO_DEADLINE_H_
#define HEARTLOCK_CORE_IO_DEADLINE_H_

#include <algorithm>
#include <chrono>

#include "clock.h"

namespace heartlock::detail {

inline constexpr BootTime kNoIoDeadline = BootTime::max();

// The current thread's I/O deadline on the boot clock, or kNoIoDeadline.
BootTime io_deadline() noexcept;

// Sets the thread's I/O deadline to the earlier of `deadline` and the one already set, for the
// scope's lifetime. Nests.
class ScopedIoDeadline {
 public:
  explicit ScopedIoDeadline(BootTime deadline) noexcept;
  ~ScopedIoDeadline();
  ScopedIoDeadline(const ScopedIoDeadline&) = delete;
  ScopedIoDeadline& operator=(const ScopedIoDeadline&) = delete;

 private:
  BootTime saved_;
};

// `timeout`, shortened so that it ends no later than the thread's I/O deadline (at least 0).
inline std::chrono::milliseconds capped(std::chrono::milliseconds timeout) noexcept {
  const BootTime deadline = io_deadline();
  if (deadline == kNoIoDeadline) {
    return timeout;
  }
  auto left = std::chrono::floor<std::chrono::milliseconds>(deadline - boot_now());
  return std::clamp(left, std::chrono::milliseconds(0), timeout);
}

// A steady-clock point `timeout` from now, no later than the thread's I/O deadline.
inline std::chrono::steady_clock::time_point capped_deadline(
    std::chrono::milliseconds timeout) noexcept {
  return std::chrono::steady_clock::now() + capped(timeout);
}

// True once the thread's I/O deadline has passed.
inline bool io_deadline_passed() noexcept {
  const BootTime deadline = io_deadline();
  return deadline != kNoIoDeadline && boot_now() >= deadline;
}

}  // namespace heartlock::detail

#endif  // HEARTLOCK_CORE_IO_DEADLINE_H_
