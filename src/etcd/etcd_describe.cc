// EtcdStore's view of a lock: the holder's record (JSON in the key's value) and its lease's time
// to live, as `status` and a busy acquire show them. The record may be anyone's: every field is
// checked (etcd_client.h's readers).
#include <algorithm>

#include "etcd_replies.h"
#include "etcd_store.h"

namespace heartlock::detail {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

// etcd's largest lease TTL (lease.MaxLeaseTTL, 9e9 s): a TTL past it is garbage, and in
// milliseconds one within it is far from overflowing.
constexpr long long kMaxLeaseTtlS = 9'000'000'000;
// Bounds for the times of a record (milliseconds, or seconds for a slot): 9e12 ms is 285 years
// (since the epoch: the year 2255), and still fits a system_clock time point in nanoseconds.
constexpr long long kMaxRecordMs = 9'000'000'000'000;
constexpr long long kMaxRecordS = kMaxRecordMs / 1000;
constexpr long long kMaxPid = std::numeric_limits<std::int32_t>::max();

// The holder a heartlock record names. Errc::unavailable for a field of the wrong type or range.
Result<void> read_record(const json& record, std::string_view server, Holder& h) {
  auto owner = reply_string(record, "owner", server);
  auto host = reply_string(record, "host", server);
  auto command = reply_string(record, "command", server);
  auto pid = reply_int(record, "pid", server, 0, kMaxPid);
  auto ttl = reply_int(record, "ttl_ms", server, 0, kMaxRecordMs);
  auto stale_after = reply_int(record, "stale_after_ms", server, 0, kMaxRecordMs);
  auto since = reply_int(record, "acquired_ms", server, 0, kMaxRecordMs);
  auto slot = reply_int(record, "slot", server, 0, kMaxRecordS);
  for (const Error* bad :
       {owner ? nullptr : &owner.error(), host ? nullptr : &host.error(),
        command ? nullptr : &command.error(), pid ? nullptr : &pid.error(),
        ttl ? nullptr : &ttl.error(), stale_after ? nullptr : &stale_after.error(),
        since ? nullptr : &since.error(), slot ? nullptr : &slot.error()}) {
    if (bad != nullptr) {
      return std::unexpected(*bad);
    }
  }
  h.owner = std::move(*owner);
  h.host = std::move(*host);
  h.command = std::move(*command);
  h.pid = *pid;
  h.ttl = milliseconds(*ttl);
  h.stale_after = milliseconds(*stale_after);
  h.since = std::chrono::system_clock::time_point(milliseconds(*since));
  if (record.contains("slot")) {
    h.slot = std::chrono::sys_seconds(std::chrono::seconds(*slot));
  }
  return {};
}

// The milliseconds left on the lock's etcd lease, -1 if it has none or its time to live could not
// be asked; sets h.renew_age (to the second, etcd's grain) when the lease says. Errc::unavailable
// for an answer out of range.
Result<long long> lease_time_left(EtcdClient& client, const json& kv, const std::string& server,
                                  Holder& h) {
  long long remaining_ms = -1;
  if (long long lease = json_int(kv, "lease"); lease != 0) {
    auto ttl = client.call("lease/timetolive", {{"ID", std::to_string(lease)}});
    if (ttl) {
      // Both within [-1 (expired), etcd's maximum]: the products below cannot overflow.
      auto granted = reply_int(*ttl, "grantedTTL", server, -1, kMaxLeaseTtlS);
      auto left = reply_int(*ttl, "TTL", server, -1, kMaxLeaseTtlS);
      if (!granted || !left) {
        return std::unexpected(!granted ? granted.error() : left.error());
      }
      remaining_ms = *left * 1000;
      if (*granted > 0 && *left >= 0) {
        // To the second: etcd's grain.
        h.renew_age = milliseconds(std::max(0LL, *granted - *left) * 1000);
      }
    }
  }
  return remaining_ms;
}

// The state and detail of a lock held under a heartlock record whose "state" field is `state`.
void describe_held(LockInfo& info, const Holder& h, std::string_view state,
                   long long remaining_ms) {
  const std::string who = "pid " + std::to_string(h.pid) + " on " + h.host;
  if (state == "released") {
    info.state = LockState::held;
    info.min_hold_left = milliseconds(std::max(0LL, remaining_ms));
    info.detail = "released, but min_hold keeps it for ~" +
                  std::to_string(std::max(0LL, remaining_ms / 1000)) + "s";
  } else {
    info.state = LockState::held;
    info.detail = "held by " + who + " (lease expires in ~" +
                  std::to_string(std::max(0LL, remaining_ms / 1000)) + "s unless renewed)";
  }
}

}  // namespace

Result<LockInfo> EtcdStore::describe(std::string_view name, const json* kv) {
  LockInfo info;
  info.name = std::string(name);
  info.location = location(name);
  if (kv == nullptr || !kv->is_object()) {
    info.detail = "free";
    return info;
  }
  const std::string server = client_->endpoint();
  auto value = reply_string(*kv, "value", server);
  if (!value) {
    return std::unexpected(value.error());
  }
  auto token = reply_int(*kv, "create_revision", server, 0, kMaxInt64);
  if (!token) {
    return std::unexpected(token.error());
  }
  json record = json::parse(base64_decode(*value), nullptr, false);
  Holder h;
  h.token = static_cast<std::uint64_t>(*token);
  if (!record.is_object()) {
    h.foreign = true;
    info.holder = h;
    info.state = LockState::held;
    info.detail = "the key holds something heartlock did not write; never taken over";
    return info;
  }
  const std::string record_server = server + " (the record of " + lock_key(name) + ")";
  if (auto ok = read_record(record, record_server, h); !ok) {
    return std::unexpected(ok.error());
  }
  auto state = reply_string(record, "state", record_server);
  if (!state) {
    return std::unexpected(state.error());
  }
  auto remaining_ms = lease_time_left(*client_, *kv, server, h);
  if (!remaining_ms) {
    return std::unexpected(remaining_ms.error());
  }
  info.holder = h;
  describe_held(info, h, *state, *remaining_ms);
  return info;
}

Result<LockInfo> EtcdStore::inspect_lock(std::string_view name) {
  return guarded(*client_, [&] { return inspect_checked(name); });
}

Result<LockInfo> EtcdStore::inspect_checked(std::string_view name) {
  auto r = client_->call("kv/range", {{"key", base64_encode(lock_key(name))}});
  if (!r) {
    return std::unexpected(r.error());
  }
  auto kv = first_kv(*r, client_->endpoint());
  if (!kv) {
    return std::unexpected(kv.error());
  }
  return describe(name, *kv);
}

}  // namespace heartlock::detail
