// Events: what the CLI tells the user on stderr, as human lines or (--json) one JSON object per
// line. It is also the library's log sink.
#ifndef HEARTLOCK_CLI_EVENTS_H_
#define HEARTLOCK_CLI_EVENTS_H_

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "heartlock/heartlock.h"

namespace heartlock::cli {

enum class Verbosity { quiet, normal, verbose };

// Thread-safety: emit() and the log sink may be called from any thread.
class Events {
 public:
  Events(Verbosity verbosity, bool json);

  // A named event with fields; `text` is the human line. Errors are shown even when quiet.
  void emit(LogLevel level, std::string_view event, std::string_view text,
            nlohmann::json fields = nlohmann::json::object());
  void error(std::string_view text) { emit(LogLevel::error, "error", text); }

  LogSink sink();

 private:
  Verbosity verbosity_;
  bool json_;
};

// Fields describing a lock's state, for events and `status --json`.
nlohmann::json to_json(const LockInfo& info);

// One line about a holder, e.g. "held by pid 42 on web1 (token 7, 3s, heartbeat 1s ago)".
std::string describe_holder(const LockInfo& info);

}  // namespace heartlock::cli

#endif  // HEARTLOCK_CLI_EVENTS_H_
