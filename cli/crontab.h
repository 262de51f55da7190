// Crontab files for `heartlock cron`: the model of a file's jobs and its parser.
//
// The format is a user crontab (no user field) that plain cron also reads:
//
//   # comment
//   MAILTO=ops@example.com               environment for the jobs after it
//   CRON_TZ=Europe/Berlin                time zone of the jobs after it (empty: the system's)
//   # heartlock: name=backup timeout=1h concurrency=forbid
//   30 2 * * *  /usr/local/bin/backup --all
//   */10 * * * * * /usr/local/bin/probe  6 fields: seconds first
//   @every 90s  /usr/local/bin/poll
//
// Lines
//   - blank, or a comment: `#` first (after blanks), ignored. A comment that reads
//     `# heartlock: key=value ...` is a directive for the job on the next line (below).
//   - environment: `NAME=value` (blanks allowed around `=`; NAME is [A-Za-z_][A-Za-z0-9_]*).
//     The value is the rest of the line without surrounding blanks; a value that starts with ' or
//     " must end with the same quote (only blanks after it), which is removed -- taken literally:
//     no escapes, no $expansion, as cronie. It applies to the jobs after it, a later line for the
//     same name replaces it. `CRON_TZ=Zone` sets the zone of the jobs after it instead (not
//     passed to the command); a zone name has no blanks, so a per-job prefix (robfig's
//     `CRON_TZ=Zone 0 2 * * * cmd`) is rejected: put CRON_TZ on a line of its own.
//   - a job: SCHEDULE COMMAND. SCHEDULE is an @macro (`@daily`, `@every 90s`, ... see
//     heartlock/cron.h), 5 fields, or 6 fields with seconds first. The sixth word is read as a
//     day-of-week field, making 6 fields, when it could be one: only digits, `* ? , - / #`,
//     `L`, `W`, and day names SUN-SAT. COMMAND is the rest of the line (a shell command line,
//     trailing blanks removed). cron turns an unescaped `%` into a newline and feeds what follows
//     to stdin; heartlock does not, and rejects it: write `\%` for a literal % (the backslash is
//     removed, as cron does).
//   Fields are separated by spaces or tabs. A carriage return (DOS line end) or NUL byte is
//   rejected.
//
// Directives: `# heartlock: key=value key=value ...`, on one or more lines directly above the job
// (nothing else between them and it); each key at most once per job. Keys and defaults:
//   name=NAME          the job's name: the key of its lock and slot records (default: derived,
//                      see default_job_name)
//   ttl=30s            lease ttl, as `heartlock run --ttl`
//   timeout=none       stop the command's process group after this long (TERM, then KILL)
//   kill-grace=5s      time between TERM and KILL (default 5s, or less when the lease needs it)
//   stale-after=none   the holder is deadlocked after this long without a heartbeat
//   heartbeat=alive    alive | explicit | output, as `heartlock run --heartbeat` (explicit and
//                      output need stale-after)
//   concurrency=forbid forbid: skip a slot while another run holds the job's lock; allow: no
//                      lock; replace: end the other run's lease and run
//   missed=skip        skip | run-once | run-all: what happens to slots the daemon missed
//   grace=1m           a slot started up to this late still runs (whole seconds)
//   max-runs=10        missed=run-all: at most this many missed slots run (1..1000)
//   jitter=0s          start each run up to this much later (the same delay on every host)
//   retries=0          run a failed run again up to this many times, within its slot (0..100)
//   once-per-slot=yes  yes | no: exactly one host runs each slot
// Durations are as everywhere in heartlock (30s, 5m, 1h30m; see heartlock/duration.h).
//
// Limits: at most 10000 jobs and 8 KiB of environment per file (each job keeps a copy of its
// environment, so these bound what a file can cost).
//
// Pure functions of their arguments (the parser also reads the tz database, to check zones);
// thread-safe.
#ifndef HEARTLOCK_CLI_CRONTAB_H_
#define HEARTLOCK_CLI_CRONTAB_H_

#include <chrono>
#include <cstddef>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "heartlock/cron.h"
#include "heartlock/error.h"
#include "heartlock/job_wrappers.h"
#include "heartlock/scheduler.h"

#include "exec/job_spec.h"

namespace heartlock::cli {

// A job's heartlock options, with every default filled in: the effective values.
struct CrontabOptions {
  std::chrono::milliseconds ttl = std::chrono::seconds(30);
  std::optional<std::chrono::milliseconds> timeout;  // unset: none
  // Effective: kDefaultKillGrace, or less when the lease needs it (cli/stop_rule.h).
  std::chrono::milliseconds kill_grace{0};
  std::chrono::milliseconds stale_after{0};  // 0: off
  exec::HeartbeatMode heartbeat = exec::HeartbeatMode::alive;
  Concurrency concurrency = Concurrency::forbid;
  MissedPolicy missed = MissedPolicy::skip;
  std::chrono::seconds grace = std::chrono::seconds(60);
  std::size_t max_runs = 10;
  std::chrono::milliseconds jitter{0};
  int retries = 0;  // attempts after the first (RetryOptions::max_attempts - 1)
  bool once_per_slot = true;
};

// One job of a crontab.
struct CrontabJob {
  std::size_t line = 0;    // 1-based line of the job in the file
  std::string name;        // unique in the file
  bool named = false;      // true: `name=` gave it; false: default_job_name()
  std::string expression;  // the schedule as written, fields joined by single spaces
  CronSchedule schedule;   // in the zone of the CRON_TZ line above it (or the system's)
  std::string command;     // with `\%` turned into `%`
  std::vector<std::pair<std::string, std::string>> env;  // in order of first setting
  CrontabOptions options;
  // Hex SHA-256 (16 digits) of the name, expression, zone (resolved: the system's zone when no
  // CRON_TZ is set), command, env and options: equal on two hosts iff they run the same job.
  std::string definition;
};

struct Crontab {
  std::vector<CrontabJob> jobs;  // in file order
};

// One problem of a crontab: `line` is 1-based (0: about the file as a whole).
struct CrontabError {
  std::size_t line = 0;
  std::string message;
};

// Why a crontab was not accepted.
struct CrontabErrors {
  // invalid_argument: `errors` lists every bad line (fix the file); unavailable: the time-zone
  // module could not be loaded (one error, line 0).
  Errc code = Errc::invalid_argument;
  std::vector<CrontabError> errors;  // in line order, at most kMaxCrontabErrors (+1 saying so)
};

inline constexpr std::size_t kMaxCrontabErrors = 1000;

// Parses a crontab. Never throws for any input; work is linear in its size (and one zone load per
// distinct CRON_TZ). The jobs, or every error found.
[[nodiscard]] std::expected<Crontab, CrontabErrors> parse_crontab(std::string_view text);

// The name of a job without `name=`: "cron.<program>.<16 hex>", where <program> is the first word
// of the command reduced as job_key() reduces argv[0] (heartlock/job_key.h), and the hash is the
// SHA-256 of the expression and the command, framed as job_key() frames its arguments. It depends
// on nothing else in the file, so it stays when lines move or other jobs come and go; a job
// whose schedule or command changes is a new job. A valid lock name.
std::string default_job_name(std::string_view expression, std::string_view command);

// The options as `key=value ...` in the directive's words and order, defaults included, durations
// exact ("ttl=30s timeout=1h30m ... jitter=0s ..."): a valid directive. Part of the definition
// hash, so changing this text changes every job's definition.
std::string format_options(const CrontabOptions& options);

}  // namespace heartlock::cli

#endif  // HEARTLOCK_CLI_CRONTAB_H_
