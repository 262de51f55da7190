// `heartlock cron --check FILE`: validates a crontab (cli/crontab.h) and prints its jobs with
// their effective options and next fire times. (The daemon that runs a crontab comes later.)
#ifndef HEARTLOCK_CLI_CRON_COMMAND_H_
#define HEARTLOCK_CLI_CRON_COMMAND_H_

#include <string>

#include <CLI/CLI.hpp>

namespace heartlock::cli {

struct CronArgs {
  std::string file;
  bool check = false;
  std::string from;  // RFC 3339; empty: now
  bool utc = false;  // fire times in RFC 3339 UTC
};

// Registers the subcommand on `app`; returns it so main can test parsed().
CLI::App* add_cron_command(CLI::App& app, CronArgs& args);

// --check: prints the jobs and exits 0; every error as FILE:LINE: what on stderr and 64 for an
// invalid file; 66 for a file that cannot be read; 69 if the tz module is missing. Without
// --check: 64 (the daemon is not built yet).
int run_cron(const CronArgs& args);

}  // namespace heartlock::cli

#endif  // HEARTLOCK_CLI_CRON_COMMAND_H_
