// `heartlock status`, `heartlock release`, `heartlock heartbeat`, `heartlock history`.
#ifndef HEARTLOCK_CLI_ADMIN_COMMANDS_H_
#define HEARTLOCK_CLI_ADMIN_COMMANDS_H_

#include <cstddef>
#include <optional>
#include <string>

#include "common.h"

namespace heartlock::cli {

// What `heartlock status` shows.
struct StatusArgs {
  std::string name;     // one lock (and the cron job of that name); empty: every lock
  std::string crontab;  // --crontab FILE: adds each job's next slot and compares definitions
  bool cron = false;    // --cron: the JSON is {"locks": ..., "cron": ...} (implied by --crontab)
  bool watch = false;   // --watch: redraw on the terminal every `interval` (status_watch.h)
  std::string interval = "2s";
};

// Prints a table (or JSON with --json) of one lock or of every lock in the store, then the cron
// jobs the run ledger knows (cron_status.h). 0; 64/66/69 for a crontab that cannot be loaded; the
// usual codes when the locks cannot be read (the ledger is only ever a warning). With --watch:
// 64 unless stdout is a terminal (or with --json, or an --interval under 100ms); else it returns
// when the watch ends, 0 for q and 128+N for signal N (130 for Ctrl-C).
int show_status(const StatusArgs& args, const CommonArgs& common);

// The exit codes of release_lock, and how to force it (cronlock's RESET differs).
struct ReleaseExits {
  int done = 0;              // released, or nothing to release
  int refused = 75;          // a live holder, not forced; or the lease changed meanwhile
  std::optional<int> error;  // instead of 64/69/70
  std::string force_hint = "use --force";
};

// Shows the holder of `name` and ends its lease, fenced by what was shown (the token, or the value
// a foreign tool wrote). Refuses a healthy live holder unless `force`.
int release_lock(const std::string& name, bool force, const CommonArgs& common,
                 const ReleaseExits& exits = {});

// Prints the latest `limit` run ledger entries (of `job`, or of every job when empty), newest slot
// first, as a table (or one JSON array with --json). 0, or 69 when the backend keeps no ledger or
// cannot be read (64 for a bad job name).
int show_history(const std::string& job, std::size_t limit, const CommonArgs& common);

// Tells the wrapper around us (heartlock run) that the job is making progress.
int send_heartbeat(const CommonArgs& common);

}  // namespace heartlock::cli

#endif  // HEARTLOCK_CLI_ADMIN_COMMANDS_H_
