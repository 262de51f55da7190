#include "etcd_store.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <limits>
#include <map>
#include <mutex>

#include "../core/process_identity.h"
#include "../core/slots.h"

namespace heartlock::detail {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

constexpr long long kMaxInt64 = std::numeric_limits<long long>::max();
// etcd's largest lease TTL (lease.MaxLeaseTTL, 9e9 s): a TTL past it is garbage, and in
// milliseconds one within it is far from overflowing.
constexpr long long kMaxLeaseTtlS = 9'000'000'000;
// Bounds for the times of a record (milliseconds, or seconds for a slot): 9e12 ms is 285 years
// (since the epoch: the year 2255), and still fits a system_clock time point in nanoseconds.
constexpr long long kMaxRecordMs = 9'000'000'000'000;
constexpr long long kMaxRecordS = kMaxRecordMs / 1000;
constexpr long long kMaxPid = std::numeric_limits<std::int32_t>::max();

// The last resort at the API boundary: a nlohmann exception -- a reply of a shape the checked
// readers (etcd_client.h) did not foresee, or a dump() of a string that is not UTF-8 -- becomes
// Errc::unavailable instead of crossing include/heartlock/.
template <class F>
auto guarded(EtcdClient& client, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const json::exception& e) {
    return fail(Errc::unavailable, "etcd " + client.endpoint() + ": " + e.what());
  }
}

// The first element of the array `object[field]`, or nullptr when it is empty. Errc::unavailable
// when the field is not an array or its first element is not an object.
Result<const json*> first_object(const json& object, const char* field, std::string_view server) {
  auto items = reply_array(object, field, server);
  if (!items) {
    return std::unexpected(items.error());
  }
  if ((*items)->empty()) {
    return nullptr;
  }
  const json& first = (**items)[0];
  if (!first.is_object()) {
    return std::unexpected(
        bad_etcd_reply(server, "'" + std::string(field) + "' holds something not an object"));
  }
  return &first;
}

// The first key-value of a range reply's "kvs", or nullptr when there is none.
Result<const json*> first_kv(const json& range, std::string_view server) {
  return first_object(range, "kvs", server);
}

// The first key-value a failed transaction's range request found (its first response), or
// nullptr when there is none.
Result<const json*> txn_range_kv(const json& reply, std::string_view server) {
  auto first = first_object(reply, "responses", server);
  if (!first || *first == nullptr) {
    return first;
  }
  auto range = reply_object(**first, "response_range", server);
  if (!range) {
    return std::unexpected(range.error());
  }
  return first_kv(**range, server);
}

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
    return guarded(*client_, [&] { return renew_checked(); });
  }

  Result<std::optional<LostReason>> release(std::chrono::nanoseconds hold_for) override {
    return guarded(*client_, [&] { return release_checked(hold_for); });
  }

  // watch_fd() stays -1. The lease lives on the cluster with its ttl, not on a connection:
  // requests are plain HTTP through curl, whose connections come and go (idle ones are closed by
  // either side as a matter of course) and are not ours to poll, and a dropped one loses nothing.
  // What would end the lease early -- a revoke (`heartlock release --force`), another owner's key
  // -- shows only on a watch stream of the key, which costs a connection per lease; the next
  // keepalive finds it instead.

 private:
  Result<std::optional<LostReason>> renew_checked() {
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

  Result<std::optional<LostReason>> release_checked(std::chrono::nanoseconds hold_for) {
    auto hold = std::chrono::ceil<milliseconds>(hold_for);
    if (hold.count() > 0) {
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
          json txn = {{"compare",
                       {{{"key", base64_encode(key_)},
                         {"result", "EQUAL"},
                         {"target", "CREATE"},
                         {"create_revision", std::to_string(token_)}}}},
                      {"success",
                       {{{"request_put",
                          {{"key", base64_encode(key_)},
                           {"value", base64_encode(record.dump(-1, ' ', false,
                                                               json::error_handler_t::replace))},
                           {"lease", std::to_string(hold_lease)}}}}}}};
          auto moved = client_->call("kv/txn", txn);
          auto succeeded = moved ? reply_bool(*moved, "succeeded", server) : Result<bool>(false);
          if (!succeeded || !*succeeded) {
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

  // Our lease is gone: did someone else take the key, or did it simply expire?
  LostReason why_lost() {
    auto r = client_->call("kv/range", {{"key", base64_encode(key_)}});
    auto kv = r ? first_kv(*r, client_->endpoint()) : Result<const json*>(nullptr);
    if (kv && *kv != nullptr &&
        json_int(**kv, "create_revision") != static_cast<long long>(token_)) {
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
  json txn = {
      {"compare",
       {{{"key", base64_encode(key)},
         {"result", "EQUAL"},
         {"target", "CREATE"},
         {"create_revision", "0"}}}},
      {"success",
       {{{"request_put",
          {{"key", base64_encode(key)},
           {"value", base64_encode(record.dump(-1, ' ', false, json::error_handler_t::replace))},
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
  const std::string server = client_->endpoint();
  auto header = reply_object(*r, "header", server);
  auto revision_field =
      header ? reply_int(**header, "revision", server, 0, kMaxInt64) : Result<long long>(0);
  auto succeeded = reply_bool(*r, "succeeded", server);
  if (!revision_field || !succeeded) {
    // Whether the key is ours is unknown: end the lease, and the key with it if it is.
    (void)client_->call("lease/revoke", {{"ID", std::to_string(lease)}});
    return std::unexpected(!revision_field ? revision_field.error() : succeeded.error());
  }
  const long long revision = *revision_field;
  if (*succeeded) {
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
  auto kv = txn_range_kv(*r, server);
  if (!kv) {
    return std::unexpected(kv.error());
  }
  auto info = describe(request.name, *kv);
  if (!info) {
    return std::unexpected(info.error());
  }
  return std::pair{Attempt(std::move(*info)), revision};
}

namespace {

// A waiter that watches the lock's key for any change after the revision its last try saw (the
// deletion by a release or an expiry, above all), so nothing between the try and the watch is
// missed. A watch that fails ends the acquire with its error.
class EtcdReleaseWaiter final : public ReleaseWaiter {
 public:
  EtcdReleaseWaiter(std::shared_ptr<EtcdClient> client, std::string key)
      : client_(std::move(client)), key_(std::move(key)) {}

  // The store revision the last try read (EtcdStore::claim tells it).
  void saw(long long revision) { revision_ = revision; }

  Result<void> wait(BootTime until, const StopWake& stop) override {
    auto left = std::chrono::ceil<milliseconds>(until - boot_now());
    if (stop.needs_polling()) {
      left = std::min(left, milliseconds(100));  // no eventfd to end the watch: look more often
    }
    if (left <= milliseconds(0)) {
      return {};
    }
    auto changed =
        guarded(*client_, [&] { return client_->watch(key_, revision_ + 1, left, stop.fd()); });
    if (!changed) {
      return std::unexpected(changed.error());
    }
    return {};
  }

 private:
  std::shared_ptr<EtcdClient> client_;
  std::string key_;
  long long revision_ = 0;
};

}  // namespace

Result<Attempt> EtcdStore::claim(const ClaimRequest& request) {
  auto attempt = guarded(*client_, [&] { return try_once(request); });
  if (!attempt) {
    return std::unexpected(attempt.error());
  }
  if (request.waiter != nullptr) {
    // It is the EtcdReleaseWaiter release_waiter() made for this acquire.
    static_cast<EtcdReleaseWaiter*>(request.waiter)->saw(attempt->second);
  }
  return std::move(attempt->first);
}

std::unique_ptr<ReleaseWaiter> EtcdStore::release_waiter(std::string_view name) {
  return std::make_unique<EtcdReleaseWaiter>(client_, lock_key(name));
}

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
  long long remaining_ms = -1;
  if (long long lease = json_int(*kv, "lease"); lease != 0) {
    auto ttl = client_->call("lease/timetolive", {{"ID", std::to_string(lease)}});
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
  info.holder = h;
  const std::string who = "pid " + std::to_string(h.pid) + " on " + h.host;
  if (*state == "released") {
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

Result<std::vector<LockInfo>> EtcdStore::list() {
  return guarded(*client_, [&] { return list_checked(); });
}

Result<std::vector<LockInfo>> EtcdStore::list_checked() {
  const std::string begin = prefix_ + "lock/";
  auto r = client_->call(
      "kv/range", {{"key", base64_encode(begin)}, {"range_end", base64_encode(range_end(begin))}});
  if (!r) {
    return std::unexpected(r.error());
  }
  const std::string server = client_->endpoint();
  auto kvs = reply_array(*r, "kvs", server);
  if (!kvs) {
    return std::unexpected(kvs.error());
  }
  std::vector<LockInfo> out;
  for (const auto& kv : **kvs) {
    if (!kv.is_object()) {
      return std::unexpected(bad_etcd_reply(server, "'kvs' holds something not an object"));
    }
    auto key64 = reply_string(kv, "key", server);
    if (!key64) {
      return std::unexpected(key64.error());
    }
    const std::string key = base64_decode(*key64);
    if (!key.starts_with(begin) || key.size() == begin.size()) {
      // The key as sent, if it is base64 (and so printable), for whoever looks into the server.
      const bool printable =
          key64->size() <= 200 && std::all_of(key64->begin(), key64->end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '+' || c == '/' ||
                   c == '=';
          });
      return std::unexpected(bad_etcd_reply(
          server, (printable ? "key (base64) '" + *key64 + "'" : std::string("a key")) +
                      " is not under " + begin + ", the range asked for"));
    }
    auto info = describe(std::string_view(key).substr(begin.size()), &kv);
    if (!info) {
      return std::unexpected(info.error());
    }
    out.push_back(std::move(*info));
  }
  return out;
}

Result<void> EtcdStore::break_lock(std::string_view name, std::uint64_t token) {
  return guarded(*client_, [&] { return break_lease_checked(name, token); });
}

Result<void> EtcdStore::break_lease_checked(std::string_view name, std::uint64_t token) {
  const std::string key = lock_key(name);
  auto r = client_->call("kv/range", {{"key", base64_encode(key)}});
  if (!r) {
    return std::unexpected(r.error());
  }
  const std::string server = client_->endpoint();
  auto kv = first_kv(*r, server);
  if (!kv) {
    return std::unexpected(kv.error());
  }
  auto revision = *kv != nullptr ? reply_int(**kv, "create_revision", server, 0, kMaxInt64)
                                 : Result<long long>(0);
  if (!revision) {
    return std::unexpected(revision.error());
  }
  if (*kv == nullptr || *revision != static_cast<long long>(token)) {
    return fail(Errc::not_owner, "lock " + std::string(name) + " is no longer lease " +
                                     std::to_string(token) + "; nothing changed");
  }
  const long long lease = json_int(**kv, "lease");
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
  auto succeeded = reply_bool(*deleted, "succeeded", server);
  if (!succeeded) {
    return std::unexpected(succeeded.error());
  }
  if (!*succeeded) {
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
  return guarded(*client_, [&] { return claim_slot_checked(job, slot, retention); });
}

Result<SlotClaim> EtcdStore::claim_slot_checked(std::string_view job, std::chrono::sys_seconds slot,
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
  const std::string server = client_->endpoint();
  auto succeeded = reply_bool(*r, "succeeded", server);
  if (!succeeded) {
    return std::unexpected(succeeded.error());
  }
  if (*succeeded) {
    return SlotClaim{.won = true, .claimed_by = me};
  }
  auto kv = txn_range_kv(*r, server);
  if (!kv) {
    return std::unexpected(kv.error());
  }
  SlotClaim lost;
  if (*kv != nullptr) {
    auto value = reply_string(**kv, "value", server);
    if (!value) {
      return std::unexpected(value.error());
    }
    lost.claimed_by = base64_decode(*value);
  }
  return lost;
}

}  // namespace heartlock::detail
