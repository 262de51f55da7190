// `heartlock status`, `heartlock release`, `heartlock heartbeat`.
#ifndef HEARTLOCK_CLI_ADMIN_COMMANDS_H_
#define HEARTLOCK_CLI_ADMIN_COMMANDS_H_

#include <string>

#include "common.h"

namespace heartlock::cli {

// Prints a table (or JSON with --json) of one lock or of every lock in the store.
int show_status(const std::string& name, const CommonArgs& common);

// Shows the holder of `name` and ends its lease, fenced by the token shown. Refuses a healthy live
// holder unless `force`.
int release_lock(const std::string& name, bool force, const CommonArgs& common);

// Tells the wrapper around us (heartlock run) that the job is making progress.
int send_heartbeat(const CommonArgs& common);

}  // namespace heartlock::cli

#endif  // HEARTLOCK_CLI_ADMIN_COMMANDS_H_
