// describe_redis(): what `status` and a busy acquire say about a lock, from the holder fields the
// inspect and acquire scripts return -- heartlock's record, or a cronlock deadline. The fields come
// from the server as it holds them, possibly written by someone else: every number is checked.
#include <algorithm>
#include <charconv>
#include <map>
#include <optional>

#include "redis_store.h"
#include "reply_values.h"

namespace heartlock::detail {
namespace {

using std::chrono::milliseconds;
using Fields = std::map<std::string, std::string, std::less<>>;

// Bounds for the times and durations of a record, which the server hands back as it holds them
// (garbage, if someone else wrote it): 9e12 ms is 285 years (since the epoch: the year 2255),
// which still fits a system_clock time point in nanoseconds, and a difference of two such values
// cannot overflow. A heartbeat or renewal "in the future" by more than a day is garbage too: no
// clock is that far off, and ages are only computed from times within [0, now + 1 day].
constexpr long long kMaxRecordMs = 9'000'000'000'000;
constexpr long long kMaxFutureMs = 24LL * 3600 * 1000;

// The whole of `s` as an integer within [min, max], or nullopt.
std::optional<long long> checked_ll(std::string_view s, long long min, long long max) {
  long long v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || v < min || v > max) {
    return std::nullopt;
  }
  return v;
}

// How long ago `field` (server time in ms) was at `now_ms`; nullopt when either is garbage.
std::optional<milliseconds> age_of(std::string_view field, long long now_ms) {
  if (now_ms < 0 || now_ms > kMaxRecordMs) {
    return std::nullopt;
  }
  auto at = checked_ll(field, 0, now_ms + kMaxFutureMs);
  if (!at) {
    return std::nullopt;
  }
  return milliseconds(std::max(0LL, now_ms - *at));
}

// A lock written by cronlock (or golock): a deadline and nothing else.
void describe_cronlock(Fields& f, long long free_in_ms, LockInfo& info) {
  const std::string& deadline = f["deadline_s"];
  Holder h;
  h.foreign = true;
  h.owner = "cronlock:" + deadline;
  info.holder = h;
  info.state = LockState::held;
  bool numeric = !deadline.empty() && std::all_of(deadline.begin(), deadline.end(),
                                                  [](char c) { return c >= '0' && c <= '9'; });
  info.detail = numeric ? "held by cronlock (no heartlock record) until epoch second " + deadline +
                              ", in " + std::to_string(std::max(0LL, free_in_ms / 1000)) + "s"
                        : "holds '" + deadline.substr(0, 40) +
                              "', which is not a cronlock deadline: never taken over (end it "
                              "with `heartlock release --force`)";
}

// The holder heartlock's record names.
Holder read_holder(Fields& f, long long now_ms) {
  Holder h;
  h.owner = f["owner"];
  h.host = f["host"];
  h.pid = to_ll(f["pid"]);
  h.token = static_cast<std::uint64_t>(to_ll(f["token"]));
  // Out-of-range numbers (a record someone else wrote) read as unknown: 0, or no value.
  h.since = std::chrono::system_clock::time_point(
      milliseconds(checked_ll(f["acquired_ms"], 0, kMaxRecordMs).value_or(0)));
  h.ttl = milliseconds(checked_ll(f["ttl_ms"], 0, kMaxRecordMs).value_or(0));
  h.stale_after = milliseconds(checked_ll(f["stale_after_ms"], 0, kMaxRecordMs).value_or(0));
  h.command = f["command"];
  if (auto slot = checked_ll(f["slot"], 0, kMaxRecordMs / 1000)) {
    h.slot = std::chrono::sys_seconds(std::chrono::seconds(*slot));
  }
  h.heartbeat_age = age_of(f["heartbeat_ms"], now_ms);
  h.renew_age = age_of(f["renewed_ms"], now_ms);
  return h;
}

}  // namespace

LockInfo describe_redis(std::string_view name, const RedisReply& fields, long long free_in_ms,
                        long long now_ms, std::string location) {
  LockInfo info;
  info.name = std::string(name);
  info.location = std::move(location);
  Fields f;
  for (std::size_t i = 0; i + 1 < fields.elements.size(); i += 2) {
    f[fields.elements[i].str] = fields.elements[i + 1].str;
  }
  if (f.empty()) {
    info.state = LockState::free;
    info.detail = "free";
    return info;
  }
  if (f["kind"] == "cronlock") {
    describe_cronlock(f, free_in_ms, info);
    return info;
  }
  const Holder h = read_holder(f, now_ms);
  info.holder = h;
  if (f["state"] == "released") {
    info.state = LockState::held;
    info.min_hold_left = milliseconds(std::max(0LL, free_in_ms));
    info.detail = "released, but min_hold keeps it for " + std::to_string(free_in_ms) + "ms";
  } else if (!h.heartbeat_age) {
    info.state = LockState::held;
    info.detail = "held by pid " + std::to_string(h.pid) + " on " + h.host +
                  "; its heartbeat time (heartbeat_ms) or the server's time (" +
                  std::to_string(now_ms) + "ms) is missing or out of range: age unknown";
  } else if (h.stale_after.count() > 0 && *h.heartbeat_age > h.stale_after) {
    info.state = LockState::deadlocked;
    info.detail = "holder pid " + std::to_string(h.pid) + " on " + h.host +
                  " has not heartbeat for " + std::to_string(h.heartbeat_age->count()) +
                  "ms; its lease expires in " + std::to_string(free_in_ms) + "ms";
  } else {
    info.state = LockState::held;
    info.detail = "held by pid " + std::to_string(h.pid) + " on " + h.host;
  }
  return info;
}

}  // namespace heartlock::detail
