// EtcdStore: the etcd backend (etcd://, etcds:// for TLS), over the v3 JSON gateway.
//
// Keys, under the URL's prefix (default "heartlock/"):
//   <prefix>lock/<name>             the holder's record (JSON), attached to the holder's lease
//   <prefix>slot/<job>/<epoch, 12 digits>   who claimed that schedule slot ('/' and '%' in
//                                   <job> %-encoded)
//   <prefix>run/<job>/<inverted epoch>, <prefix>run-index/<inverted epoch>/<job>
//                                   the run ledger (etcd_ledger.cc)
// A lease is an etcd lease granted with the ttl (whole seconds; etcd's minimum is about 2 s) and
// kept alive while the job proves progress. Acquire is one transaction that puts the key with the
// lease only if the key does not exist (create_revision == 0); the fencing token is the key's
// create revision, which increases strictly across the whole cluster. Release revokes the lease,
// which deletes the key with it -- only ours, since the lease is. A holder that stops renewing
// (crashed, deadlocked, partitioned) loses its key when the lease expires, and learns it at its
// next keepalive. Waiters watch the key instead of polling.
//
// Round trips: a lease outlives the lock it was granted for. A release deletes the key (fenced by
// its create revision and lease) and keeps the still-young lease as a spare; the next acquire
// with the same ttl uses it, so acquire and release are one request each, like a bare Txn. A busy
// attempt keeps its lease the same way. Spares nobody takes expire by themselves (no key is
// attached) and are revoked when the store closes. A store opened short_lived (StoreOptions; the
// CLI's `run` and `cronlock`) keeps no spare on release: it checks that the key is still ours (a
// read) and revokes the lease, key and all, in one write, where a delete now and a revoke at close
// are two (EtcdLease, ReleaseBy::revoke).
#ifndef HEARTLOCK_ETCD_ETCD_STORE_H_
#define HEARTLOCK_ETCD_ETCD_STORE_H_

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string_view>

#include "../core/leasing_store.h"
#include "etcd_client.h"
#include "etcd_lease.h"

namespace heartlock::detail {

// Errc::invalid_argument for a bad URL; connects lazily.
Result<std::unique_ptr<Store>> open_etcd_store(std::string_view url, StoreOptions options);

// The store over one etcd cluster. Files: acquire here (etcd_store.cc), the holder's record and
// its lease's time to live (etcd_describe.cc), list and break (etcd_admin.cc), schedule slots
// and the last slot (etcd_slots.cc), the run ledger (etcd_ledger.cc); its leases and their spares
// in etcd_lease.h.
//
// Thread-safety: as Store (all methods may be called concurrently; the client serialises its
// calls). Owns its client and spares through shared_ptr, shared with its leases, which may
// outlive it.
class EtcdStore final : public LeasingStore {
 public:
  EtcdStore(EtcdUrl url, StoreOptions options);
  ~EtcdStore() override;

  Result<std::vector<LockInfo>> list() override;
  Result<SlotClaim> claim_slot(std::string_view job, std::chrono::sys_seconds slot,
                               std::chrono::seconds retention) override;
  Result<std::optional<std::chrono::sys_seconds>> last_slot(std::string_view job) override;
  // The run ledger; retention measured on this host's clock, as for slots.
  Result<void> put_run_record(std::string_view job, std::chrono::sys_seconds slot,
                              std::string_view data, std::chrono::seconds retention) override;
  Result<std::vector<RunRecordText>> run_records(std::string_view job, std::size_t limit) override;
  std::string url() const override { return client_->url().redacted(); }

 protected:
  Result<LockInfo> inspect_lock(std::string_view name) override;
  Result<void> break_lock(std::string_view name, std::uint64_t token) override;
  Result<Attempt> claim(const ClaimRequest& request) override;
  std::unique_ptr<ReleaseWaiter> release_waiter(std::string_view name) override;

 private:
  // The public methods run these inside guarded() (etcd_store.cc), which turns an exception from
  // nlohmann::json into Errc::unavailable; these check every field they read themselves.
  Result<LockInfo> inspect_checked(std::string_view name);
  Result<std::vector<LockInfo>> list_checked();
  Result<void> break_lease_checked(std::string_view name, std::uint64_t token);
  Result<SlotClaim> claim_slot_checked(std::string_view job, std::chrono::sys_seconds slot,
                                       std::chrono::seconds retention);
  Result<std::optional<std::chrono::sys_seconds>> last_slot_checked(std::string_view job);
  Result<void> put_run_record_checked(std::string_view job, std::chrono::sys_seconds slot,
                                      std::string_view data, std::chrono::seconds retention);
  Result<std::vector<RunRecordText>> run_records_checked(std::string_view job, std::size_t limit);
  // The directory of a job's ledger entries, and of the copies in every job's order.
  std::string run_dir(std::string_view job) const;
  std::string run_index_dir() const;
  // The attempt, and the revision to watch from when busy.
  Result<std::pair<Attempt, long long>> try_once(const ClaimRequest& request);
  // The etcd lease for an attempt of `ttl_s` (the lease's `ttl` rounded up): a young spare
  // (`spare` true) or a new grant; `start`: when its ttl counts from. Revokes the spares gone
  // stale first.
  Result<long long> lease_for(std::chrono::milliseconds ttl, long long ttl_s, BootTime& start,
                              bool& spare);
  // Logs, once per store, that etcd granted `granted_s` where `ttl` was asked for.
  void warn_raised_ttl(std::chrono::milliseconds ttl, long long granted_s);
  // try_once()'s answer from the reply `r` to its transaction on `lease`.
  Result<std::pair<Attempt, long long>> claimed(const ClaimRequest& request,
                                                const nlohmann::json& r, long long lease,
                                                long long ttl_s, BootTime start);
  // The lock's state from its key-value (nullptr: no key). Errc::unavailable for a key-value or
  // record of the wrong shape.
  Result<LockInfo> describe(std::string_view name, const nlohmann::json* kv);
  std::string lock_key(std::string_view name) const {
    return prefix_ + "lock/" + std::string(name);
  }
  std::string location(std::string_view name) const { return url() + " " + lock_key(name); }

  const ReleaseBy release_by_;  // from StoreOptions::short_lived
  const std::string prefix_;
  std::shared_ptr<EtcdClient> client_;
  std::shared_ptr<LeaseSpares> spares_;
  std::atomic<bool> warned_raised_ttl_{false};
};

}  // namespace heartlock::detail

#endif  // HEARTLOCK_ETCD_ETCD_STORE_H_
