// `heartlock cron [-b URL] FILE` runs a crontab (cli/cron_daemon.h); `heartlock cron --check
// FILE` validates one (cli/crontab.h) and prints its jobs with their effective options and next
// fire times.
#ifndef HEARTLOCK_CLI_CRON_COMMAND_H_
#define HEARTLOCK_CLI_CRON_COMMAND_H_

#include <cstddef>
#include <string>

#include <CLI/CLI.hpp>

#include "common.h"

namespace heartlock::cli {

struct CronArgs {
  std::string file;
  bool check = false;
  std::string from;  // RFC 3339; empty: now
  bool utc = false;  // fire times in RFC 3339 UTC
  // The daemon's (cli/cron_daemon.h).
  std::string metrics_listen;
  std::string shutdown_grace = "30s";
  std::size_t workers = 64;
};

// Registers the subcommand on `app`; returns it so main can test parsed().
CLI::App* add_cron_command(CLI::App& app, CronArgs& args);

// --check: prints the jobs and exits 0; every error as FILE:LINE: what on stderr and 64 for an
// invalid file; 66 for a file that cannot be read; 69 if the tz module is missing. Without
// --check: runs the daemon (cli/cron_daemon.h) on the store `common` names.
int run_cron(const CronArgs& args, const CommonArgs& common);

}  // namespace heartlock::cli

#endif  // HEARTLOCK_CLI_CRON_COMMAND_H_
