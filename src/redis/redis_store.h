// RedisStore: the Redis backend. One server (redis://, rediss:// for TLS), the master a set of
// Sentinels names (redis-sentinel://), or Redlock over several independent masters
// (redis://h1,h2,h3). Key layouts: layout.h.
//
// Redlock (N masters, quorum Q = N/2+1): acquire runs the acquire script on every node and
// holds the lock if at least Q granted it within its validity (ttl - elapsed - drift); otherwise
// it releases what it got. Renew and release go to every node, and a renewal counts only if Q
// nodes confirmed it. Fencing token: each node counts its own; the lease's token is the largest
// of the granting nodes' counters, written back (raise_fence) to them before the lease is handed
// out. Any later lease is granted by Q nodes of which at least one was also a granter of this one
// and had already counted past this token, so tokens strictly increase -- as long as no node
// loses its data (restart without an fsync'ed AOF) and no node's clock jumps forward to expire a
// lock early. Those are also the conditions of Redlock's mutual exclusion itself; a single node
// (with persistence) gives the stronger guarantee. docs/redis.md says the same for users.
#ifndef HEARTLOCK_REDIS_REDIS_STORE_H_
#define HEARTLOCK_REDIS_REDIS_STORE_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "../core/leasing_store.h"
#include "client.h"
#include "layout.h"
#include "redis_url.h"

namespace heartlock::detail {

// Errc::invalid_argument for a bad URL. Connects lazily: an unreachable server is reported by the
// first operation, as unavailable.
Result<std::unique_ptr<Store>> open_redis_store(std::string_view url, StoreOptions options);

// The state of a lock from its holder fields (a flat hash), the ms until it is free and the
// server's time.
LockInfo describe_redis(std::string_view name, const RedisReply& fields, long long free_in_ms,
                        long long now_ms, std::string location);

class RedisRenewBatch;
struct RedisVotes;

// The store over one URL's nodes. Files: acquire and inspect here (redis_store.cc), list and
// break (redis_admin.cc), schedule slots and the last slot (redis_slots.cc), the run ledger
// (redis_ledger.cc), holder records (redis_describe.cc); its leases in redis_lease.h, the Redlock
// quorum rules in redlock_quorum.h.
//
// Thread-safety: as Store (all methods may be called concurrently; each node serialises its own
// calls). Owns its nodes, IdleWatch and renew batch through shared_ptr, shared with its leases,
// which may outlive it.
class RedisStore final : public LeasingStore {
 public:
  RedisStore(RedisUrl url, StoreOptions options);
  ~RedisStore() override;

  Result<std::vector<LockInfo>> list() override;
  using LeasingStore::break_lease;
  Result<void> break_lease(const LockInfo& seen) override;
  // On Redlock a slot is won by the caller a majority of the nodes recorded first (with several
  // racing callers, possibly none: at most once).
  Result<SlotClaim> claim_slot(std::string_view job, std::chrono::sys_seconds slot,
                               std::chrono::seconds retention) override;
  // On Redlock the largest answer of at least a majority of the nodes.
  Result<std::optional<std::chrono::sys_seconds>> last_slot(std::string_view job) override;
  // On Redlock written to every node; done when a majority wrote it, else Errc::unavailable.
  Result<void> put_run_record(std::string_view job, std::chrono::sys_seconds slot,
                              std::string_view data, std::chrono::seconds retention) override;
  // On Redlock read from every node and merged (redis_ledger.cc); Errc::unavailable when fewer
  // than a majority answered.
  Result<std::vector<RunRecordText>> run_records(std::string_view job, std::size_t limit) override;
  std::string url() const override { return url_; }

 protected:
  Result<LockInfo> inspect_lock(std::string_view name) override;
  Result<void> break_lock(std::string_view name, std::uint64_t token) override;
  Result<Attempt> claim(const ClaimRequest& request) override;
  std::unique_ptr<ReleaseWaiter> release_waiter(std::string_view name) override;
  Result<void> check_name(std::string_view name) const override { return layout_.check_name(name); }

 private:
  // A held lease over `token`, acquired at `start`; `where` is location(request.name).
  Attempt granted_claim(const ClaimRequest& request, std::vector<std::string> keys,
                        std::uint64_t token, BootTime start, std::string where);
  // Redlock: holds the lock if a quorum granted it within its validity and took its fencing
  // token; otherwise gives back what was granted and answers busy or unavailable.
  Result<Attempt> settle_redlock(const ClaimRequest& request, const std::vector<std::string>& keys,
                                 const RedisVotes& votes, BootTime start);
  Result<LockInfo> inspect_node(RedisClient& node, std::string_view name);
  Result<void> run_break(std::string_view name, std::uint64_t token, const std::string& value);
  // One node's first `limit` ledger entries of `job` (empty: of every job), in index order.
  Result<std::vector<RunRecordText>> node_run_records(RedisClient& node, std::string_view job,
                                                      std::size_t limit);
  std::size_t quorum() const { return nodes_.size() / 2 + 1; }
  std::string location(std::string_view name) const { return url_ + " " + layout_.lock_key(name); }

  const std::string url_;  // redacted
  const RedisLayout layout_;
  const std::chrono::milliseconds timeout_;
  const std::shared_ptr<const IdleWatch> watch_;  // every node's idle connection; leases poll it
  RedisNodes nodes_;
  std::shared_ptr<RedisRenewBatch> batch_;
};

}  // namespace heartlock::detail

#endif  // HEARTLOCK_REDIS_REDIS_STORE_H_
