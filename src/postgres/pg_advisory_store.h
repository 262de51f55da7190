// PgAdvisoryStore: the advisory mode of the PostgreSQL backend (?mode=advisory).
//
// A lease is a session-level pg_try_advisory_lock(key) on a connection pinned for the lease's
// whole life: the lock lives exactly as long as that session. key = the first 8 bytes of
// SHA-256(name), read as a big-endian signed 64-bit integer; in SQL:
//   ('x' || left(encode(sha256(convert_to(name, 'UTF8')), 'hex'), 16))::bit(64)::bigint
// Beside it a row in the table (same columns as lease mode, default heartlock_advisory) records
// the name, owner, token, heartbeats and the holder's backend pid, so `status` can show it and
// tokens strictly increase per name.
//
// Sessions that released their lock cleanly are kept (a few) for the next acquire.
// Renewal checks the session at the renew interval: the same backend pid (a transaction-pooling
// proxy such as pgbouncer in pool_mode=transaction would switch it; acquire refuses one up front)
// still holding the lock. A lost session = a lost lease, reported at once. A holder that stops
// renewing past its ttl, or heartbeating past stale_after, is taken over by terminating its
// session (pg_terminate_backend; allowed for the same role).
//
// The advisory lock alone does not make a holder: the server frees it the moment a session ends,
// before its holder may know (the goodbye takes a few ms; a partitioned holder learns only at its
// deadline). Acquire takes the lock and records the new holder in one statement, and only if the
// record is free or its lease has run out by the database's clock (ttl, and stale_after for the
// heartbeat), as in lease mode; otherwise it gives the lock back and answers busy.
#ifndef HEARTLOCK_POSTGRES_PG_ADVISORY_STORE_H_
#define HEARTLOCK_POSTGRES_PG_ADVISORY_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>

#include "../core/leasing_store.h"
#include "lease_sql.h"
#include "pg_client.h"

namespace heartlock::detail {

class PgLedger;

// The advisory lock key of a name (see above).
std::int64_t advisory_key(std::string_view name);

struct AdvisorySql;
class SessionPool;

// The store in advisory mode. Files: acquire, inspect, list and break here; the statements in
// advisory_sql.h, the spare sessions in session_pool.h, its leases in advisory_lease.h.
//
// Thread-safety: as Store (all methods may be called concurrently; the client serialises its
// statements, each lease owns its session). Owns its client, pool and statements through
// shared_ptr, shared with its leases, which may outlive it.
class PgAdvisoryStore final : public LeasingStore {
 public:
  PgAdvisoryStore(PgUrl url, StoreOptions options);
  ~PgAdvisoryStore() override;

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
  // The claim statement on `session`; `sent`: when it was sent.
  Result<std::vector<PgRow>> run_claim(PgConnection& session, const std::vector<PgValue>& params,
                                       BootTime& sent);
  // Ends the session of a holder that stopped renewing or heartbeating, and waits (briefly) for
  // its lock to go; false if there was none to end.
  bool take_over(const std::string& name, const std::pair<std::string, std::string>& ids);

  std::shared_ptr<const LeaseSql> sql_;
  std::shared_ptr<const AdvisorySql> advisory_;
  std::shared_ptr<PgClient> client_;
  std::unique_ptr<PgLedger> ledger_;
  std::shared_ptr<SessionPool> pool_;
};

}  // namespace heartlock::detail

#endif  // HEARTLOCK_POSTGRES_PG_ADVISORY_STORE_H_
