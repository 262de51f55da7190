// Reading a crontab file for `heartlock cron`: its bytes (bounded), parsed, and every problem as a
// `FILE:LINE: what` line safe for a terminal or a log.
#ifndef HEARTLOCK_CLI_CRONTAB_FILE_H_
#define HEARTLOCK_CLI_CRONTAB_FILE_H_

#include <expected>
#include <string>
#include <string_view>
#include <vector>

#include "crontab.h"

namespace heartlock::cli {

// Why a crontab file was not loaded.
struct CrontabLoadError {
  int exit_code = 0;                // 64 invalid, 66 unreadable, 69 tz module missing
  std::vector<std::string> errors;  // "FILE:LINE: what" (or "FILE: what"), terminal-safe
};

// Reads and parses the crontab at `path`.
std::expected<Crontab, CrontabLoadError> load_crontab(const std::string& path);

// Text from the file (a command, a value, a message quoting it), safe for the terminal
// (printable()) but with its backslashes as they are.
std::string terminal_safe(std::string_view message);

}  // namespace heartlock::cli

#endif  // HEARTLOCK_CLI_CRONTAB_FILE_H_
