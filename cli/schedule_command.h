// `heartlock schedule`: the next fire times of a cron expression, like
// `systemd-analyze calendar --iterations`.
#ifndef HEARTLOCK_CLI_SCHEDULE_COMMAND_H_
#define HEARTLOCK_CLI_SCHEDULE_COMMAND_H_

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

#include "heartlock/cron.h"

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

// An RFC 3339 time (2026-03-29T01:00:00Z, ...+02:00, a space for the T), or nullopt.
std::optional<std::chrono::sys_seconds> parse_rfc3339(std::string_view s);

// A fire time as `heartlock schedule` prints it: 2026-03-29T03:00:00+02:00 CEST (local time in the
// schedule's zone, with offset and abbreviation), or 2026-03-29T01:00:00Z with `utc`.
std::string format_fire(const CronSchedule& schedule, std::chrono::sys_seconds t, bool utc);

}  // namespace heartlock::cli

#endif  // HEARTLOCK_CLI_SCHEDULE_COMMAND_H_
