// What scheduler tests share: instants from text, and a recorder of run outcomes.
#ifndef HEARTLOCK_TESTS_SUPPORT_SCHEDULER_SUPPORT_H_
#define HEARTLOCK_TESTS_SUPPORT_SCHEDULER_SUPPORT_H_

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "heartlock/scheduler.h"

namespace heartlock::testing {

// "2026-01-01T00:00:00Z" as an instant.
inline std::chrono::sys_seconds at(const char* utc) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  std::sscanf(utc, "%d-%d-%dT%d:%d:%dZ", &y, &mo, &d, &h, &mi, &s);
  return std::chrono::sys_days{std::chrono::year{y} / mo / d} + std::chrono::hours{h} +
         std::chrono::minutes{mi} + std::chrono::seconds{s};
}

// Records every run's outcome (SchedulerOptions::on_outcome) and waits for them.
// Thread-safety: every method may be called from any thread.
class Outcomes {
 public:
  std::function<void(const ScheduledRun&, const RunOutcome&)> hook() {
    return [this](const ScheduledRun& run, const RunOutcome& outcome) {
      std::lock_guard lock(mu_);
      all_.emplace_back(run, outcome);
      changed_.notify_all();
    };
  }

  // Waits up to 20 s (real time) until at least `n` outcomes were recorded.
  bool wait_for(std::size_t n) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, std::chrono::seconds(20), [&] { return all_.size() >= n; });
  }

  std::size_t size() const {
    std::lock_guard lock(mu_);
    return all_.size();
  }

  std::vector<std::pair<ScheduledRun, RunOutcome>> all() const {
    std::lock_guard lock(mu_);
    return all_;
  }

  // The slots of `job`'s runs, sorted.
  std::vector<std::chrono::sys_seconds> slots(const std::string& job) const {
    std::lock_guard lock(mu_);
    std::vector<std::chrono::sys_seconds> out;
    for (const auto& [run, outcome] : all_) {
      if (run.job == job) {
        out.push_back(run.slot);
      }
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  std::size_t count(const std::string& job, RunStatus status) const {
    std::lock_guard lock(mu_);
    return static_cast<std::size_t>(std::count_if(all_.begin(), all_.end(), [&](const auto& p) {
      return p.first.job == job && p.second.status == status;
    }));
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::vector<std::pair<ScheduledRun, RunOutcome>> all_;
};

}  // namespace heartlock::testing

#endif  // HEARTLOCK_TESTS_SUPPORT_SCHEDULER_SUPPORT_H_
