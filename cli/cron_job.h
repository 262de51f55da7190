// One crontab job as `heartlock cron` runs it: the scheduler job (heartlock/scheduler.h) that, at
// each slot, claims the slot once cluster-wide (wrap::once_per_slot), takes the job's lease as its
// concurrency policy says, records slots nobody ran as missed, runs COMMAND through the shell
// under exec::Supervisor (as `heartlock run` does: own process group, timeout, stopped when the
// lease is lost, heartbeat modes), retries a failure within the slot, relays its output, and
// writes the slot's entry in the run ledger (heartlock/ledger.h) when it starts and when it ends.
#ifndef HEARTLOCK_CLI_CRON_JOB_H_
#define HEARTLOCK_CLI_CRON_JOB_H_

#include <atomic>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>

#include "heartlock/heartlock.h"

#include "cron_metrics.h"
#include "cron_output.h"
#include "crontab.h"
#include "events.h"

namespace heartlock::cli {

// concurrency=allow: each run holds one of this many leases ("JOB@run1".."JOB@run16"), so a
// run still has a lease (a fencing token, the supervisor's deadline) and the runs of one job are
// bounded.
inline constexpr int kAllowedRuns = 16;

// What every job of one daemon shares. Outlives the scheduler that runs the jobs.
struct CronContext {
  Store& store;
  const OutputSink& output;
  Events& events;
  int null_stdin = -1;                    // COMMAND's stdin (/dev/null)
  std::stop_token kill;                   // requested: stop every running COMMAND now
  std::atomic<bool>* draining = nullptr;  // true: the daemon stops; start no run
  std::atomic<int>* running = nullptr;    // COMMANDs running now
  std::string host;                       // this host's name, for the ledger
  CronMetrics* metrics = nullptr;         // may be null
};

// The scheduler job for `job` (kept alive by its runs, also after a reload replaced it); `ctx`
// must outlive the scheduler.
JobOptions cron_job_options(std::shared_ptr<const CrontabJob> job, CronContext& ctx);

// "2026-11-29T18:00:00Z".
std::string rfc3339(std::chrono::sys_seconds t);

}  // namespace heartlock::cli

#endif  // HEARTLOCK_CLI_CRON_JOB_H_
