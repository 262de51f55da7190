#include "events.h"

#include <chrono>
#include <cstdio>
#include <mutex>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "heartlock/duration.h"
#include "heartlock/leader.h"
#include "heartlock/text.h"

namespace heartlock::cli {
namespace {

std::mutex& output_mutex() {
  static std::mutex mu;
  return mu;
}

std::shared_ptr<spdlog::logger> human_logger() {
  static auto logger = [] {
    auto l = std::make_shared<spdlog::logger>("heartlock",
                                              std::make_shared<spdlog::sinks::stderr_sink_mt>());
    l->set_pattern("heartlock: %v");
    l->set_level(spdlog::level::trace);
    return l;
  }();
  return logger;
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

}  // namespace

Events::Events(Verbosity verbosity, bool json) : verbosity_(verbosity), json_(json) {}

void Events::emit(LogLevel level, std::string_view event, std::string_view text,
                  nlohmann::json fields) {
  // --json is for machines: it carries every event, however verbose.
  if (level == LogLevel::debug && verbosity_ != Verbosity::verbose && !json_) {
    return;
  }
  if (verbosity_ == Verbosity::quiet && level != LogLevel::error) {
    return;
  }
  if (json_) {
    fields["event"] = event;
    fields["level"] = level_name(level);
    fields["message"] = text;
    fields["time_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    std::string line = fields.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    std::lock_guard lock(output_mutex());
    std::fprintf(stderr, "%s\n", line.c_str());
    std::fflush(stderr);
    return;
  }
  auto logger = human_logger();
  // Messages carry names, hosts and commands read from lock records and servers: escaped, so a
  // hostile one cannot steer the terminal or forge a line.
  const std::string safe = printable(text);
  switch (level) {
    case LogLevel::debug:
      logger->debug("{}", safe);
      break;
    case LogLevel::info:
      logger->info("{}", safe);
      break;
    case LogLevel::warn:
      logger->warn("{}", safe);
      break;
    case LogLevel::error:
      logger->error("{}", safe);
      break;
  }
  logger->flush();
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
