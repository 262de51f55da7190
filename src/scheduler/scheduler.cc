// Scheduler: the timer thread (a heap of every job's next slot) and the dispatch of runs to the
// worker pool.
#include "heartlock/scheduler.h"

#include <algorithm>
#include <ctime>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <queue>
#include <thread>

#include "heartlock/store.h"

#include "missed_runs.h"
#include "worker_pool.h"

namespace heartlock {
namespace {

// 2026-03-29T01:00:00Z
std::string describe(std::chrono::sys_seconds slot) {
  const std::time_t t = slot.time_since_epoch().count();
  std::tm tm{};
  char buf[40] = "?";
  if (::gmtime_r(&t, &tm) != nullptr) {
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  }
  return buf;
}

}  // namespace

std::string_view to_string(RunStatus status) noexcept {
  switch (status) {
    case RunStatus::done:
      return "done";
    case RunStatus::failed:
      return "failed";
    case RunStatus::skipped:
      return "skipped";
    case RunStatus::store_error:
      return "store_error";
  }
  return "unknown";
}

// One job: its options, its counters and the stop source of its runs.
struct JobEntry {
  explicit JobEntry(JobOptions o) : options(std::move(o)) {}
  JobOptions options;
  std::uint64_t id = 0;  // distinguishes a job from a later one of the same name
  std::stop_source stop;
  JobStats stats;  // guarded by Scheduler::Impl::mu_
  // While a catch-up (more than one slot at once) runs, the job's slots wait here, in order, for
  // the worker running it. Guarded by Scheduler::Impl::mu_.
  bool catching_up = false;
  std::deque<std::chrono::sys_seconds> queued;
};

class Scheduler::Impl {
 public:
  explicit Impl(SchedulerOptions options)
      : options_(std::move(options)),
        clock_(options_.clock ? options_.clock : system_scheduler_clock()),
        pool_(options_.workers) {
    timer_ = std::thread([this] { timer_loop(); });
  }

  ~Impl() { stop(); }

  Result<void> add(JobOptions job) {
    if (job.name.empty() || !job.run) {
      return fail(Errc::invalid_argument, job.name.empty()
                                              ? "a job needs a name"
                                              : "job " + job.name + " has nothing to run");
    }
    const auto now = clock_->now();
    const auto now_s = std::chrono::floor<std::chrono::seconds>(now);
    // Slots nobody ran since the last one claimed in the store: due now, as the policy says.
    detail::DueSlots due;
    if (job.missed.store != nullptr && job.missed.policy != MissedPolicy::skip) {
      auto last = job.missed.store->last_slot(job.name);
      if (!last) {
        return std::unexpected(last.error());
      }
      if (*last) {
        if (auto first = job.schedule.next_after(**last)) {
          due = detail::due_slots(job.schedule, *first, now, job.missed);
        }
      }
    }
    if (!due.next) {
      due.next = job.schedule.next_after(now_s);
    }
    std::unique_lock lock(mu_);
    if (stopped_) {
      return fail(Errc::invalid_argument, "the scheduler is stopped");
    }
    if (jobs_.contains(job.name)) {
      return fail(Errc::invalid_argument, "a job named " + job.name + " is already scheduled");
    }
    auto entry = std::make_shared<JobEntry>(std::move(job));
    entry->id = ++last_id_;
    jobs_.emplace(entry->options.name, entry);
    if (due.missed > 0) {
      log_later(LogLevel::warn, "job " + entry->options.name + ": " + std::to_string(due.missed) +
                                    " slot(s) since the last one claimed in the store were missed; "
                                    "running " +
                                    std::to_string(due.run.size()));
    }
    dispatch(entry, due.run);
    schedule(entry, due.next);
    flush_logs(lock);
    return {};
  }

  bool remove(std::string_view name) {
    std::shared_ptr<JobEntry> entry;
    {
      std::lock_guard lock(mu_);
      auto it = jobs_.find(name);
      if (it == jobs_.end()) {
        return false;
      }
      entry = std::move(it->second);
      jobs_.erase(it);
    }
    entry->stop.request_stop();
    return true;
  }

  std::vector<std::string> jobs() const {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    out.reserve(jobs_.size());
    for (const auto& [name, entry] : jobs_) {
      out.push_back(name);
    }
    return out;
  }

  std::optional<JobStats> stats(std::string_view name) const {
    std::lock_guard lock(mu_);
    auto it = jobs_.find(name);
    if (it == jobs_.end()) {
      return std::nullopt;
    }
    return it->second->stats;
  }

  void stop() {
    std::lock_guard stopping(stop_mu_);  // a second caller waits for the first to finish
    std::map<std::string, std::shared_ptr<JobEntry>, std::less<>> jobs;
    {
      std::lock_guard lock(mu_);
      stopped_ = true;
      nudge_.request_stop();
      jobs = jobs_;
    }
    if (timer_.joinable()) {
      timer_.join();
    }
    for (auto& [name, entry] : jobs) {
      entry->stop.request_stop();
    }
    pool_.shutdown();
  }

 private:
  // A job's next slot in the timer heap. Entries of removed jobs are dropped when they surface.
  struct Timer {
    std::chrono::sys_seconds slot;
    std::weak_ptr<JobEntry> job;
    std::uint64_t id;
    bool operator>(const Timer& other) const { return slot > other.slot; }
  };

  // The sink never runs under mu_ (it may call the scheduler, or be slow), and what it throws
  // is dropped.
  void log(LogLevel level, std::string_view message) const {
    if (options_.log) {
      try {
        options_.log(level, message);
      } catch (...) {
      }
    }
  }

  // REQUIRES: mu_ held. Logged by flush_logs() once mu_ is released.
  void log_later(LogLevel level, std::string message) {
    if (options_.log) {
      pending_logs_.emplace_back(level, std::move(message));
    }
  }

  void flush_logs(std::unique_lock<std::mutex>& lock) {
    if (pending_logs_.empty()) {
      return;
    }
    auto lines = std::move(pending_logs_);
    pending_logs_.clear();
    lock.unlock();
    for (const auto& [level, line] : lines) {
      log(level, line);
    }
    lock.lock();
  }

  // REQUIRES: mu_ held.
  void schedule(const std::shared_ptr<JobEntry>& entry,
                std::optional<std::chrono::sys_seconds> slot) {
    entry->stats.next_slot = slot;
    if (!slot) {
      log_later(LogLevel::warn, "job " + entry->options.name + ": its schedule fires no more");
      return;
    }
    const bool earliest = heap_.empty() || *slot < heap_.top().slot;
    heap_.push(Timer{*slot, entry, entry->id});
    if (earliest) {
      nudge_.request_stop();  // the timer sleeps until a later slot: wake it
    }
  }

  void timer_loop() {
    std::unique_lock lock(mu_);
    while (!stopped_) {
      if (nudge_.stop_requested()) {
        nudge_ = std::stop_source();
      }
      const auto wake = nudge_.get_token();
      if (heap_.empty()) {
        lock.unlock();
        // Nothing to wait for: an add() wakes it; a day's sleep keeps the timer's time small.
        clock_->sleep_until(clock_->now() + std::chrono::hours(24), wake);
        lock.lock();
        continue;
      }
      const Timer top = heap_.top();
      auto entry = top.job.lock();
      if (!entry || entry->stop.stop_requested()) {
        heap_.pop();
        release(entry, lock);
        continue;
      }
      const auto now = clock_->now();
      if (now < top.slot) {
        release(entry, lock);
        lock.unlock();
        clock_->sleep_until(top.slot, wake);
        lock.lock();
        continue;
      }
      heap_.pop();
      auto due = detail::due_slots(entry->options.schedule, top.slot, now, entry->options.missed);
      if (due.missed > 0) {
        const auto late = std::chrono::duration_cast<std::chrono::milliseconds>(now - top.slot);
        log_later(LogLevel::warn, "job " + entry->options.name + ": " + std::to_string(due.missed) +
                                      " slot(s) missed (the timer came " +
                                      std::to_string(late.count()) + " ms late); running " +
                                      std::to_string(due.run.size()));
      }
      dispatch(entry, due.run);
      schedule(entry, due.next);
      release(entry, lock);
      flush_logs(lock);
    }
  }

  // Drops the timer's hold on a job without mu_: the last hold on a removed job destroys its
  // function, and what that captured may call the scheduler.
  static void release(std::shared_ptr<JobEntry>& entry, std::unique_lock<std::mutex>& lock) {
    if (entry) {
      lock.unlock();
      entry.reset();
      lock.lock();
    }
  }

  // Hands `slots` (oldest first) to one worker, which runs them one after another: the missed
  // slots a job catches up on never run at once (under with_lock's forbid all but one would be
  // skipped, the lock being held by their siblings) and really start oldest first. Slots that
  // come due while a catch-up runs queue behind it on the same worker: run beside it, a later slot
  // would find the job's lock held, or take the slots still waiting for missed.
  // REQUIRES: mu_ held.
  void dispatch(const std::shared_ptr<JobEntry>& entry,
                std::vector<std::chrono::sys_seconds> slots) {
    if (slots.empty()) {
      return;
    }
    entry->stats.last_slot = slots.back();
    entry->stats.running += slots.size();
    if (entry->catching_up) {
      entry->queued.insert(entry->queued.end(), slots.begin(), slots.end());
      return;
    }
    const std::size_t n = slots.size();
    bool posted = false;
    if (n == 1) {
      posted = pool_.post([this, entry, slot = slots.front()] { run(*entry, slot); });
    } else {
      entry->catching_up = true;
      entry->queued.assign(slots.begin(), slots.end());
      posted = pool_.post([this, entry] { run_queued(entry); });
    }
    if (!posted) {
      entry->stats.running -= n;
      entry->catching_up = false;
      entry->queued.clear();
    }
  }

  // A catch-up's worker: the queued slots, oldest first, until none is left.
  void run_queued(const std::shared_ptr<JobEntry>& entry) {
    for (;;) {
      std::chrono::sys_seconds slot;
      {
        std::lock_guard lock(mu_);
        if (entry->queued.empty()) {
          entry->catching_up = false;
          return;
        }
        slot = entry->queued.front();
        entry->queued.pop_front();
      }
      run(*entry, slot);
    }
  }

  void run(JobEntry& entry, std::chrono::sys_seconds slot) {
    ScheduledRun run{.job = entry.options.name,
                     .slot = slot,
                     .stop = entry.stop.get_token(),
                     .token = std::nullopt,
                     .attempt = 1,
                     .clock = clock_.get()};
    RunOutcome outcome;
    if (run.stop.stop_requested()) {
      outcome = RunOutcome::skip("the job was removed or the scheduler stopped");
    } else {
      try {
        outcome = entry.options.run(run);
      } catch (const std::exception& e) {
        outcome = RunOutcome::failure(std::string("threw: ") + e.what());
      } catch (...) {
        outcome = RunOutcome::failure("threw something that is not a std::exception");
      }
    }
    record(entry, run, outcome);
  }

  void record(JobEntry& entry, const ScheduledRun& run, const RunOutcome& outcome) {
    {
      std::lock_guard lock(mu_);
      --entry.stats.running;
      switch (outcome.status) {
        case RunStatus::done:
          ++entry.stats.done;
          break;
        case RunStatus::failed:
          ++entry.stats.failed;
          break;
        case RunStatus::skipped:
          ++entry.stats.skipped;
          break;
        case RunStatus::store_error:
          ++entry.stats.store_errors;
          break;
      }
    }
    // Only with a sink: the line (gmtime_r takes glibc's time-zone lock) was half of what a run
    // of a no-op job cost the scheduler (bench/scheduler_benchmark.cc, dispatch).
    if (options_.log) {
      std::string what = "job " + run.job + " slot " + describe(run.slot) + ": ";
      what += to_string(outcome.status);
      if (!outcome.detail.empty()) {
        what += ": " + outcome.detail;
      }
      static constexpr LogLevel kLevel[] = {LogLevel::debug, LogLevel::warn, LogLevel::debug,
                                            LogLevel::error};
      log(kLevel[static_cast<int>(outcome.status)], what);
    }
    // The hooks' exceptions are dropped: a worker must go on to the next run.
    try {
      if (outcome.status == RunStatus::store_error && options_.on_store_error) {
        options_.on_store_error(run, outcome);
      }
    } catch (...) {
    }
    try {
      if (options_.on_outcome) {
        options_.on_outcome(run, outcome);
      }
    } catch (...) {
    }
  }

  SchedulerOptions options_;
  std::shared_ptr<SchedulerClock> clock_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<JobEntry>, std::less<>> jobs_;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> heap_;
  std::stop_source nudge_;  // requested to wake the timer thread
  std::vector<std::pair<LogLevel, std::string>> pending_logs_;  // guarded by mu_
  std::mutex stop_mu_;                                          // serialises stop()
  std::uint64_t last_id_ = 0;
  bool stopped_ = false;
  detail::WorkerPool pool_;
  std::thread timer_;
};

Scheduler::Scheduler(SchedulerOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}
Scheduler::~Scheduler() = default;
Result<void> Scheduler::add(JobOptions job) { return impl_->add(std::move(job)); }
bool Scheduler::remove(std::string_view name) { return impl_->remove(name); }
std::vector<std::string> Scheduler::jobs() const { return impl_->jobs(); }
std::optional<JobStats> Scheduler::stats(std::string_view name) const { return impl_->stats(name); }
void Scheduler::stop() { impl_->stop(); }

}  // namespace heartlock
