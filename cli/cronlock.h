// cronlock and golock compatibility: their configuration (CRONLOCK_* variables and the
// CRONLOCK_CONFIG file) and their key names. Pure functions; cronlock_command.cc runs the job.
#ifndef HEARTLOCK_CLI_CRONLOCK_H_
#define HEARTLOCK_CLI_CRONLOCK_H_

#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "heartlock/error.h"

namespace heartlock::cli {

using CronlockVars = std::map<std::string, std::string, std::less<>>;

// Parses a cronlock config file as data, never as shell: blank lines, `# comments`, and
// `[export ]CRONLOCK_NAME=VALUE` lines, where VALUE is bare (no spaces, quotes, `$`, backquote,
// `\` or shell operators), 'single-quoted' or "double-quoted" (no `$`, backquote or `\` inside),
// optionally followed by spaces and a comment. Unknown names and anything else are errors naming
// the line (Errc::invalid_argument).
Result<CronlockVars> parse_cronlock_config(std::string_view text);

struct CronlockConfig {
  std::string host = "localhost";
  int port = 6379;
  std::string auth;  // the password; never printed
  int db = 0;
  bool tls = false;
  bool tls_skip_verify = false;
  std::chrono::seconds redis_timeout{2};
  std::chrono::seconds grace{40};
  std::chrono::seconds release{86400};
  int reconnect_attempts = 5;
  std::chrono::seconds reconnect_backoff{5};
  std::string key;  // CRONLOCK_KEY: the name instead of the hash of the command
  std::string prefix = "cronlock.";
  bool verbose = false;
  std::chrono::seconds timeout{0};  // 0: none
  enum class Reset { no, yes, force } reset = Reset::no;
  bool use_sentinel = false;
  std::string sentinel_host = "localhost";
  int sentinel_port = 26379;
  std::string sentinel_master = "mymaster";
};

// The configuration from the environment's CRONLOCK_* variables, overridden by the config file's
// (cronlock sources its file after reading the environment). Empty values mean the default, as
// in cronlock; invalid numbers and booleans are errors naming the variable, and so are
// CRONLOCK_HOST and CRONLOCK_SENTINEL_HOST values that are not a host name, IPv4 address or IPv6
// address (bare or in brackets, stored without them): Errc::invalid_argument, the value escaped.
Result<CronlockConfig> cronlock_config(const CronlockVars& environment, const CronlockVars& file);

// The CRONLOCK_* variables of this process's environment.
CronlockVars cronlock_environment();

// The lock's name under the prefix: CRONLOCK_KEY if set, else the md5 hex of the arguments as
// `echo "$@" | md5sum` hashes them (joined by spaces, a newline; bash's echo options -n/-e/-E in
// front taken as echo would), or with `golock`, joined by spaces with no newline.
enum class KeyStyle { cronlock, golock };
std::string cronlock_name(const std::vector<std::string>& args, const CronlockConfig& config,
                          KeyStyle style = KeyStyle::cronlock);

// What bash's builtin `echo "$@"` prints (xpg_echo off).
std::string bash_echo(const std::vector<std::string>& args);

// The backend URL: redis[s]:// or redis-sentinel://, compat=cronlock, the prefix, timeouts. The
// password, prefix and Sentinel master are percent-encoded; the hosts go in as cronlock_config()
// checked them.
std::string cronlock_url(const CronlockConfig& config);

}  // namespace heartlock::cli

#endif  // HEARTLOCK_CLI_CRONLOCK_H_
