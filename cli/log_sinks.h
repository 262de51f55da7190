// How the CLI writes one event: the text line and the JSON line on stderr (docs/logging.md has
// the schema), the syslog(3) priority and facility, and whether stderr is the systemd journal.
// Pure functions, so that tests check the formats without a terminal, a journal or a syslog daemon.
#ifndef HEARTLOCK_CLI_LOG_SINKS_H_
#define HEARTLOCK_CLI_LOG_SINKS_H_

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "heartlock/heartlock.h"

namespace heartlock::cli {

// The version of the JSON event schema ("v" in every event). Adding a field keeps it; renaming or
// removing one, or changing a field's type or meaning, bumps it.
inline constexpr int kEventSchemaVersion = 1;

enum class LogFormat { text, json };

// "text" or "json"; nullopt for anything else.
std::optional<LogFormat> parse_log_format(std::string_view name);

std::string_view level_name(LogLevel level);

// The human line, without its newline: "PROGRAM: TEXT", with TEXT escaped by printable(). With
// `journal_priority` it starts with the syslog priority as "<N>", which journald reads (and
// strips) to keep the event's level (sd-daemon(3)).
std::string text_line(std::string_view program, LogLevel level, std::string_view text,
                      bool journal_priority);

// The JSON line, without its newline: `fields` plus "v", "time", "time_ms", "level", "event",
// "message" and "program" (these win over fields of the same name). Invalid UTF-8 is replaced.
std::string json_line(std::string_view program, LogLevel level, std::string_view event,
                      std::string_view text, nlohmann::json fields,
                      std::chrono::system_clock::time_point now);

// The syslog(3) priority of a level: LOG_DEBUG, LOG_INFO, LOG_WARNING or LOG_ERR.
int syslog_priority(LogLevel level);

// A facility by its syslog.conf(5) name: user, daemon, cron, local0 ... local7 (case-insensitive);
// nullopt for anything else.
std::optional<int> syslog_facility(std::string_view name);

// Whether `fd` is the stream $JOURNAL_STREAM names ("DEVICE:INODE", both decimal, as systemd
// sets it for a unit whose output goes to the journal): the same st_dev and st_ino. False when
// `journal_stream` is null or malformed, or `fd` cannot be examined -- a redirected stderr of a
// process that inherited the variable is not the journal.
bool is_journal_stream(int fd, const char* journal_stream);

}  // namespace heartlock::cli

#endif  // HEARTLOCK_CLI_LOG_SINKS_H_
