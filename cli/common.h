// What the subcommands share: global options, opening the store, mapping errors to exit codes.
#ifndef HEARTLOCK_CLI_COMMON_H_
#define HEARTLOCK_CLI_COMMON_H_

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "heartlock/heartlock.h"

#include "events.h"

namespace heartlock::cli {

struct CommonArgs {
  std::string backend;  // -b/--backend, else $HEARTLOCK_BACKEND, else the default directory
  bool quiet = false;
  bool verbose = false;
  bool json = false;            // --json: --log-format json, and JSON documents on stdout
  std::string log_format;       // --log-format: "text", "json", or empty (text)
  bool syslog = false;          // --syslog
  std::string syslog_facility;  // --syslog-facility; empty: user
};

// The log format the arguments ask for: json with --json or --log-format json.
LogFormat log_format(const CommonArgs& args);

Events make_events(const CommonArgs& args);

// The exit code for a library error: 64 for bad input, 70 for a bug, 69 otherwise.
int exit_code_for(const Error& error);

// Opens the store the arguments name; reports the error and returns nullptr on failure, with the
// exit code in `exit_code`. `short_lived`: the process exits soon after its lease is
// released (StoreOptions::short_lived).
std::unique_ptr<Store> open_store(const CommonArgs& args, Events& events, int& exit_code,
                                  bool short_lived = false);

// Parses the value of `option` as a duration; reports and returns nullopt if it is not one.
std::optional<std::chrono::milliseconds> duration_arg(const std::string& text,
                                                      std::string_view option, Events& events);

}  // namespace heartlock::cli

#endif  // HEARTLOCK_CLI_COMMON_H_
