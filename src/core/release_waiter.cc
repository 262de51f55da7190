#include "release_waiter.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>

namespace heartlock::detail {
namespace {

using std::chrono::milliseconds;

// How long a waiter whose connection became readable reads for the message before it looks at
// its stop token again: the message is there already (or on its way in the same TLS record).
constexpr milliseconds kPushReadSlice{100};

// How often a wait looks at a stop token that has no eventfd (none could be made).
constexpr milliseconds kStopPollSlice{20};

// t + d, at most BootTime::max() (d >= 0).
BootTime add_saturated(BootTime t, std::chrono::nanoseconds d) noexcept {
  if (d.count() <= 0) {
    return t;
  }
  return d >= BootTime::max() - t ? BootTime::max() : t + d;
}

// A duration from a record (milliseconds), in nanoseconds without overflow: a garbage ttl of
// centuries reads as "never".
std::chrono::nanoseconds to_ns(milliseconds d) noexcept {
  constexpr auto kMaxMs = std::chrono::duration_cast<milliseconds>(std::chrono::nanoseconds::max());
  return d >= kMaxMs ? std::chrono::nanoseconds::max() : std::chrono::nanoseconds(d);
}

}  // namespace

BootTime deadline_after(milliseconds wait) noexcept {
  const BootTime now = boot_now();
  const auto room = std::chrono::duration_cast<milliseconds>(BootTime::max() - now);
  return wait >= room ? BootTime::max() : now + wait;
}

BootTime next_look(const LockInfo& busy, BootTime now, BootTime deadline) noexcept {
  BootTime at = std::min(deadline, add_saturated(now, kMaxWaitSlice));
  if (!busy.holder || busy.holder->foreign) {
    return at;  // a foreign lock says nothing we could time a takeover by
  }
  const Holder& h = *busy.holder;
  constexpr milliseconds kPast(1);  // just after the moment, so that the try sees it passed
  if (busy.min_hold_left) {
    // A released lock kept by min_hold: free at its end, whatever its record's ttl says.
    return std::min(at, add_saturated(now, to_ns(*busy.min_hold_left + kPast)));
  }
  if (h.renew_age) {
    at = std::min(
        at, add_saturated(now, to_ns(std::max(h.ttl - *h.renew_age, milliseconds(0)) + kPast)));
  }
  if (h.stale_after.count() > 0 && h.heartbeat_age) {
    at = std::min(
        at, add_saturated(
                now, to_ns(std::max(h.stale_after - *h.heartbeat_age, milliseconds(0)) + kPast)));
  }
  return at;
}

void StopWake::Signal::operator()() const noexcept {
  const std::uint64_t one = 1;
  // The counter cannot overflow from one write; nothing to do if it failed.
  (void)!::write(fd, &one, sizeof one);
}

StopWake::StopWake(std::stop_token token) : token_(std::move(token)) {
  if (!token_.stop_possible()) {
    return;
  }
  fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd_ >= 0) {
    on_stop_.emplace(token_, Signal{fd_});  // runs at once if already stopped
  }
}

StopWake::~StopWake() {
  on_stop_.reset();  // waits for a callback running on another thread
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

bool wait_readable(int fd, BootTime until, const StopWake& stop) {
  for (;;) {
    if (stop.stop_requested()) {
      return false;
    }
    const BootTime now = boot_now();
    if (now >= until) {
      return false;
    }
    // Bounded so that poll's int milliseconds never overflow; the loop goes on to `until`.
    milliseconds cap = stop.needs_polling() ? kStopPollSlice : kMaxWaitSlice;
    pollfd p[2] = {{.fd = fd, .events = POLLIN, .revents = 0},
                   {.fd = stop.fd(), .events = POLLIN, .revents = 0}};
    int n = ::poll(p, 2, poll_timeout_ms(until, cap));  // poll ignores the entries that are -1
    if (n < 0 && errno != EINTR) {
      return false;
    }
    if (n > 0 && (p[0].revents & (POLLIN | POLLERR | POLLHUP)) != 0) {
      return true;
    }
  }
}

Result<void> PushWaiter::arm() {
  if (connected()) {
    return {};
  }
  disconnect();
  if (auto ok = connect(); !ok && ok.error().code == Errc::permission_denied) {
    return ok;
  }
  return {};
}

Result<void> PushWaiter::wait(BootTime until, const StopWake& stop) {
  if (!connected()) {
    wait_readable(-1, until, stop);
    return {};
  }
  // First what the connection read already (a message that came with an earlier one).
  milliseconds read_for(0);
  for (;;) {
    auto message = read_message(read_for);
    if (!message) {
      disconnect();  // the server went away: connect again (or sleep) after the next arm()
      return {};
    }
    if (*message || !wait_readable(socket(), until, stop)) {
      return {};  // a message, the time is up, or stopped
    }
    read_for = std::min(kPushReadSlice, std::chrono::ceil<milliseconds>(until - boot_now()));
  }
}

}  // namespace heartlock::detail
