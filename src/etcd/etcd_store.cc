#include "etcd_store.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <mutex>

#include "../core/process_identity.h"
#include "../core/slots.h"

namespace heartlock::detail {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

// How long a waiter watches at most before trying again (covers a missed event).
constexpr milliseconds kMaxWaitSlice{1000};

// The lease ttl in whole seconds, rounded up (etcd raises it to its own minimum).
long long ttl_seconds(milliseconds ttl) {
  return std::max<long long>(1, (ttl.count() + 999) / 1000);
}

// The end of a prefix range: the prefix with its last byte incremented.
std::string range_end(std::string prefix) {
  while (!prefix.empty() && static_cast<unsigned char>(prefix.back()) == 0xff) {
    prefix.pop_back();
  }
  if (!prefix.empty()) {
    prefix.back() = static_cast<char>(prefix.back() + 1);
  }
  return prefix;
}

// '/' and '%' of a job name %-encoded, so one job's slot keys never share a prefix with another's.
std::string slot_job(std::string_view job) {
  std::string out;
  for (char c : job) {
    if (c == '/' || c == '%') {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", static_cast<unsigned char>(c));
      out += buf;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string padded(long long epoch) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%012lld", std::max(0LL, epoch));
  return buf;
}

}  // namespace

// Granted leases with no key attached, by ttl in seconds, each with the time it was last granted
// or kept alive (the start of that request): young enough, one is as good as a fresh grant.
class LeaseSpares {
 public:
  struct Spare {
    long long id = 0;
    BootTime refreshed{};
  };
  void put(long long ttl_s, Spare spare) {
    std::lock_guard lock(mu_);
    auto& slot = spares_[ttl_s];
    if (slot.id != 0) {
      stale_.push_back(slot.id);
    }
    slot = spare;
  }
  // A spare refreshed less than a third of its ttl ago, or nullopt.
  std::optional<Spare> take(long long ttl_s, BootTime now) {
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
  // Leases to revoke (replaced or too old; all of them when `all`).
  std::vector<long long> drain(bool all) {
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

 private:
  std::mutex mu_;
  std::map<long long, Spare> spares_;
  std::vector<long long> stale_;
};

namespace {

// A lease on etcd: keepalive to renew; release deletes the key, fenced, and hands the lease back
// as a spare (or, with min_hold, moves the key to a lease of that length).
class EtcdLease final : public BackendLease {
 public:
  EtcdLease(std::shared_ptr<EtcdClient> client, std::shared_ptr<LeaseSpares> spares,
            std::string key, long long lease, long long ttl_s, std::uint64_t token,
            BootTime refreshed)
      : client_(std::move(client)),
        spares_(std::move(spares)),
        key_(std::move(key)),
        lease_(lease),
        ttl_s_(ttl_s),
        token_(token),
        refreshed_(refreshed) {}

  Result<std::optional<LostReason>> renew(BootTime) override {
    const BootTime start = boot_now();
    auto r = client_->call("lease/keepalive", {{"ID", std::to_string(lease_)}});
    if (!r) {
      return std::unexpected(r.error());
    }
    const json& result = r->contains("result") ? (*r)["result"] : *r;
    if (json_int(result, "TTL") > 0) {
      refreshed_ = start;
      return std::optional<LostReason>();
    }
    return std::optional<LostReason>(why_lost());
  }

  Result<std::optional<LostReason>> release(std::chrono::nanoseconds hold_for) override {
    auto hold = std::chrono::ceil<milliseconds>(hold_for);
    if (hold.count() > 0) {
      // Keep the key for the rest of min_hold: move it to a lease of that length (same key, same
      // create revision = token), marked released, then end our lease.
      auto granted = client_->call("lease/grant", {{"TTL", ttl_seconds(hold)}});
      if (!granted) {
        return std::unexpected(granted.error());
      }
      const long long hold_lease = json_int(*granted, "ID");
      auto current = client_->call("kv/range", {{"key", base64_encode(key_)}});
      if (current && current->contains("kvs")) {
        json record =
            json::parse(base64_decode((*current)["kvs"][0].value("value", "")), nullptr, false);
        if (record.is_object()) {
          record["state"] = "released";
          json txn = {{"compare",
                       {{{"key", base64_encode(key_)},
                         {"result", "EQUAL"},
                         {"target", "CREATE"},
                         {"create_revision", std::to_string(token_)}}}},
                      {"success",
                       {{{"request_put",
                          {{"key", base64_encode(key_)},
                           {"value", base64_encode(record.dump())},
                           {"lease", std::to_string(hold_lease)}}}}}}};
          auto moved = client_->call("kv/txn", txn);
          if (!moved || !moved->value("succeeded", false)) {
            (void)client_->call("lease/revoke", {{"ID", std::to_string(hold_lease)}});
          }
        }
      }
    }
    if (hold.count() > 0) {
      auto r = client_->call("lease/revoke", {{"ID", std::to_string(lease_)}});
      if (!r) {
        if (r.error().code == Errc::invalid_argument) {  // "requested lease not found"
          return std::optional<LostReason>(why_lost());
        }
        return std::unexpected(r.error());
      }
      return std::optional<LostReason>();
    }
    // Delete the key only if it is still this lease's; keep the lease for the next acquire.
    json txn = {{"compare",
                 {{{"key", base64_encode(key_)},
                   {"result", "EQUAL"},
                   {"target", "CREATE"},
                   {"create_revision", std::to_string(token_)}},
                  {{"key", base64_encode(key_)},
                   {"result", "EQUAL"},
                   {"target", "LEASE"},
                   {"lease", std::to_string(lease_)}}}},
                {"success", {{{"request_delete_range", {{"key", base64_encode(key_)}}}}}}};
    auto r = client_->call("kv/txn", txn);
    if (!r) {
      return std::unexpected(r.error());
    }
    if (!r->value("succeeded", false)) {
      (void)client_->call("lease/revoke", {{"ID", std::to_string(lease_)}});
      return std::optional<LostReason>(why_lost());
    }
    spares_->put(ttl_s_, {lease_, refreshed_});
    return std::optional<LostReason>();
  }

  // watch_fd() stays -1. The lease lives on the cluster with its ttl, not on a connection:
  // requests are plain HTTP through curl, whose connections come and go (idle ones are closed by
  // either side as a matter of course) and are not ours to poll, and a dropped one loses nothing.
  // What would end the lease early -- a revoke (`heartlock release --force`), another owner's key
  // -- shows only on a watch stream of the key, which costs a connection per lease; the next
  // keepalive finds it instead.

 private:
  // Our lease is gone: did someone else take the key, or did it simply expire?
  LostReason why_lost() {
    auto r = client_->call("kv/range", {{"key", base64_encode(key_)}});
    if (r && r->contains("kvs") &&
        json_int((*r)["kvs"][0], "create_revision") != static_cast<long long>(token_)) {
      return LostReason::taken_over;
    }
    return LostReason::expired;
  }

  std::shared_ptr<EtcdClient> client_;
  std::shared_ptr<LeaseSpares> spares_;
  const std::string key_;
  const long long lease_;
  const long long ttl_s_;
  const std::uint64_t token_;
  BootTime refreshed_;  // start of the last grant or keepalive that succeeded
};

}  // namespace

Result<std::unique_ptr<Store>> open_etcd_store(std::string_view url, StoreOptions options) {
  auto parsed = parse_etcd_url(url);
  if (!parsed) {
    return std::unexpected(parsed.error());
  }
  if (auto api = curl_api(); !api) {
    return std::unexpected(api.error());
  }
  return std::make_unique<EtcdStore>(std::move(*parsed), std::move(options));
}

EtcdStore::EtcdStore(EtcdUrl url, StoreOptions options)
    : LeasingStore(std::move(options)),
      prefix_(url.prefix),
      client_(std::make_shared<EtcdClient>(std::move(url))),
      spares_(std::make_shared<LeaseSpares>()) {}

EtcdStore::~EtcdStore() {
  stop_keepalive();
  for (long long id : spares_->drain(true)) {
    (void)client_->call("lease/revoke", {{"ID", std::to_string(id)}});
  }
}

Result<std::pair<Attempt, long long>> EtcdStore::try_once(const ClaimRequest& request) {
  const auto& o = request.options;
  const long long ttl_s = ttl_seconds(o.ttl);
  for (long long id : spares_->drain(false)) {
    (void)client_->call("lease/revoke", {{"ID", std::to_string(id)}});
  }
  long long lease = 0;
  BootTime start = boot_now();
  auto spare = spares_->take(ttl_s, start);
  if (spare) {
    lease = spare->id;
    start = spare->refreshed;  // the lease runs from then: count the ttl from then
  } else {
    auto granted = client_->call("lease/grant", {{"TTL", ttl_s}});
    if (!granted) {
      return std::unexpected(granted.error());
    }
    lease = json_int(*granted, "ID");
  }
  ProcessIdentity self = self_identity();
  json record = {
      {"owner", request.owner},
      {"host", self.host},
      {"pid", self.pid},
      {"command", o.command},
      {"ttl_ms", o.ttl.count()},
      {"stale_after_ms", o.stale_after.count()},
      {"state", "held"},
      {"acquired_ms",
       std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch())
           .count()},
  };
  if (o.slot) {
    record["slot"] = o.slot->time_since_epoch().count();
  }
  const std::string key = lock_key(request.name);
  json txn = {{"compare",
               {{{"key", base64_encode(key)},
                 {"result", "EQUAL"},
                 {"target", "CREATE"},
                 {"create_revision", "0"}}}},
              {"success",
               {{{"request_put",
                  {{"key", base64_encode(key)},
                   {"value", base64_encode(record.dump())},
                   {"lease", std::to_string(lease)}}}}}},
              {"failure", {{{"request_range", {{"key", base64_encode(key)}}}}}}};
  auto r = client_->call("kv/txn", txn);
  if (!r) {
    (void)client_->call("lease/revoke", {{"ID", std::to_string(lease)}});
    if (spare && r.error().message.find("lease not found") != std::string::npos) {
      // A spare that expired after all (a paused process): once more with a fresh lease.
      return try_once(request);
    }
    return std::unexpected(r.error());
  }
  const long long revision = json_int((*r)["header"], "revision");
  if (r->value("succeeded", false)) {
    // The put's revision is the key's create revision: the fencing token.
    return std::pair{
        Attempt(Claim{
            .lease = std::make_unique<EtcdLease>(client_, spares_, key, lease, ttl_s,
                                                 static_cast<std::uint64_t>(revision), start),
            .token = static_cast<std::uint64_t>(revision),
            .location = location(request.name),
            .acquired_at = start,
        }),
        revision};
  }
  spares_->put(ttl_s, {lease, start});  // unused: kept for the next try
  json kv;
  if (r->contains("responses")) {
    const json& range = (*r)["responses"][0]["response_range"];
    if (range.contains("kvs")) {
      kv = range["kvs"][0];
    }
  }
  auto info = describe(request.name, kv);
  if (!info) {
    return std::unexpected(info.error());
  }
  return std::pair{Attempt(std::move(*info)), revision};
}

Result<Attempt> EtcdStore::claim(const ClaimRequest& request) {
  for (;;) {
    auto attempt = try_once(request);
    if (!attempt) {
      return std::unexpected(attempt.error());
    }
    if (!request.deadline || std::holds_alternative<Claim>(attempt->first)) {
      return std::move(attempt->first);
    }
    BootTime now = boot_now();
    if (now >= *request.deadline) {
      return std::move(attempt->first);
    }
    auto wait =
        std::min(std::chrono::duration_cast<milliseconds>(*request.deadline - now), kMaxWaitSlice);
    // Any change of the key after the revision we saw (its deletion, above all) ends the watch.
    auto changed = client_->watch(lock_key(request.name), attempt->second + 1, wait);
    if (!changed) {
      return std::unexpected(changed.error());
    }
  }
}

Result<LockInfo> EtcdStore::describe(std::string_view name, const json& kv) {
  LockInfo info;
  info.name = std::string(name);
  info.location = location(name);
  if (kv.is_null() || !kv.is_object()) {
    info.detail = "free";
    return info;
  }
  json record = json::parse(base64_decode(kv.value("value", "")), nullptr, false);
  Holder h;
  h.token = static_cast<std::uint64_t>(json_int(kv, "create_revision"));
  if (!record.is_object()) {
    h.foreign = true;
    info.holder = h;
    info.state = LockState::held;
    info.detail = "the key holds something heartlock did not write; never taken over";
    return info;
  }
  h.owner = record.value("owner", "");
  h.host = record.value("host", "");
  h.pid = record.value("pid", 0LL);
  h.command = record.value("command", "");
  h.ttl = milliseconds(record.value("ttl_ms", 0LL));
  h.stale_after = milliseconds(record.value("stale_after_ms", 0LL));
  h.since = std::chrono::system_clock::time_point(milliseconds(record.value("acquired_ms", 0LL)));
  if (record.contains("slot")) {
    h.slot = std::chrono::sys_seconds(std::chrono::seconds(record.value("slot", 0LL)));
  }
  long long remaining_ms = -1;
  if (long long lease = json_int(kv, "lease"); lease != 0) {
    auto ttl = client_->call("lease/timetolive", {{"ID", std::to_string(lease)}});
    if (ttl) {
      long long granted = json_int(*ttl, "grantedTTL");
      long long left = json_int(*ttl, "TTL");
      remaining_ms = left * 1000;
      if (granted > 0 && left >= 0) {
        h.renew_age = milliseconds((granted - left) * 1000);  // to the second: etcd's grain
      }
    }
  }
  info.holder = h;
  const std::string who = "pid " + std::to_string(h.pid) + " on " + h.host;
  if (record.value("state", "") == "released") {
    info.state = LockState::held;
    info.min_hold_left = milliseconds(std::max(0LL, remaining_ms));
    info.detail = "released, but min_hold keeps it for ~" +
                  std::to_string(std::max(0LL, remaining_ms / 1000)) + "s";
  } else {
    info.state = LockState::held;
    info.detail = "held by " + who + " (lease expires in ~" +
                  std::to_string(std::max(0LL, remaining_ms / 1000)) + "s unless renewed)";
  }
  return info;
}

Result<LockInfo> EtcdStore::inspect(std::string_view name) {
  if (auto ok = validate_name(name); !ok) {
    return std::unexpected(ok.error());
  }
  auto r = client_->call("kv/range", {{"key", base64_encode(lock_key(name))}});
  if (!r) {
    return std::unexpected(r.error());
  }
  return describe(name, r->contains("kvs") ? (*r)["kvs"][0] : json());
}

Result<std::vector<LockInfo>> EtcdStore::list() {
  const std::string begin = prefix_ + "lock/";
  auto r = client_->call(
      "kv/range", {{"key", base64_encode(begin)}, {"range_end", base64_encode(range_end(begin))}});
  if (!r) {
    return std::unexpected(r.error());
  }
  std::vector<LockInfo> out;
  if (r->contains("kvs")) {
    for (const auto& kv : (*r)["kvs"]) {
      std::string key = base64_decode(kv.value("key", ""));
      if (auto info = describe(key.substr(begin.size()), kv)) {
        out.push_back(std::move(*info));
      }
    }
  }
  return out;
}

Result<void> EtcdStore::break_lease(std::string_view name, std::uint64_t token) {
  if (auto ok = validate_name(name); !ok) {
    return std::unexpected(ok.error());
  }
  const std::string key = lock_key(name);
  auto r = client_->call("kv/range", {{"key", base64_encode(key)}});
  if (!r) {
    return std::unexpected(r.error());
  }
  if (!r->contains("kvs") ||
      json_int((*r)["kvs"][0], "create_revision") != static_cast<long long>(token)) {
    return fail(Errc::not_owner, "lock " + std::string(name) + " is no longer lease " +
                                     std::to_string(token) + "; nothing changed");
  }
  const long long lease = json_int((*r)["kvs"][0], "lease");
  json txn = {{"compare",
               {{{"key", base64_encode(key)},
                 {"result", "EQUAL"},
                 {"target", "CREATE"},
                 {"create_revision", std::to_string(token)}}}},
              {"success", {{{"request_delete_range", {{"key", base64_encode(key)}}}}}}};
  auto deleted = client_->call("kv/txn", txn);
  if (!deleted) {
    return std::unexpected(deleted.error());
  }
  if (!deleted->value("succeeded", false)) {
    return fail(Errc::not_owner, "lock " + std::string(name) + " is no longer lease " +
                                     std::to_string(token) + "; nothing changed");
  }
  if (lease != 0) {
    // The old holder learns at its next keepalive.
    (void)client_->call("lease/revoke", {{"ID", std::to_string(lease)}});
  }
  return {};
}

Result<SlotClaim> EtcdStore::claim_slot(std::string_view job, std::chrono::sys_seconds slot,
                                        std::chrono::seconds retention) {
  if (auto ok = check_slot_request(job, retention); !ok) {
    return std::unexpected(ok.error());
  }
  // etcd has no clock of its own to offer: the retention is measured on this host's clock.
  const auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  const long long oldest_kept = (now - retention).time_since_epoch().count();
  if (slot.time_since_epoch().count() < oldest_kept) {
    return SlotClaim{.won = false, .claimed_by = "(slot older than the retention)"};
  }
  const std::string dir = prefix_ + "slot/" + slot_job(job) + "/";
  const std::string key = dir + padded(slot.time_since_epoch().count());
  const std::string me = slot_claimant();
  // One transaction: drop the job's records past the retention, claim the slot if nobody has.
  json gc = {
      {"request_delete_range",
       {{"key", base64_encode(dir)}, {"range_end", base64_encode(dir + padded(oldest_kept))}}}};
  json txn = {
      {"compare",
       {{{"key", base64_encode(key)},
         {"result", "EQUAL"},
         {"target", "CREATE"},
         {"create_revision", "0"}}}},
      {"success",
       {{{"request_put", {{"key", base64_encode(key)}, {"value", base64_encode(me)}}}}, gc}},
      {"failure", {{{"request_range", {{"key", base64_encode(key)}}}}, gc}}};
  auto r = client_->call("kv/txn", txn);
  if (!r) {
    return std::unexpected(r.error());
  }
  if (r->value("succeeded", false)) {
    return SlotClaim{.won = true, .claimed_by = me};
  }
  SlotClaim lost;
  if (r->contains("responses")) {
    const json& range = (*r)["responses"][0]["response_range"];
    if (range.contains("kvs")) {
      lost.claimed_by = base64_decode(range["kvs"][0].value("value", ""));
    }
  }
  return lost;
}

}  // namespace heartlock::detail
