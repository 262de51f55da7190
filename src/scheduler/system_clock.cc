// system_scheduler_clock(): the wall clock, slept on with a timerfd that the kernel cancels when
// the clock is set, so a sleep ends at the wall-clock instant asked for across clock changes.
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "heartlock/scheduler.h"

namespace heartlock {
namespace {

// A descriptor closed on scope exit.
class Descriptor {
 public:
  explicit Descriptor(int fd) noexcept : fd_(fd) {}
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  ~Descriptor() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  int get() const noexcept { return fd_; }

 private:
  int fd_;
};

timespec to_timespec(SchedulerClock::time_point t) {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch());
  const auto s = std::chrono::floor<std::chrono::seconds>(ns);
  return {static_cast<time_t>(s.count()), static_cast<long>((ns - s).count())};
}

class SystemSchedulerClock final : public SchedulerClock {
 public:
  time_point now() const override { return std::chrono::system_clock::now(); }

  bool sleep_until(time_point t, std::stop_token stop) override {
    if (stop.stop_requested()) {
      return false;
    }
    Descriptor timer(::timerfd_create(CLOCK_REALTIME, TFD_CLOEXEC | TFD_NONBLOCK));
    Descriptor wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (timer.get() < 0 || wake.get() < 0) {
      return fallback_sleep(t, stop);
    }
    std::stop_callback on_stop(stop, [&wake] {
      const std::uint64_t one = 1;
      (void)!::write(wake.get(), &one, sizeof one);
    });
    for (;;) {
      if (stop.stop_requested()) {
        return false;
      }
      if (now() >= t) {
        return true;
      }
      itimerspec spec{};
      spec.it_value = to_timespec(t);
      // Setting the clock cancels the timer (ECANCELED on read): re-arm against the new time.
      if (::timerfd_settime(timer.get(), TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &spec,
                            nullptr) != 0) {
        return fallback_sleep(t, stop);
      }
      pollfd fds[2] = {{timer.get(), POLLIN, 0}, {wake.get(), POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0 && errno != EINTR) {
        return fallback_sleep(t, stop);
      }
      std::uint64_t ticks = 0;
      (void)!::read(timer.get(), &ticks, sizeof ticks);
    }
  }

 private:
  // Without descriptors (EMFILE): short sleeps, so that neither the time nor a stop is missed
  // by more than 10 ms.
  bool fallback_sleep(time_point t, const std::stop_token& stop) {
    while (!stop.stop_requested()) {
      const auto left = t - now();
      if (left <= std::chrono::nanoseconds::zero()) {
        return true;
      }
      const auto step = std::min<std::chrono::nanoseconds>(left, std::chrono::milliseconds(10));
      const timespec ts{0, static_cast<long>(step.count())};
      ::nanosleep(&ts, nullptr);
    }
    return false;
  }
};

}  // namespace

std::shared_ptr<SchedulerClock> system_scheduler_clock() {
  static const auto clock = std::make_shared<SystemSchedulerClock>();
  return clock;
}

}  // namespace heartlock
