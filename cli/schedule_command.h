// `heartlock schedule`: the next fire times of a cron expression, like
// `systemd-analyze calendar --iterations`.
#ifndef HEARTLOCK_CLI_SCHEDULE_COMMAND_H_
#define HEARTLOCK_CLI_SCHEDULE_COMMAND_H_

#include <string>

#include <CLI/CLI.hpp>

namespace heartlock::cli {

struct ScheduleArgs {
  std::string expression;
  std::string tz;    // empty: the system's local zone
  std::string from;  // RFC 3339; empty: now
  int count = 5;
  bool utc = false;  // print RFC 3339 UTC instead of local time with offset and zone
};

// Registers the subcommand on `app`; returns it so main can test parsed().
CLI::App* add_schedule_command(CLI::App& app, ScheduleArgs& args);

// Prints the next `count` fire times, one per line. 64 for an invalid expression, zone or time;
// 69 if the tz library or database is missing.
int show_schedule(const ScheduleArgs& args);

}  // namespace heartlock::cli

#endif  // HEARTLOCK_CLI_SCHEDULE_COMMAND_H_
