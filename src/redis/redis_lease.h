// RedisLease and RedisRenewBatch: a lease held on Redis (one server, or a Redlock's majority) and
// the batch that renews all due leases of a store in one pipelined round trip per node.
#ifndef HEARTLOCK_REDIS_REDIS_LEASE_H_
#define HEARTLOCK_REDIS_REDIS_LEASE_H_

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../core/backend_lease.h"
#include "client.h"
#include "scripts.h"

namespace heartlock::detail {

// Renews all due leases of a store with one pipelined write of EVALSHA renew calls per node: one
// round trip per keepalive tick (per Redlock node) however many leases the process holds.
//
// Thread-safety: as RenewBatch (one keepalive worker at a time); the nodes serialise their own
// calls. Owned by shared_ptr: the store and each of its leases. `scripts`
// (the store's layout's) are static and outlive it.
class RedisRenewBatch final : public RenewBatch {
 public:
  RedisRenewBatch(RedisNodes nodes, const RedisScripts& scripts, std::size_t quorum)
      : nodes_(std::move(nodes)), scripts_(scripts), quorum_(quorum) {}
  // `leases` are RedisLeases of this batch's store.
  std::vector<Result<std::optional<LostReason>>> renew_all(
      const std::vector<BackendLease*>& leases,
      const std::vector<BootTime>& last_heartbeats) override;

 private:
  RedisNodes nodes_;
  const RedisScripts& scripts_;
  std::size_t quorum_;
};

// A lease on Redis: renew and release run owner-fenced scripts on every node, and count as done
// when a quorum of them confirms (quorum_fate()).
//
// Thread-safety: none needed; LeaseState serialises calls. Shares the store's nodes, renew batch
// and IdleWatch (shared_ptr), so it may outlive the store; `scripts` are static.
class RedisLease final : public BackendLease {
 public:
  RedisLease(RedisNodes nodes, std::shared_ptr<RedisRenewBatch> batch,
             std::shared_ptr<const IdleWatch> watch, const RedisScripts& scripts,
             std::vector<std::string> keys, std::string owner, std::chrono::milliseconds ttl,
             std::size_t quorum)
      : nodes_(std::move(nodes)),
        batch_(std::move(batch)),
        watch_(std::move(watch)),
        scripts_(scripts),
        keys_(std::move(keys)),
        owner_(std::move(owner)),
        ttl_(ttl),
        quorum_(quorum) {}

  Result<std::optional<LostReason>> renew(BootTime last_heartbeat) override;
  Result<std::optional<LostReason>> release(std::chrono::nanoseconds hold_for) override;
  RenewBatch* batch() override { return batch_.get(); }

  // The store's IdleWatch: readable when a node closed the connection this lease is renewed on
  // (a restart without persistence has forgotten the lease; a renewal on a new connection finds
  // out) or sent something unasked. Constant and open while this lease holds it; its own
  // descriptor, so reading it races with nothing.
  int watch_fd() const override { return watch_ ? watch_->fd() : -1; }

  // The script's KEYS and ARGV for a renewal (RedisRenewBatch pipelines them).
  const std::vector<std::string>& keys() const { return keys_; }
  std::vector<std::string> renew_args(BootTime last_heartbeat) const;

 private:
  RedisNodes nodes_;
  std::shared_ptr<RedisRenewBatch> batch_;
  std::shared_ptr<const IdleWatch> watch_;
  const RedisScripts& scripts_;
  std::vector<std::string> keys_;
  std::string owner_;
  std::chrono::milliseconds ttl_;
  std::size_t quorum_;
};

}  // namespace heartlock::detail

#endif  // HEARTLOCK_REDIS_REDIS_LEASE_H_
