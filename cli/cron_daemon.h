// `heartlock cron FILE`: the daemon. Runs the crontab's jobs (cli/cron_job.h) on a Scheduler in
// the foreground until SIGTERM or SIGINT, against one store shared by every host that runs the
// same crontab.
//
// Signals: SIGHUP reloads FILE -- an invalid file keeps the jobs loaded before (and logs why);
// a job whose definition changed is replaced, a job no longer in the file is removed; a run of
// either that is in progress goes on to its end (it is not stopped), and with concurrency=forbid
// the new definition's slots skip while it holds the job's lock. SIGTERM, SIGINT or SIGQUIT: no
// new run starts (and no slot is claimed: another host may run it); running jobs get up to the
// shutdown grace to end by themselves, then they are stopped (TERM, KILL after their kill grace);
// a second such signal stops them at once.
#ifndef HEARTLOCK_CLI_CRON_DAEMON_H_
#define HEARTLOCK_CLI_CRON_DAEMON_H_

#include <chrono>
#include <cstddef>
#include <string>

#include "common.h"

namespace heartlock::cli {

struct CronDaemonOptions {
  std::string file;
  bool json_output = false;  // job output as JSON lines (--log-format json)
  std::chrono::milliseconds shutdown_grace = std::chrono::seconds(30);
  std::size_t workers = 64;    // runs at once, at most
  std::string metrics_listen;  // HOST:PORT, empty: no metrics
};

// Runs until stopped; 0 after a stop by signal, the usual exit codes when FILE is invalid (64),
// unreadable (66) or the store cannot be opened.
int run_cron_daemon(const CronDaemonOptions& options, const CommonArgs& common);

}  // namespace heartlock::cli

#endif  // HEARTLOCK_CLI_CRON_DAEMON_H_
