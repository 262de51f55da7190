// `heartlock run [options] [--] COMMAND [ARGS...]`
#ifndef HEARTLOCK_CLI_RUN_COMMAND_H_
#define HEARTLOCK_CLI_RUN_COMMAND_H_

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "heartlock/options.h"

#include "common.h"
#include "exec/job_spec.h"

namespace heartlock::cli {

struct RunArgs {
  std::optional<std::string> key;  // unset: derived from the command line
  bool nonblock = false;
  std::string wait;
  std::string ttl = "30s";
  std::string stale_after;
  std::string min_hold;
  std::string max_hold;
  std::string timeout;
  std::string kill_grace;  // empty: kDefaultKillGrace, or less when the lease needs it
  bool kill_stale = false;
  int conflict_exit_code = 75;
  std::string heartbeat = "alive";
  std::vector<std::string> command;
  // -c/--command: a shell line, run as `/bin/sh -c LINE` (flock -c); excludes `command`.
  std::optional<std::string> shell_command;
  // Replacements for the wrapper's own exit codes (cronlock's 201 and 202); unset: the defaults.
  std::optional<int> error_exit_code;    // instead of 64, 69, 70 and 79 (lease lost)
  std::optional<int> timeout_exit_code;  // instead of 124
};

// `heartlock run`'s settings as values: what RunArgs parse into, and what `heartlock cronlock`
// builds from its configuration directly.
struct RunSettings {
  std::optional<std::string> key;  // unset: derived from the command line
  // ttl, stale_after, min_hold, max_hold and kill_stale; kill_grace and command are set by
  // run_job (from `kill_grace` and the command line).
  LeaseOptions lease;
  std::optional<std::chrono::milliseconds> wait;        // unset: try once
  std::optional<std::chrono::milliseconds> timeout;     // unset: none
  std::optional<std::chrono::milliseconds> kill_grace;  // unset: kDefaultKillGrace or less
  exec::HeartbeatMode heartbeat = exec::HeartbeatMode::alive;
  int conflict_exit_code = 75;
  std::optional<int> error_exit_code;    // instead of 64, 69, 70 and 79 (lease lost)
  std::optional<int> timeout_exit_code;  // instead of 124
};

CLI::App* add_run_command(CLI::App& app, RunArgs& args);

// Acquires, runs and supervises `command` (or args.shell_command through /bin/sh -c), releases;
// returns the exit code.
int run_job(const RunArgs& args, const CommonArgs& common, const std::vector<std::string>& command);
int run_job(const RunSettings& settings, const CommonArgs& common,
            const std::vector<std::string>& command);

}  // namespace heartlock::cli

#endif  // HEARTLOCK_CLI_RUN_COMMAND_H_
