// `heartlock cronlock COMMAND...`, also what runs when the binary is called as `cronlock` (or
// `golock`): cronlock's configuration, key names and exit codes, heartlock's leases.
#ifndef HEARTLOCK_CLI_CRONLOCK_COMMAND_H_
#define HEARTLOCK_CLI_CRONLOCK_COMMAND_H_

#include <string>
#include <vector>

#include "cronlock.h"

namespace heartlock::cli {

// cronlock's exit codes.
inline constexpr int kCronlockBusy = 200;  // not acquired (also: reset done)
inline constexpr int kCronlockError = 201;
inline constexpr int kCronlockTimeout = 202;

struct CronlockArgs {
  KeyStyle key_style = KeyStyle::cronlock;
  bool force = false;  // like CRONLOCK_RESET=force
  std::vector<std::string> command;
};

int run_cronlock(const CronlockArgs& args);

}  // namespace heartlock::cli

#endif  // HEARTLOCK_CLI_CRONLOCK_COMMAND_H_
