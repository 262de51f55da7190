// wrap::timeout: the job on a thread of its own, asked to stop after the limit and abandoned
// after the grace.
#include <exception>
#include <mutex>
#include <thread>

#include "heartlock/job_wrappers.h"

#include "run_clock.h"

namespace heartlock::wrap {
namespace {

// What the wrapper and the job's thread share; the thread keeps it alive when abandoned.
struct Attempt {
  std::mutex mu;
  RunOutcome outcome;         // guarded by mu
  std::stop_source stop;      // the job's stop token
  std::stop_source finished;  // requested once `outcome` is set
};

std::string in_ms(std::chrono::milliseconds d) { return std::to_string(d.count()) + " ms"; }

}  // namespace

Wrapper timeout(std::chrono::milliseconds limit, std::chrono::milliseconds grace) {
  return [limit, grace](JobFn inner_fn) -> JobFn {
    // Shared, not copied per run: a job's captured state is one, and an abandoned thread keeps
    // it alive.
    auto next = std::make_shared<const JobFn>(std::move(inner_fn));
    return [limit, grace, next](const ScheduledRun& run) {
      SchedulerClock& clock = detail::clock_of(run);
      const auto start = clock.now();
      auto attempt = std::make_shared<Attempt>();
      ScheduledRun inner = run;
      inner.stop = attempt->stop.get_token();
      std::stop_callback follow(run.stop, [attempt] { attempt->stop.request_stop(); });
      std::thread worker([attempt, next, inner] {
        RunOutcome outcome;
        try {
          outcome = (*next)(inner);
        } catch (const std::exception& e) {
          outcome = RunOutcome::failure(std::string("threw: ") + e.what());
        } catch (...) {
          outcome = RunOutcome::failure("threw something that is not a std::exception");
        }
        std::lock_guard lock(attempt->mu);
        attempt->outcome = std::move(outcome);
        attempt->finished.request_stop();
      });
      const std::stop_token finished = attempt->finished.get_token();
      if (!clock.sleep_until(start + limit, finished)) {
        worker.join();
        std::lock_guard lock(attempt->mu);
        return attempt->outcome;
      }
      attempt->stop.request_stop();
      if (!clock.sleep_until(start + limit + grace, finished)) {
        worker.join();
        std::lock_guard lock(attempt->mu);
        RunOutcome out = attempt->outcome;
        if (out.status == RunStatus::done) {
          out =
              RunOutcome::failure("timed out after " + in_ms(limit) + "; stopped within the grace");
        }
        return out;
      }
      worker.detach();
      RunOutcome abandoned =
          RunOutcome::failure("timed out after " + in_ms(limit) + "; still running " +
                              in_ms(grace) + " after being asked to stop: abandoned");
      abandoned.abandoned = true;
      return abandoned;
    };
  };
}

}  // namespace heartlock::wrap
