#include "etcd_store.h"

#include "../core/process_identity.h"
#include "etcd_lease.h"
#include "etcd_replies.h"

namespace heartlock::detail {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

// The record a new holder puts in the lock's key.
json holder_record(const ClaimRequest& request) {
  const auto& o = request.options;
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
  return record;
}

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
    : LeasingStore(options),
      release_by_(options.short_lived ? ReleaseBy::revoke : ReleaseBy::delete_key),
      prefix_(url.prefix),
      client_(std::make_shared<EtcdClient>(std::move(url))),
      spares_(std::make_shared<LeaseSpares>()) {}

EtcdStore::~EtcdStore() {
  stop_keepalive();
  for (long long id : spares_->drain(true)) {
    (void)client_->call("lease/revoke", {{"ID", std::to_string(id)}});
  }
}

Result<long long> EtcdStore::lease_for(milliseconds ttl, long long ttl_s, BootTime& start,
                                       bool& spare) {
  for (long long id : spares_->drain(false)) {
    (void)client_->call("lease/revoke", {{"ID", std::to_string(id)}});
  }
  start = boot_now();
  if (auto kept = spares_->take(ttl_s, start)) {
    spare = true;
    start = kept->refreshed;  // the lease runs from then: count the ttl from then
    return kept->id;
  }
  spare = false;
  auto granted = client_->call("lease/grant", {{"TTL", ttl_s}});
  if (!granted) {
    return std::unexpected(granted.error());
  }
  // etcd raises a TTL below its minimum lease TTL (1.5 election timeouts, ~2 s by default) and
  // answers with the TTL it granted: the lock then outlives a crashed holder by that much more
  // than the caller's ttl. Not an error -- our deadlines still count from the shorter ttl, so
  // safety holds -- but the caller asked for faster takeover than it gets, so say it.
  if (const long long granted_s = json_int(*granted, "TTL"); granted_s > ttl_s) {
    warn_raised_ttl(ttl, granted_s);
  }
  return json_int(*granted, "ID");
}

void EtcdStore::warn_raised_ttl(milliseconds ttl, long long granted_s) {
  if (warned_raised_ttl_.exchange(true)) {
    return;
  }
  log(LogLevel::warn, "etcd at " + url() + " raised the lease ttl " + std::to_string(ttl.count()) +
                          "ms to its minimum, " + std::to_string(granted_s) +
                          "s: a holder that dies keeps the lock for up to " +
                          std::to_string(granted_s) + "s; use a ttl of at least " +
                          std::to_string(granted_s) + "s");
}

Result<std::pair<Attempt, long long>> EtcdStore::try_once(const ClaimRequest& request) {
  const long long ttl_s = ttl_seconds(request.options.ttl);
  BootTime start{};
  bool spare = false;
  auto lease = lease_for(request.options.ttl, ttl_s, start, spare);
  if (!lease) {
    return std::unexpected(lease.error());
  }
  const json record = holder_record(request);
  const std::string key = lock_key(request.name);
  json txn = {
      {"compare", json::array({created_at(key, "0")})},
      {"success",
       {{{"request_put",
          {{"key", base64_encode(key)},
           {"value", base64_encode(record.dump(-1, ' ', false, json::error_handler_t::replace))},
           {"lease", std::to_string(*lease)}}}}}},
      {"failure", {{{"request_range", {{"key", base64_encode(key)}}}}}}};
  auto r = client_->call("kv/txn", txn);
  if (!r) {
    (void)client_->call("lease/revoke", {{"ID", std::to_string(*lease)}});
    if (spare && r.error().message.find("lease not found") != std::string::npos) {
      // A spare that expired after all (a paused process): once more with a fresh lease.
      return try_once(request);
    }
    return std::unexpected(r.error());
  }
  return claimed(request, *r, *lease, ttl_s, start);
}

Result<std::pair<Attempt, long long>> EtcdStore::claimed(const ClaimRequest& request, const json& r,
                                                         long long lease, long long ttl_s,
                                                         BootTime start) {
  const std::string server = client_->endpoint();
  auto header = reply_object(r, "header", server);
  auto revision_field =
      header ? reply_int(**header, "revision", server, 0, kMaxInt64) : Result<long long>(0);
  auto succeeded = reply_bool(r, "succeeded", server);
  if (!revision_field || !succeeded) {
    // Whether the key is ours is unknown: end the lease, and the key with it if it is.
    (void)client_->call("lease/revoke", {{"ID", std::to_string(lease)}});
    return std::unexpected(!revision_field ? revision_field.error() : succeeded.error());
  }
  const long long revision = *revision_field;
  if (*succeeded) {
    // The put's revision is the key's create revision: the fencing token.
    return std::pair{Attempt(Claim{
                         .lease = std::make_unique<EtcdLease>(
                             client_, spares_, release_by_, lock_key(request.name), lease, ttl_s,
                             static_cast<std::uint64_t>(revision), start),
                         .token = static_cast<std::uint64_t>(revision),
                         .location = location(request.name),
                         .acquired_at = start,
                     }),
                     revision};
  }
  spares_->put(ttl_s, {lease, start});  // unused: kept for the next try
  auto kv = txn_range_kv(r, server);
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

}  // namespace heartlock::detail
