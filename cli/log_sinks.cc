#include "log_sinks.h"

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <utility>

#include <syslog.h>

#include "heartlock/text.h"

#include "ledger_text.h"

namespace heartlock::cli {
namespace {

// The numbers in "DEVICE:INODE", or nullopt when `text` is not two decimal numbers.
std::optional<std::pair<unsigned long long, unsigned long long>> parse_dev_ino(
    std::string_view text) {
  const auto colon = text.find(':');
  if (colon == std::string_view::npos) {
    return std::nullopt;
  }
  auto number = [](std::string_view s) -> std::optional<unsigned long long> {
    unsigned long long v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size()) {
      return std::nullopt;
    }
    return v;
  };
  auto dev = number(text.substr(0, colon));
  auto ino = number(text.substr(colon + 1));
  if (!dev || !ino) {
    return std::nullopt;
  }
  return std::pair{*dev, *ino};
}

}  // namespace

std::optional<LogFormat> parse_log_format(std::string_view name) {
  if (name == "text") {
    return LogFormat::text;
  }
  if (name == "json") {
    return LogFormat::json;
  }
  return std::nullopt;
}

std::string_view level_name(LogLevel level) {
  switch (level) {
    case LogLevel::debug:
      return "debug";
    case LogLevel::info:
      return "info";
    case LogLevel::warn:
      return "warn";
    case LogLevel::error:
      return "error";
  }
  return "info";
}

std::string text_line(std::string_view program, LogLevel level, std::string_view text,
                      bool journal_priority) {
  std::string line;
  if (journal_priority) {
    line = "<" + std::to_string(syslog_priority(level)) + ">";
  }
  // Messages carry names, hosts and commands read from lock records and servers: escaped, so a
  // hostile one cannot steer the terminal or forge a line.
  line += program;
  line += ": ";
  line += printable(text);
  return line;
}

std::string json_line(std::string_view program, LogLevel level, std::string_view event,
                      std::string_view text, nlohmann::json fields,
                      std::chrono::system_clock::time_point now) {
  if (!fields.is_object()) {
    fields = nlohmann::json::object();
  }
  const auto ms = std::chrono::floor<std::chrono::milliseconds>(now);
  fields["v"] = kEventSchemaVersion;
  fields["time"] = utc_text_millis(ms);
  fields["time_ms"] = ms.time_since_epoch().count();
  fields["level"] = level_name(level);
  fields["event"] = event;
  fields["message"] = text;
  fields["program"] = program;
  // `replace`: names and commands need not be UTF-8, and one bad byte must not lose the event.
  return fields.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

int syslog_priority(LogLevel level) {
  switch (level) {
    case LogLevel::debug:
      return LOG_DEBUG;
    case LogLevel::info:
      return LOG_INFO;
    case LogLevel::warn:
      return LOG_WARNING;
    case LogLevel::error:
      return LOG_ERR;
  }
  return LOG_INFO;
}

std::optional<int> syslog_facility(std::string_view name) {
  static constexpr std::array<std::pair<std::string_view, int>, 11> kFacilities = {{
      {"user", LOG_USER},
      {"daemon", LOG_DAEMON},
      {"cron", LOG_CRON},
      {"local0", LOG_LOCAL0},
      {"local1", LOG_LOCAL1},
      {"local2", LOG_LOCAL2},
      {"local3", LOG_LOCAL3},
      {"local4", LOG_LOCAL4},
      {"local5", LOG_LOCAL5},
      {"local6", LOG_LOCAL6},
      {"local7", LOG_LOCAL7},
  }};
  std::string lower(name);
  std::ranges::transform(lower, lower.begin(), [](char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  });
  for (const auto& [known, facility] : kFacilities) {
    if (lower == known) {
      return facility;
    }
  }
  return std::nullopt;
}

bool is_journal_stream(int fd, const char* journal_stream) {
  if (journal_stream == nullptr) {
    return false;
  }
  auto expected = parse_dev_ino(journal_stream);
  struct stat st {};
  if (!expected || ::fstat(fd, &st) != 0) {
    return false;
  }
  return static_cast<unsigned long long>(st.st_dev) == expected->first &&
         static_cast<unsigned long long>(st.st_ino) == expected->second;
}

}  // namespace heartlock::cli
