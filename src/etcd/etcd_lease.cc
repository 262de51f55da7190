#include "etcd_lease.h"

#include <algorithm>

#include "etcd_replies.h"

namespace heartlock::detail {

using nlohmann::json;
using std::chrono::milliseconds;

void LeaseSpares::put(long long ttl_s, Spare spare) {
  std::lock_guard lock(mu_);
  auto& slot = spares_[ttl_s];
  if (slot.id != 0) {
    stale_.push_back(slot.id);
  }
  slot = spare;
}

std::optional<LeaseSpares::Spare> LeaseSpares::take(long long ttl_s, BootTime now) {
  std::lock_guard lock(mu_);
  auto it = spares_.find(ttl_s);
  if (it == spares_.end() || it->second.id == 0) {
    return std::nullopt;
  }
  Spare s = it->second;
  spares_.erase(it);
  if (now - s.refreshed >= std::chrono::milliseconds(ttl_s * 1000 / 3)) {
    stale_.push_back(s.id);
    return std::nullopt;
  }
  return s;
}

std::vector<long long> LeaseSpares::drain(bool all) {
  std::lock_guard lock(mu_);
  std::vector<long long> out;
  out.swap(stale_);
  if (all) {
    for (auto& [ttl, s] : spares_) {
      out.push_back(s.id);
    }
    spares_.clear();
  }
  return out;
}

Result<std::optional<LostReason>> EtcdLease::renew(BootTime) {
  return guarded(*client_, [&] { return renew_checked(); });
}

Result<std::optional<LostReason>> EtcdLease::release(std::chrono::nanoseconds hold_for) {
  return guarded(*client_, [&] { return release_checked(hold_for); });
}

Result<std::optional<LostReason>> EtcdLease::renew_checked() {
  const BootTime start = boot_now();
  auto r = client_->call("lease/keepalive", {{"ID", std::to_string(lease_)}});
  if (!r) {
    return std::unexpected(r.error());
  }
  const std::string server = client_->endpoint();
  auto result =
      r->contains("result") ? reply_object(*r, "result", server) : Result<const json*>(&*r);
  if (!result) {
    return std::unexpected(result.error());
  }
  // etcd omits the TTL (0) of a lease it no longer has.
  auto ttl = reply_int(**result, "TTL", server, std::numeric_limits<long long>::min(), kMaxInt64);
  if (!ttl) {
    return std::unexpected(ttl.error());
  }
  if (*ttl > 0) {
    refreshed_ = start;
    return std::optional<LostReason>();
  }
  return std::optional<LostReason>(why_lost());
}

Result<std::optional<LostReason>> EtcdLease::release_checked(std::chrono::nanoseconds hold_for) {
  auto hold = std::chrono::ceil<milliseconds>(hold_for);
  if (hold.count() > 0) {
    return release_holding(hold);
  }
  return spares_ != nullptr ? release_key() : release_revoking();
}

Result<std::optional<LostReason>> EtcdLease::release_holding(milliseconds hold) {
  // Keep the key for the rest of min_hold: move it to a lease of that length (same key, same
  // create revision = token), marked released, then end our lease.
  auto granted = client_->call("lease/grant", {{"TTL", ttl_seconds(hold)}});
  if (!granted) {
    return std::unexpected(granted.error());
  }
  const long long hold_lease = json_int(*granted, "ID");
  // Best effort: a reply of the wrong shape leaves the key to end with our lease.
  auto current = client_->call("kv/range", {{"key", base64_encode(key_)}});
  const std::string server = client_->endpoint();
  auto kv = current ? first_kv(*current, server) : Result<const json*>(nullptr);
  auto value = kv && *kv != nullptr ? reply_string(**kv, "value", server)
                                    : Result<std::string>(std::string());
  if (value) {
    json record = json::parse(base64_decode(*value), nullptr, false);
    if (record.is_object()) {
      record["state"] = "released";
      json txn = {{"compare", json::array({created_at(key_, std::to_string(token_))})},
                  {"success",
                   {{{"request_put",
                      {{"key", base64_encode(key_)},
                       {"value",
                        base64_encode(record.dump(-1, ' ', false, json::error_handler_t::replace))},
                       {"lease", std::to_string(hold_lease)}}}}}}};
      auto moved = client_->call("kv/txn", txn);
      auto succeeded = moved ? reply_bool(*moved, "succeeded", server) : Result<bool>(false);
      if (!succeeded || !*succeeded) {
        (void)client_->call("lease/revoke", {{"ID", std::to_string(hold_lease)}});
      }
    }
  }
  auto r = client_->call("lease/revoke", {{"ID", std::to_string(lease_)}});
  if (!r) {
    if (r.error().code == Errc::invalid_argument) {  // "requested lease not found"
      return std::optional<LostReason>(why_lost());
    }
    return std::unexpected(r.error());
  }
  return std::optional<LostReason>();
}

Result<std::optional<LostReason>> EtcdLease::release_key() {
  // Delete the key only if it is still this lease's; keep the lease for the next acquire.
  json txn = {{"compare", json::array({created_at(key_, std::to_string(token_)),
                                       {{"key", base64_encode(key_)},
                                        {"result", "EQUAL"},
                                        {"target", "LEASE"},
                                        {"lease", std::to_string(lease_)}}})},
              {"success", {{{"request_delete_range", {{"key", base64_encode(key_)}}}}}}};
  auto r = client_->call("kv/txn", txn);
  if (!r) {
    return std::unexpected(r.error());
  }
  auto succeeded = reply_bool(*r, "succeeded", client_->endpoint());
  if (!succeeded) {
    return std::unexpected(succeeded.error());
  }
  if (!*succeeded) {
    (void)client_->call("lease/revoke", {{"ID", std::to_string(lease_)}});
    return std::optional<LostReason>(why_lost());
  }
  spares_->put(ttl_s_, {lease_, refreshed_});
  return std::optional<LostReason>();
}

Result<std::optional<LostReason>> EtcdLease::release_revoking() {
  // Revoking deletes the keys on the lease, and only those: the key if it is still ours, never a
  // newer holder's (on a lease of its own). That alone does not say whether the key was still
  // ours, so first ask which keys the lease holds -- a read, no raft proposal. Held when asked,
  // the lock was ours until the job had finished; a revoke that then finds the lease gone (it
  // expired just now) is reported as before, from the key's state.
  auto r = client_->call("lease/timetolive", {{"ID", std::to_string(lease_)}, {"keys", true}});
  if (!r) {
    return std::unexpected(r.error());
  }
  auto keys = reply_array(*r, "keys", client_->endpoint());
  if (!keys) {
    return std::unexpected(keys.error());
  }
  const std::string ours = base64_encode(key_);
  const bool held = std::ranges::any_of(
      **keys, [&](const json& k) { return k.is_string() && k.get<std::string>() == ours; });
  auto revoked = client_->call("lease/revoke", {{"ID", std::to_string(lease_)}});
  if (!held) {
    return std::optional<LostReason>(why_lost());
  }
  if (!revoked) {
    if (revoked.error().code == Errc::invalid_argument) {  // "requested lease not found"
      return std::optional<LostReason>(why_lost());
    }
    return std::unexpected(revoked.error());
  }
  return std::optional<LostReason>();
}

LostReason EtcdLease::why_lost() {
  auto r = client_->call("kv/range", {{"key", base64_encode(key_)}});
  auto kv = r ? first_kv(*r, client_->endpoint()) : Result<const json*>(nullptr);
  if (kv && *kv != nullptr && json_int(**kv, "create_revision") != static_cast<long long>(token_)) {
    return LostReason::taken_over;
  }
  return LostReason::expired;
}

}  // namespace heartlock::detail
