#include "etcd_lease.h"

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

bool is_lease_not_found(const Error& error) {
  return error.code == Errc::invalid_argument &&
         error.message.find("requested lease not found") != std::string::npos;
}

Result<std::optional<LostReason>> revoke_release_outcome(
    const Result<bool>& ours, const Result<void>& revoked,
    const std::function<LostReason()>& why_lost) {
  if (!ours) {
    return std::unexpected(ours.error());
  }
  if (!*ours) {
    return std::optional<LostReason>(why_lost());
  }
  if (!revoked && !is_lease_not_found(revoked.error())) {
    return std::unexpected(revoked.error());
  }
  return std::optional<LostReason>();
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
  lease_gone_ = true;
  return std::optional<LostReason>(why_lost());
}

Result<std::optional<LostReason>> EtcdLease::release_checked(std::chrono::nanoseconds hold_for) {
  auto hold = std::chrono::ceil<milliseconds>(hold_for);
  if (hold.count() > 0) {
    return release_holding(hold);
  }
  return release_by_ == ReleaseBy::revoke ? release_revoking() : release_key();
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
  if (lease_gone_) {
    return std::optional<LostReason>(why_lost());  // the key, if still ours, went with the lease
  }
  // Revoking deletes the keys on our lease and only those: ours if it still is, never a newer
  // holder's (on a lease of its own). Whether the lock was still ours is asked first, with a
  // linearizable read of the key (no raft proposal). The revoke is sent whatever the read found
  // -- not ours or no answer -- so that our lease does not linger to its ttl.
  auto ours = key_is_ours();
  auto r = client_->call("lease/revoke", {{"ID", std::to_string(lease_)}});
  auto revoked = r ? Result<void>() : Result<void>(std::unexpected(r.error()));
  return revoke_release_outcome(ours, revoked, [this] { return why_lost(); });
}

Result<bool> EtcdLease::key_is_ours() {
  auto r = client_->call("kv/range", {{"key", base64_encode(key_)}});
  if (!r) {
    return std::unexpected(r.error());
  }
  const std::string server = client_->endpoint();
  auto kv = first_kv(*r, server);
  if (!kv) {
    return std::unexpected(kv.error());
  }
  if (*kv == nullptr) {
    return false;
  }
  auto created = reply_int(**kv, "create_revision", server, 0, kMaxInt64);
  auto lease = reply_int(**kv, "lease", server, 0, kMaxInt64);
  if (!created || !lease) {
    return std::unexpected(!created ? created.error() : lease.error());
  }
  return *created == static_cast<long long>(token_) && *lease == lease_;
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
