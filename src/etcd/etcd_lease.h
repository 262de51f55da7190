// EtcdLease and LeaseSpares: a lock held on etcd through an etcd lease, and the store's granted
// leases that hold no key yet, kept for the next acquire (etcd_store.h says why).
#ifndef HEARTLOCK_ETCD_ETCD_LEASE_H_
#define HEARTLOCK_ETCD_ETCD_LEASE_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "../core/backend_lease.h"
#include "etcd_client.h"

namespace heartlock::detail {

// Granted leases with no key attached, by ttl in seconds, each with the time it was last granted
// or kept alive (the start of that request): young enough, one is as good as a fresh grant.
//
// Thread-safety: all methods may be called concurrently (guarded by mu_). Owned by shared_ptr:
// the store and its leases, which hand theirs back on release.
class LeaseSpares {
 public:
  struct Spare {
    long long id = 0;
    BootTime refreshed{};
  };
  // Keeps `spare` for `ttl_s`; the one it replaces is to be revoked (drain()).
  void put(long long ttl_s, Spare spare);
  // A spare refreshed less than a third of its ttl ago, or nullopt.
  std::optional<Spare> take(long long ttl_s, BootTime now);
  // Leases to revoke (replaced or too old; all of them when `all`).
  std::vector<long long> drain(bool all);

 private:
  std::mutex mu_;
  std::map<long long, Spare> spares_;  // guarded by mu_
  std::vector<long long> stale_;       // guarded by mu_
};

// How an EtcdLease ends when released without min_hold (StoreOptions::short_lived picks it).
enum class ReleaseBy {
  // A txn deletes the key if its create revision and lease are still ours; the lease is kept as a
  // spare for the next acquire and revoked when the store closes (a write each).
  delete_key,
  // A read checks that the key is still ours, then revoking the lease deletes the key with it
  // (one write): for a store closed soon after, which would only revoke the spare.
  revoke,
};

// Whether etcd's answer to lease/revoke (or keepalive) is "requested lease not found": the lease
// has been revoked or has expired.
bool is_lease_not_found(const Error& error);

// What a release by revoke reports, from its two requests: `ours`, the check whether the key was
// still ours (on our lease at our create revision) before the revoke; `revoked`, the revoke's
// answer. A failed check is the error; a key no longer ours is lost (why_lost() says how). A
// revoke that finds the lease gone after the key was found ours is a clean release -- the key was
// ours when checked and went with the lease (an earlier attempt of the same revoke that did land,
// or the lease expiring in between, after the job had ended). Any other failed revoke is the error.
Result<std::optional<LostReason>> revoke_release_outcome(
    const Result<bool>& ours, const Result<void>& revoked,
    const std::function<LostReason()>& why_lost);

// A lease on etcd: keepalive to renew; release without min_hold ends it as `release_by` says;
// with min_hold, it moves the key to a lease of that length.
//
// Thread-safety: none needed; LeaseState serialises calls. Shares the store's client and spares
// (shared_ptr), so it may outlive the store.
class EtcdLease final : public BackendLease {
 public:
  // `key` holds the lock under etcd lease `lease` (of `ttl_s`), created at revision `token`;
  // `refreshed`: the start of the grant or keepalive the lease counts from.
  EtcdLease(std::shared_ptr<EtcdClient> client, std::shared_ptr<LeaseSpares> spares,
            ReleaseBy release_by, std::string key, long long lease, long long ttl_s,
            std::uint64_t token, BootTime refreshed)
      : client_(std::move(client)),
        spares_(std::move(spares)),
        release_by_(release_by),
        key_(std::move(key)),
        lease_(lease),
        ttl_s_(ttl_s),
        token_(token),
        refreshed_(refreshed) {}

  Result<std::optional<LostReason>> renew(BootTime) override;
  Result<std::optional<LostReason>> release(std::chrono::nanoseconds hold_for) override;

  // watch_fd() stays -1. The lease lives on the cluster with its ttl, not on a connection:
  // requests are plain HTTP through curl, whose connections come and go (idle ones are closed by
  // either side as a matter of course) and are not ours to poll, and a dropped one loses nothing.
  // What would end the lease early -- a revoke (`heartlock release --force`), another owner's key
  // -- shows only on a watch stream of the key, which costs a connection per lease; the next
  // keepalive finds it instead.

 private:
  Result<std::optional<LostReason>> renew_checked();
  Result<std::optional<LostReason>> release_checked(std::chrono::nanoseconds hold_for);
  // min_hold: moves the key to a new lease of `hold` (best effort), then revokes ours.
  Result<std::optional<LostReason>> release_holding(std::chrono::milliseconds hold);
  // Deletes the key if it is still ours and keeps our lease as a spare.
  Result<std::optional<LostReason>> release_key();
  // Checks that the key is still ours (a read), then revokes our lease, the key with it (one
  // write); the revoke is sent whatever the check found, unless the lease is known to be gone.
  Result<std::optional<LostReason>> release_revoking();
  // Whether the key is still ours: it exists at our create revision on our lease (a
  // linearizable read).
  Result<bool> key_is_ours();
  // Our lease is gone: did someone else take the key, or did it simply expire?
  LostReason why_lost();

  std::shared_ptr<EtcdClient> client_;
  std::shared_ptr<LeaseSpares> spares_;
  const ReleaseBy release_by_;
  const std::string key_;
  const long long lease_;
  const long long ttl_s_;
  const std::uint64_t token_;
  BootTime refreshed_;       // start of the last grant or keepalive that succeeded
  bool lease_gone_ = false;  // a keepalive found the lease gone (revoked or expired)
};

}  // namespace heartlock::detail

#endif  // HEARTLOCK_ETCD_ETCD_LEASE_H_
