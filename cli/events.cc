#include "events.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include <syslog.h>

#include "heartlock/duration.h"
#include "heartlock/leader.h"
#include "heartlock/text.h"

namespace heartlock::cli {
namespace {

std::mutex& output_mutex() {
  static std::mutex mu;
  return mu;
}

std::string& program_storage() {
  static std::string name = "heartlock";
  return name;
}

}  // namespace

void set_program_name(std::string_view argv0) {
  auto slash = argv0.rfind('/');
  std::string_view name = slash == std::string_view::npos ? argv0 : argv0.substr(slash + 1);
  if (!name.empty()) {
    program_storage() = std::string(name);
  }
}

const std::string& program_name() { return program_storage(); }

Events::Events(EventOptions options)
    : options_(options),
      journal_priority_(is_journal_stream(STDERR_FILENO, std::getenv("JOURNAL_STREAM"))) {
  if (options_.syslog_facility) {
    // The ident is the invoked name; program_storage() lives as long as the process, as openlog
    // requires. LOG_PID: the lines of concurrent cron jobs stay apart.
    ::openlog(program_name().c_str(), LOG_PID, *options_.syslog_facility);
  }
}

void Events::emit(LogLevel level, std::string_view event, std::string_view text,
                  nlohmann::json fields) {
  const bool json = options_.format == LogFormat::json;
  // JSON is for machines: it carries every event, however verbose.
  if (level == LogLevel::debug && options_.verbosity != Verbosity::verbose && !json) {
    return;
  }
  if (options_.verbosity == Verbosity::quiet && level != LogLevel::error) {
    return;
  }
  if (options_.syslog_facility) {
    write_syslog(level, event, text, fields);
    if (level != LogLevel::error) {
      return;
    }
  }
  write_stderr(level, event, text, std::move(fields));
}

void Events::write_stderr(LogLevel level, std::string_view event, std::string_view text,
                          nlohmann::json fields) const {
  std::string line = options_.format == LogFormat::json
                         ? json_line(program_name(), level, event, text, std::move(fields),
                                     std::chrono::system_clock::now())
                         : text_line(program_name(), level, text, journal_priority_);
  line += '\n';
  std::lock_guard lock(output_mutex());
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

void Events::write_syslog(LogLevel level, std::string_view event, std::string_view text,
                          nlohmann::json fields) const {
  // syslog adds the time, the ident and the pid; the message is the escaped text, or the JSON
  // object.
  const std::string message = options_.format == LogFormat::json
                                  ? json_line(program_name(), level, event, text, std::move(fields),
                                              std::chrono::system_clock::now())
                                  : printable(text);
  ::syslog(syslog_priority(level), "%s", message.c_str());
}

LogSink Events::sink() {
  return [this](LogLevel level, std::string_view message) { emit(level, "log", message); };
}

nlohmann::json to_json(const LockInfo& info) {
  nlohmann::json j;
  j["name"] = info.name;
  j["state"] = to_string(info.state);
  j["location"] = info.location;
  j["detail"] = info.detail;
  if (info.min_hold_left) {
    j["min_hold_left_ms"] = info.min_hold_left->count();
  }
  // Only on an Election's lock, so that the JSON of ordinary locks is as it was.
  if (is_leader_lock(info)) {
    j["leader"] = info.state == LockState::held;
  }
  if (info.holder) {
    const Holder& h = *info.holder;
    nlohmann::json hj;
    hj["owner"] = h.owner;
    hj["host"] = h.host;
    hj["pid"] = h.pid;
    hj["token"] = h.token;
    hj["since_ms"] =
        std::chrono::duration_cast<std::chrono::milliseconds>(h.since.time_since_epoch()).count();
    if (h.heartbeat_age) {
      hj["heartbeat_age_ms"] = h.heartbeat_age->count();
    }
    if (h.renew_age) {
      hj["renew_age_ms"] = h.renew_age->count();
    }
    hj["ttl_ms"] = h.ttl.count();
    hj["stale_after_ms"] = h.stale_after.count();
    hj["command"] = h.command;
    hj["foreign"] = h.foreign;
    if (h.slot) {
      hj["slot"] = h.slot->time_since_epoch().count();
    }
    j["holder"] = hj;
  }
  return j;
}

std::string describe_holder(const LockInfo& info) {
  std::string out = std::string(to_string(info.state));
  if (info.holder && !info.holder->foreign && info.holder->pid > 0) {
    const Holder& h = *info.holder;
    out +=
        " by pid " + std::to_string(h.pid) + " on " + h.host + " (token " + std::to_string(h.token);
    auto held = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::system_clock::now() - h.since);
    if (info.state != LockState::free && info.state != LockState::dead) {
      out += ", held " + format_duration(held);
    }
    if (h.heartbeat_age) {
      out += ", heartbeat " + format_duration(*h.heartbeat_age) + " ago";
    }
    out += ")";
  }
  const bool plain_held =
      info.state == LockState::held && info.holder && !info.holder->foreign && !info.min_hold_left;
  if (!info.detail.empty() && !plain_held) {
    out += ": " + info.detail;
  }
  return out;
}

}  // namespace heartlock::cli
