// PgLeaseStore: the lease mode of the PostgreSQL backend (see pg_store.h, lease_sql.h).
#ifndef HEARTLOCK_POSTGRES_PG_LEASE_STORE_H_
#define HEARTLOCK_POSTGRES_PG_LEASE_STORE_H_

#include <functional>
#include <memory>
#include <optional>

#include "../core/leasing_store.h"
#include "lease_sql.h"
#include "pg_client.h"

namespace heartlock::detail {

class PgLedger;

class PgRenewBatch;

// The state of a lock from one row of LeaseSql::inspect's columns.
LockInfo describe_pg_row(const PgRow& row, std::string location);

// Creates the lease and slots tables unless they exist (tolerating a concurrent creator).
Result<void> create_lease_tables(const LeaseSql& sql, const PgUrl& url, PgConnection& c);

// Store::acquire's release notification in both modes: LISTEN on `channel` on a connection of
// its own, woken by the NOTIFY of a release. `client` must outlive it.
std::unique_ptr<ReleaseWaiter> pg_release_waiter(PgClient& client, std::string channel);

// Store::claim_slot on the slots table (both modes).
Result<SlotClaim> claim_pg_slot(PgClient& client, const LeaseSql& sql, std::string_view job,
                                std::chrono::sys_seconds slot, std::chrono::seconds retention);
// Store::last_slot on the slots table (both modes).
Result<std::optional<std::chrono::sys_seconds>> last_pg_slot(PgClient& client, const LeaseSql& sql,
                                                             std::string_view job);

// The store in lease mode: one row per lock name, on one client connection shared with its leases.
// Thread-safety: as Store (all methods may be called concurrently; the client serialises its
// statements). Owns its client, statements and renew batch through shared_ptr, shared with its
// leases, which may outlive it.
class PgLeaseStore final : public LeasingStore {
 public:
  PgLeaseStore(PgUrl url, StoreOptions options);
  ~PgLeaseStore() override;

  Result<std::vector<LockInfo>> list() override;
  Result<SlotClaim> claim_slot(std::string_view job, std::chrono::sys_seconds slot,
                               std::chrono::seconds retention) override;
  Result<std::optional<std::chrono::sys_seconds>> last_slot(std::string_view job) override;
  // The run ledger (pg_ledger.h).
  Result<void> put_run_record(std::string_view job, std::chrono::sys_seconds slot,
                              std::string_view data, std::chrono::seconds retention) override;
  Result<std::vector<RunRecordText>> run_records(std::string_view job, std::size_t limit) override;
  std::string url() const override { return client_->url().redacted; }

 protected:
  Result<LockInfo> inspect_lock(std::string_view name) override;
  Result<void> break_lock(std::string_view name, std::uint64_t token) override;
  Result<Attempt> claim(const ClaimRequest& request) override;
  std::unique_ptr<ReleaseWaiter> release_waiter(std::string_view name) override;

 private:
  std::string location(std::string_view name) const;

  std::shared_ptr<const LeaseSql> sql_;
  std::shared_ptr<PgClient> client_;
  std::string location_head_;  // location() without the name
  std::unique_ptr<PgLedger> ledger_;
  std::shared_ptr<PgRenewBatch> batch_;
};

}  // namespace heartlock::detail

#endif  // HEARTLOCK_POSTGRES_PG_LEASE_STORE_H_
