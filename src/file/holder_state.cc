#include "holder_state.h"

#include <chrono>

namespace heartlock::detail {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

std::string ms_text(std::chrono::nanoseconds d) {
  return std::to_string(duration_cast<milliseconds>(d).count()) + "ms";
}

}  // namespace

Holder holder_of(const Record& r, BootTime now, std::string_view boot) {
  Holder h;
  h.owner = r.owner;
  h.host = r.host;
  h.pid = r.pid;
  h.token = r.token;
  h.since = std::chrono::system_clock::time_point(milliseconds(r.acquired_wall_ms));
  h.ttl = r.ttl;
  h.stale_after = r.stale_after;
  h.command = r.command;
  if (r.slot) {
    h.slot = std::chrono::sys_seconds(std::chrono::seconds(*r.slot));
  }
  if (r.boot_id == boot) {
    h.heartbeat_age = duration_cast<milliseconds>(now - r.heartbeat_at);
    h.renew_age = duration_cast<milliseconds>(now - r.renewed_at);
  }
  return h;
}

LockInfo describe(std::string_view name, const Observation& seen, BootTime now,
                  std::string location) {
  LockInfo info;
  info.name = std::string(name);
  info.location = std::move(location);
  const bool readable = seen.parsed.status == ParsedRecord::Status::ok;
  const Record& r = seen.parsed.record;
  const bool same_boot = readable && r.boot_id == seen.boot_id;
  if (readable) {
    if (!r.name.empty()) {
      info.name = r.name;
    }
    info.holder = holder_of(r, now, seen.boot_id);
  }

  if (!seen.locked) {
    if (readable && r.state == Record::State::released && same_boot && r.hold_until > now) {
      info.state = LockState::held;
      info.min_hold_left = duration_cast<milliseconds>(r.hold_until - now);
      info.detail = "released, but min_hold keeps it for " + ms_text(r.hold_until - now);
    } else if (readable && r.state == Record::State::held) {
      info.state = LockState::dead;
      info.detail = "holder pid " + std::to_string(r.pid) + " is gone; the lock is free";
    } else {
      info.state = LockState::free;
      info.detail = seen.parsed.status == ParsedRecord::Status::corrupt
                        ? "free (unreadable record: " + seen.parsed.why + ")"
                        : "free";
    }
    return info;
  }

  std::string who = seen.flock_pid > 0 ? "pid " + std::to_string(seen.flock_pid) : "a process";
  if (!readable || r.state == Record::State::released) {
    info.state = LockState::held;
    if (info.holder) {
      info.holder->foreign = true;
      info.holder->pid = seen.flock_pid > 0 ? seen.flock_pid : 0;
    } else {
      info.holder = Holder{.pid = seen.flock_pid > 0 ? seen.flock_pid : 0, .foreign = true};
    }
    info.detail = !readable && seen.parsed.status == ParsedRecord::Status::corrupt
                      ? who + " holds it, and its record is unreadable (" + seen.parsed.why + ")"
                      : who + " holds it without a heartlock record (flock(1)?)";
    return info;
  }
  if (!same_boot || seen.holder == Liveness::dead) {
    info.state = LockState::held;
    info.holder->foreign = true;
    info.detail = who + " holds it; the recorded holder pid " + std::to_string(r.pid) +
                  " is gone (a child inherited the lock, or flock(1) took it)";
    return info;
  }
  if (now - r.renewed_at > r.ttl) {
    info.state = LockState::expired;
    info.detail = "holder pid " + std::to_string(r.pid) + " has not renewed for " +
                  ms_text(now - r.renewed_at) + " (ttl " + ms_text(r.ttl) + "; stopped?)";
  } else if (r.stale_after.count() > 0 && now - r.heartbeat_at > r.stale_after) {
    info.state = LockState::deadlocked;
    info.detail = "holder pid " + std::to_string(r.pid) + " lives but has not heartbeat for " +
                  ms_text(now - r.heartbeat_at) + " (stale_after " + ms_text(r.stale_after) + ")";
  } else {
    info.state = LockState::held;
    info.detail = "held by pid " + std::to_string(r.pid) + " on " + r.host;
  }
  return info;
}

bool may_take_over(const LockInfo& info) {
  return (info.state == LockState::expired || info.state == LockState::deadlocked) && info.holder &&
         !info.holder->foreign;
}

}  // namespace heartlock::detail
