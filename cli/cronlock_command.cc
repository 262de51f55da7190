#include "cronlock_command.h"

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <system_error>

#include "admin_commands.h"
#include "run_command.h"

namespace heartlock::cli {
namespace {

constexpr const char* kSystemConfig = "/etc/cronlock.conf";

// The config file's settings: CRONLOCK_CONFIG, else /etc/cronlock.conf if it exists.
Result<CronlockVars> config_file(const CronlockVars& environment) {
  std::string path;
  if (auto it = environment.find("CRONLOCK_CONFIG"); it != environment.end()) {
    path = it->second;
  }
  if (path.empty()) {
    std::error_code ec;
    if (!std::filesystem::exists(kSystemConfig, ec)) {
      return CronlockVars{};
    }
    path = kSystemConfig;
  }
  std::ifstream in(path);
  if (!in) {
    return fail(Errc::invalid_argument, "cannot read the config file " + path + ": " +
                                            std::system_category().message(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  auto vars = parse_cronlock_config(text.str());
  if (!vars) {
    return fail(Errc::invalid_argument, path + ": " + vars.error().message);
  }
  return vars;
}

}  // namespace

int run_cronlock(const CronlockArgs& args) {
  const CronlockVars environment = cronlock_environment();
  auto file = config_file(environment);
  auto config = file ? cronlock_config(environment, *file)
                     : Result<CronlockConfig>(std::unexpected(file.error()));
  if (!config) {
    std::cerr << "cronlock: " << config.error().message << "\n";
    return kCronlockError;
  }
  // Quiet like cronlock unless CRONLOCK_VERBOSE=yes; errors are always printed.
  CommonArgs common{
      .backend = cronlock_url(*config), .quiet = !config->verbose, .verbose = config->verbose};
  if (config->reset == CronlockConfig::Reset::no && args.command.empty()) {
    std::cerr << "cronlock: usage: cronlock COMMAND [ARGS...] (settings: CRONLOCK_* variables)\n";
    return kCronlockError;
  }
  const std::string name = cronlock_name(args.command, *config, args.key_style);
  if (auto ok = validate_name(name); !ok) {
    std::cerr << "cronlock: CRONLOCK_KEY: " << ok.error().message << "\n";
    return kCronlockError;
  }
  if (config->reset != CronlockConfig::Reset::no) {
    // Unlike cronlock's blind DEL: show the holder, and leave a live one alone unless forced.
    return release_lock(name, args.force || config->reset == CronlockConfig::Reset::force, common,
                        ReleaseExits{.done = kCronlockBusy,
                                     .refused = kCronlockError,
                                     .error = kCronlockError,
                                     .force_hint = "set CRONLOCK_RESET=force"});
  }
  RunSettings run{.key = name,
                  .conflict_exit_code = kCronlockBusy,
                  .error_exit_code = kCronlockError,
                  .timeout_exit_code = kCronlockTimeout};
  // Renewed while COMMAND runs; CRONLOCK_RELEASE stays the failsafe (max_hold) and
  // CRONLOCK_GRACE the least time the lock is held (min_hold), both counted from acquisition
  // as in cronlock.
  run.lease.ttl = std::min(config->release, std::chrono::seconds(30));
  run.lease.min_hold = config->grace;
  run.lease.max_hold = config->release;
  if (config->timeout.count() > 0) {
    run.timeout = config->timeout;
  }
  return run_job(run, common, args.command);
}

}  // namespace heartlock::cli
