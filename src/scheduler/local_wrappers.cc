// The wrappers that need no store: chain, recover, skip/delay_if_running, jitter, retry.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <mutex>
#include <set>

#include "heartlock/digest.h"
#include "heartlock/job_wrappers.h"

#include "run_clock.h"

namespace heartlock {

JobFn chain(std::vector<Wrapper> wrappers, JobFn job) {
  // Innermost: the run's on_start (once_per_slot's record), then the job itself.
  job = [job = std::move(job)](const ScheduledRun& run) {
    if (run.on_start) {
      if (std::optional<RunOutcome> instead = run.on_start()) {
        return *std::move(instead);
      }
    }
    return job(run);
  };
  for (auto it = wrappers.rbegin(); it != wrappers.rend(); ++it) {
    job = (*it)(std::move(job));
  }
  return job;
}

JobFn job(std::function<void(const ScheduledRun&)> fn) {
  return [fn = std::move(fn)](const ScheduledRun& run) {
    fn(run);
    return RunOutcome::ok();
  };
}

namespace wrap {

Wrapper recover(LogSink log) {
  return [log](JobFn next) -> JobFn {
    return [log, next = std::move(next)](const ScheduledRun& run) {
      std::string what;
      try {
        return next(run);
      } catch (const std::exception& e) {
        what = std::string("threw: ") + e.what();
      } catch (...) {
        what = "threw something that is not a std::exception";
      }
      if (log) {
        log(LogLevel::error, "job " + run.job + " slot " +
                                 std::to_string(run.slot.time_since_epoch().count()) + " " + what);
      }
      return RunOutcome::failure(what);
    };
  };
}

Wrapper skip_if_running() {
  return [](JobFn next) -> JobFn {
    auto running = std::make_shared<std::atomic<bool>>(false);
    return [running, next = std::move(next)](const ScheduledRun& run) {
      if (running->exchange(true)) {
        return RunOutcome::skip("the previous run still runs");
      }
      struct Done {
        std::atomic<bool>& flag;
        ~Done() { flag.store(false); }
      } done{*running};
      return next(run);
    };
  };
}

namespace {

// What delay_if_running shares between the runs of one chain.
struct Turn {
  std::mutex mu;
  bool running = false;
  std::set<std::chrono::sys_seconds> waiting;  // slots waiting their turn: the oldest goes first
  std::stop_source finished;                   // requested when a run ends: waiters look again
};

}  // namespace

Wrapper delay_if_running(std::chrono::milliseconds max_delay) {
  return [max_delay](JobFn next) -> JobFn {
    auto turn = std::make_shared<Turn>();
    return [turn, max_delay, next = std::move(next)](const ScheduledRun& run) {
      SchedulerClock& clock = detail::clock_of(run);
      const auto deadline = clock.now() + std::min(max_delay, kMaxDuration);
      std::unique_lock lock(turn->mu);
      turn->waiting.insert(run.slot);
      while (turn->running || *turn->waiting.begin() != run.slot) {
        const std::stop_token finished = turn->finished.get_token();
        lock.unlock();
        const bool timed_out = detail::sleep_until_either(clock, deadline, run.stop, finished);
        lock.lock();
        if (timed_out || run.stop.stop_requested()) {
          turn->waiting.erase(run.slot);
          turn->finished.request_stop();  // another waiter may be first now
          turn->finished = std::stop_source();
          return RunOutcome::skip(timed_out ? "the previous run still ran after the longest delay"
                                            : "stopped while waiting for the previous run");
        }
      }
      turn->waiting.erase(run.slot);
      turn->running = true;
      lock.unlock();
      struct Done {
        Turn& turn;
        ~Done() {
          std::lock_guard l(turn.mu);
          turn.running = false;
          turn.finished.request_stop();
          turn.finished = std::stop_source();
        }
      } done{*turn};
      return next(run);
    };
  };
}

std::chrono::milliseconds jitter_of(std::string_view job, std::chrono::milliseconds max) {
  if (max <= std::chrono::milliseconds::zero()) {
    return std::chrono::milliseconds::zero();
  }
  const std::string hex = sha256_hex(job);
  const std::uint64_t h = std::stoull(hex.substr(0, 16), nullptr, 16);
  return std::chrono::milliseconds(
      static_cast<std::int64_t>(h % static_cast<std::uint64_t>(max.count())));
}

Wrapper jitter(std::chrono::milliseconds max) {
  return [max](JobFn next) -> JobFn {
    return [max, next = std::move(next)](const ScheduledRun& run) {
      const auto at = run.slot + jitter_of(run.job, max);
      if (!detail::clock_of(run).sleep_until(at, run.stop)) {
        return RunOutcome::skip("stopped before the jittered start");
      }
      return next(run);
    };
  };
}

Wrapper retry(RetryOptions options, CronSchedule schedule) {
  return [options, schedule](JobFn next) -> JobFn {
    return [options, schedule, next = std::move(next)](const ScheduledRun& run) {
      SchedulerClock& clock = detail::clock_of(run);
      const auto next_slot = schedule.next_after(run.slot);
      ScheduledRun attempt = run;
      using ms_double = std::chrono::duration<double, std::milli>;
      const ms_double longest(std::min(options.max_backoff, kMaxDuration));
      ms_double backoff = std::min(ms_double(options.initial_backoff), longest);
      for (;;) {
        RunOutcome outcome = next(attempt);
        if (outcome.status != RunStatus::failed || outcome.abandoned ||
            attempt.attempt >= options.max_attempts) {
          return outcome;
        }
        const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(backoff);
        const auto at = clock.now() + wait;
        if (next_slot && at >= *next_slot) {
          outcome.detail += " (not retried: the next slot comes first)";
          return outcome;
        }
        if (!clock.sleep_until(at, run.stop)) {
          outcome.detail += " (not retried: stopped)";
          return outcome;
        }
        ++attempt.attempt;
        backoff = std::min(backoff * std::max(options.multiplier, 1.0), longest);
      }
    };
  };
}

}  // namespace wrap
}  // namespace heartlock
