// Events: what the CLI tells the user on stderr, as human lines or (--log-format json, --json) one
// JSON object per line, or through syslog(3) (--syslog). It is also the library's log sink.
// docs/logging.md describes the formats.
#ifndef HEARTLOCK_CLI_EVENTS_H_
#define HEARTLOCK_CLI_EVENTS_H_

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "heartlock/heartlock.h"

#include "log_sinks.h"

namespace heartlock::cli {

enum class Verbosity { quiet, normal, verbose };

struct EventOptions {
  Verbosity verbosity = Verbosity::normal;
  LogFormat format = LogFormat::text;
  // Set: events go to syslog(3) with this facility (errors to stderr as well, so that cron still
  // mails them); unset: to stderr.
  std::optional<int> syslog_facility;
};

// The name messages start with: argv[0] without its directory ("heartlock", "cronlock", ...).
// Set once by main() before any thread starts; "heartlock" until then.
void set_program_name(std::string_view argv0);
const std::string& program_name();

// Writes events where EventOptions say, filtered by verbosity: errors always; warnings and info
// unless quiet; debug with verbose, or always in JSON (which is for machines) unless quiet.
// Thread-safety: emit() and the log sink may be called from any thread; lines never interleave.
class Events {
 public:
  explicit Events(EventOptions options);

  // A named event with fields; `text` is the human line. Errors are shown even when quiet.
  void emit(LogLevel level, std::string_view event, std::string_view text,
            nlohmann::json fields = nlohmann::json::object());
  void error(std::string_view text) { emit(LogLevel::error, "error", text); }

  LogSink sink();

 private:
  void write_stderr(LogLevel level, std::string_view event, std::string_view text,
                    nlohmann::json fields) const;
  void write_syslog(LogLevel level, std::string_view event, std::string_view text,
                    nlohmann::json fields) const;

  EventOptions options_;
  bool journal_priority_ = false;  // stderr is the journal: text lines carry "<N>"
};

// Fields describing a lock's state, for events and `status --json`.
nlohmann::json to_json(const LockInfo& info);

// One line about a holder, e.g. "held by pid 42 on web1 (token 7, 3s, heartbeat 1s ago)".
std::string describe_holder(const LockInfo& info);

}  // namespace heartlock::cli

#endif  // HEARTLOCK_CLI_EVENTS_H_
