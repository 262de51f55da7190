// FakeClock: a SchedulerClock that moves only when a test moves it.
#ifndef HEARTLOCK_TESTS_SUPPORT_FAKE_CLOCK_H_
#define HEARTLOCK_TESTS_SUPPORT_FAKE_CLOCK_H_

#include <condition_variable>
#include <iterator>
#include <mutex>
#include <set>

#include "heartlock/scheduler.h"

namespace heartlock::testing {

// Thread-safety: every method may be called from any thread.
class FakeClock final : public SchedulerClock {
 public:
  explicit FakeClock(time_point start) : now_(start) {}

  time_point now() const override {
    std::lock_guard lock(mu_);
    return now_;
  }

  bool sleep_until(time_point t, std::stop_token stop) override {
    std::unique_lock lock(mu_);
    auto me = sleepers_.insert(t);
    moved_.notify_all();
    const bool reached = moved_.wait(lock, stop, [&] { return now_ >= t; });
    sleepers_.erase(me);
    return reached && !stop.stop_requested();
  }

  void advance(std::chrono::system_clock::duration d) {
    std::lock_guard lock(mu_);
    now_ += d;
    moved_.notify_all();
  }

  // Waits (in real time, up to 10 s) until at least `n` threads sleep on this clock until a
  // time still to come.
  bool wait_for_sleepers(std::size_t n) {
    std::unique_lock lock(mu_);
    return moved_.wait_for(lock, std::chrono::seconds(10), [&] {
      return static_cast<std::size_t>(
                 std::distance(sleepers_.upper_bound(now_), sleepers_.end())) >= n;
    });
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable_any moved_;
  time_point now_;
  std::multiset<time_point> sleepers_;  // the times they sleep until
};

}  // namespace heartlock::testing

#endif  // HEARTLOCK_TESTS_SUPPORT_FAKE_CLOCK_H_
