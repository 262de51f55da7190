// Scheduler: runs named jobs at the slots of their cron schedules, in this process.
//
// One timer thread keeps every job's next slot in a heap and sleeps until the earliest one (on
// the wall clock: a timerfd that also wakes when the clock is set); a bounded pool of worker
// threads runs the jobs. Each run is handed its slot -- the *scheduled* fire time in UTC, never
// the time the run happened to start -- and a stop token. What a run does around the job (skip
// while still running, a timeout, a lease, exactly one run per slot across hosts) is composed
// from the wrappers of heartlock/job_wrappers.h.
//
//   heartlock::Scheduler s;
//   auto every_minute = heartlock::CronSchedule::parse("* * * * *").value();
//   s.add({.name = "report", .schedule = every_minute,
//          .run = heartlock::chain({wrap::recover(), wrap::once_per_slot(*store)}, report)});
//
// Missed runs: a slot is missed when its timer comes more than MissedRuns::grace after it, or
// when a later slot of the job is already due (the process was paused, the machine suspended,
// the clock set forward, the scheduler not running).
// What happens to missed slots is each job's choice: skip them, run the latest once, or run each
// (bounded). With MissedRuns::store, the scheduler learns on start which slots nobody ran from
// the store's slot records (Store::last_slot) -- so a cluster that was down as a whole catches up
// once, not once per host, and not at all for slots another host ran.
#ifndef HEARTLOCK_SCHEDULER_H_
#define HEARTLOCK_SCHEDULER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "heartlock/cron.h"
#include "heartlock/error.h"
#include "heartlock/export.h"
#include "heartlock/options.h"

namespace heartlock {

class Store;

// The clock a scheduler reads and sleeps on: the wall clock (system_scheduler_clock()), or a
// test's own. Slots are wall-clock instants, so this is a wall clock.
//
// Thread-safety: every method may be called from any thread at any time.
class HEARTLOCK_API SchedulerClock {
 public:
  using time_point = std::chrono::system_clock::time_point;
  virtual ~SchedulerClock() = default;
  virtual time_point now() const = 0;
  // Blocks until now() >= t (true) or until `stop` is requested (false, promptly; also when it
  // was requested before the call).
  virtual bool sleep_until(time_point t, std::stop_token stop) = 0;
  bool sleep_for(std::chrono::nanoseconds d, std::stop_token stop) {
    return sleep_until(now() + std::chrono::duration_cast<std::chrono::system_clock::duration>(d),
                       std::move(stop));
  }
};

// The system's wall clock. Sleeps are a timerfd on CLOCK_REALTIME, cancelled when the clock is
// set, so a sleep ends at the wall-clock instant asked for also across a clock change or a
// suspend. Shared: one instance serves every scheduler.
HEARTLOCK_API std::shared_ptr<SchedulerClock> system_scheduler_clock();

// What a run came to.
enum class RunStatus {
  done,         // the job ran and succeeded
  failed,       // the job ran and failed (returned failure, threw, timed out)
  skipped,      // not run, on purpose: another instance has it, the last run still runs, missed
  store_error,  // not run (or stopped) because a lock store did not answer or refused: an error
                // that is logged, counted and given to SchedulerOptions::on_store_error
};

// Returns a stable lower-case name ("done", ...).
HEARTLOCK_API std::string_view to_string(RunStatus status) noexcept;

struct HEARTLOCK_API RunOutcome {
  RunStatus status = RunStatus::done;
  std::string detail;  // why, in words (empty for done)
  // wrap::timeout gave up waiting: the job's thread may still run. Never retried; and the
  // exclusion of the wrappers outside (skip/delay_if_running, with_lock) ended with the return.
  bool abandoned = false;

  static RunOutcome ok() { return {}; }
  static RunOutcome failure(std::string why) { return {RunStatus::failed, std::move(why), false}; }
  static RunOutcome skip(std::string why) { return {RunStatus::skipped, std::move(why), false}; }
  static RunOutcome store(std::string why) {
    return {RunStatus::store_error, std::move(why), false};
  }
};

// One run of a job, as the job and its wrappers see it.
struct HEARTLOCK_API ScheduledRun {
  std::string job;                     // the job's name
  std::chrono::sys_seconds slot;       // the scheduled fire time, UTC: the run's identity
  std::stop_token stop;                // requested: stop soon (scheduler stopping, job removed,
                                       // timeout, lease lost); the run should return
  std::optional<std::uint64_t> token;  // the fencing token of the lease the run holds, if any
  int attempt = 1;                     // 1, then 2, 3... under wrap::retry
  SchedulerClock* clock = nullptr;     // the scheduler's clock, for waits inside the run
  // Called by chain() right before the job itself, once every wrapper let the run through:
  // wrap::once_per_slot records the slot here. An outcome means "do not run the job: this is the
  // run's outcome". Empty when no wrapper needs it.
  std::function<std::optional<RunOutcome>()> on_start;
};

// A job: what runs at each slot. Wrapped jobs are JobFns too (heartlock/job_wrappers.h).
using JobFn = std::function<RunOutcome(const ScheduledRun&)>;

// What happens to missed slots: those whose timer came more than `grace` late, and those
// overtaken by a later slot before their timer came. The runs a job catches up on (and the on-time
// slot due with them) run one after another on one worker, oldest first: never at once; the job's
// slots that come due meanwhile wait behind them on that worker.
enum class MissedPolicy {
  skip,      // nothing: the next slot runs as usual
  run_once,  // one run, for the latest missed slot
  run_all,   // a run for each missed slot, oldest first, at most MissedRuns::max_runs (the latest)
};

struct HEARTLOCK_API MissedRuns {
  MissedPolicy policy = MissedPolicy::skip;
  // A slot whose timer comes up to this long after it still runs (it is late, not missed).
  std::chrono::seconds grace = std::chrono::seconds(60);
  // run_all: at most this many missed slots are run (the latest ones).
  std::size_t max_runs = 10;
  // Where the job's slot records are (the store its wrap::once_per_slot claims in). When set, the
  // scheduler asks it on add() for the last slot anybody claimed (Store::last_slot) and treats
  // every later slot up to now as missed; the store must outlive the scheduler. When null, only
  // slots this process was late for are missed.
  Store* store = nullptr;
};

// One job of a scheduler.
struct HEARTLOCK_API JobOptions {
  std::string name;  // unique in the scheduler; the key of its locks and slot records
  CronSchedule schedule;
  JobFn run;
  MissedRuns missed{};
};

// The counters of one job since it was added.
struct HEARTLOCK_API JobStats {
  std::uint64_t done = 0;
  std::uint64_t failed = 0;
  std::uint64_t skipped = 0;
  std::uint64_t store_errors = 0;
  std::uint64_t running = 0;  // runs handed to a worker and not ended yet (running or queued)
  std::optional<std::chrono::sys_seconds> last_slot;  // the last slot handed to a worker
  std::optional<std::chrono::sys_seconds> next_slot;  // the next slot it is waiting for
};

struct HEARTLOCK_API SchedulerOptions {
  // Worker threads: at most this many runs at once; more wait in order (and may be late).
  std::size_t workers = 4;
  std::shared_ptr<SchedulerClock> clock{};  // null: system_scheduler_clock()
  LogSink log{};                            // may be empty
  // Called after every run, on the worker that ran it, last (after the log and on_store_error).
  // Must not block for long.
  std::function<void(const ScheduledRun&, const RunOutcome&)> on_outcome{};
  // Called for every store_error outcome, after it was logged and counted.
  std::function<void(const ScheduledRun&, const RunOutcome&)> on_store_error{};
};

// Scheduler: the timer thread, the worker pool and the jobs.
//
// Lifetime: the destructor stops (see stop()). Thread-safety: every method may be called from any
// thread, also from inside a running job (except stop(), which waits for the runs).
class HEARTLOCK_API Scheduler {
 public:
  explicit Scheduler(SchedulerOptions options = {});
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Adds a job; its first slot is the schedule's first fire time after now. Errc::invalid_argument
  // for an empty or duplicate name, a job without `run`, a stopped scheduler; with
  // MissedRuns::store, the errors of Store::last_slot (the job is not added).
  [[nodiscard]] Result<void> add(JobOptions job);

  // Removes a job: no new run starts; runs in progress are asked to stop (their stop token) and
  // finish on their own. False if there was no such job.
  bool remove(std::string_view name);

  // The names of the jobs, sorted.
  std::vector<std::string> jobs() const;

  // The counters of one job, or nullopt.
  std::optional<JobStats> stats(std::string_view name) const;

  // Stops: no new run starts (runs already queued for a worker are recorded as skipped), every
  // run in progress is asked to stop, and stop() returns once they all returned. Idempotent; a
  // second caller waits like the first.
  void stop();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace heartlock

#endif  // HEARTLOCK_SCHEDULER_H_
