// AdvisoryLease: a lease of the PostgreSQL backend's advisory mode (pg_advisory_store.h).
#ifndef HEARTLOCK_POSTGRES_ADVISORY_LEASE_H_
#define HEARTLOCK_POSTGRES_ADVISORY_LEASE_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "../core/backend_lease.h"
#include "advisory_sql.h"
#include "pg_client.h"
#include "pg_connection.h"
#include "session_pool.h"

namespace heartlock::detail {

// A lease: the advisory lock held by a session pinned for the lease's life.
//
// Thread-safety: LeaseState serialises renew() and release(); they also take mu_, and
// watch_fd() may be read from any thread (atomic). Owns its session until it is released (back
// to the pool) or lost (closed); shares the store's client, pool and statements (shared_ptr), so
// it may outlive the store.
class AdvisoryLease final : public BackendLease {
 public:
  AdvisoryLease(std::shared_ptr<PgClient> client, std::shared_ptr<SessionPool> pool,
                std::shared_ptr<const AdvisorySql> sql, std::unique_ptr<PgConnection> session,
                std::string name, std::string owner, std::chrono::milliseconds ttl);

  // Also what the keepalive calls when watch_fd() turns readable: exec() first reads what arrived
  // on the idle session -- a notice, or the server's goodbye and EOF after pg_terminate_backend or
  // a shutdown -- and a session found gone answers "lost" here, before anything is sent.
  Result<std::optional<LostReason>> renew(BootTime last_heartbeat) override;

  Result<std::optional<LostReason>> release(std::chrono::nanoseconds hold_for) override;

  // The pinned session's socket: the lock lives exactly as long as the session, and the server
  // says at once when it ends one (pg_terminate_backend by a contender or an admin, a shutdown):
  // an error message and EOF arrive on the idle socket, and renew() then finds the lease lost
  // without waiting for the renew interval. -1 once the session has left this lease (lost or
  // released). Atomic: read by the keepalive while a renewal on another thread may drop it.
  int watch_fd() const override { return watch_fd_.load(std::memory_order_relaxed); }

 private:
  // Why a session that no longer holds the lock lost it: taken from us if the record is no longer
  // ours, else the session simply ended (an admin, a restart).
  LostReason why_gone();
  // The lease's session has ended and the holder has stopped (it releases): frees the record if
  // it is still ours, so that contenders need not wait for the lease to run out (they would: a
  // holder whose session ended may still be working, see AdvisorySql::claim). Best effort, and
  // brief: the server may be out of reach (a partition), and past a ttl the record has run out
  // anyway.
  void release_record(std::chrono::milliseconds hold);
  static constexpr std::chrono::milliseconds kReleaseRecordBound{2000};
  // Whether the record names another owner, or none: the session is found gone at once (watch_fd),
  // often before a new holder has recorded itself, and a record freed under us was freed by
  // break_lease (`release --force`), which hands the lock to the next acquirer -- as the renewal
  // statement, which matches no row then, says too.
  bool record_taken();

  std::mutex mu_;
  std::shared_ptr<PgClient> client_;
  std::shared_ptr<SessionPool> pool_;
  std::shared_ptr<const AdvisorySql> sql_;
  std::unique_ptr<PgConnection> session_;  // guarded by mu_
  std::atomic<int> watch_fd_;              // session_'s socket while it is this lease's, else -1
  const int backend_pid_;
  const std::string name_;
  const std::string owner_;
  const std::chrono::milliseconds ttl_;
  const std::int64_t key_;
  const std::pair<std::string, std::string> ids_;
};

}  // namespace heartlock::detail

#endif  // HEARTLOCK_POSTGRES_ADVISORY_LEASE_H_
