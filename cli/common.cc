#include "common.h"

#include <cstdlib>

#include <syslog.h>

#include "heartlock/duration.h"

#include "exit_codes.h"

namespace heartlock::cli {

LogFormat log_format(const CommonArgs& args) {
  return args.json ? LogFormat::json : parse_log_format(args.log_format).value_or(LogFormat::text);
}

Events make_events(const CommonArgs& args) {
  Verbosity v = args.quiet     ? Verbosity::quiet
                : args.verbose ? Verbosity::verbose
                               : Verbosity::normal;
  std::optional<int> facility;
  if (args.syslog) {
    // main() checked the name; user is syslog(3)'s own default.
    facility = syslog_facility(args.syslog_facility).value_or(LOG_USER);
  }
  return Events({.verbosity = v, .format = log_format(args), .syslog_facility = facility});
}

int exit_code_for(const Error& error) {
  switch (error.code) {
    case Errc::invalid_argument:
      return kExitUsage;
    case Errc::internal:
      return kExitInternal;
    default:
      return kExitUnavailable;
  }
}

std::unique_ptr<Store> open_store(const CommonArgs& args, Events& events, int& exit_code,
                                  bool short_lived) {
  std::string url = args.backend;
  if (url.empty()) {
    if (const char* env = std::getenv("HEARTLOCK_BACKEND"); env != nullptr) {
      url = env;
    }
  }
  auto store = Store::open(url, StoreOptions{.log = events.sink(), .short_lived = short_lived});
  if (!store) {
    events.error(store.error().message);
    exit_code = exit_code_for(store.error());
    return nullptr;
  }
  return std::move(*store);
}

std::optional<std::chrono::milliseconds> duration_arg(const std::string& text,
                                                      std::string_view option, Events& events) {
  auto d = parse_duration(text);
  if (!d) {
    events.error(std::string(option) + ": " + d.error().message);
    return std::nullopt;
  }
  return *d;
}

}  // namespace heartlock::cli
