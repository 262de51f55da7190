// BackendLease: what a backend keeps for one held lease. The core (LeaseState) decides when to
// renew and release; the backend only does it, fenced by this acquisition's owner.
#ifndef HEARTLOCK_CORE_BACKEND_LEASE_H_
#define HEARTLOCK_CORE_BACKEND_LEASE_H_

#include <chrono>
#include <optional>
#include <vector>

#include "heartlock/error.h"
#include "heartlock/options.h"

#include "clock.h"

namespace heartlock::detail {

class BackendLease;

// Renews many leases of one backend in one round trip (Redis: one pipelined write). The keepalive
// groups due leases by the batch they name and hands each group over at once.
// Thread-safety: called from one keepalive worker at a time (never concurrently for one batch),
// with no LeaseState mutex held; the leases it is given stay alive and are not renewed or
// released by anyone else meanwhile.
class RenewBatch {
 public:
  virtual ~RenewBatch() = default;
  // One result per lease, in order, each as BackendLease::renew would answer.
  virtual std::vector<Result<std::optional<LostReason>>> renew_all(
      const std::vector<BackendLease*>& leases, const std::vector<BootTime>& last_heartbeats) = 0;
};

// Thread-safety: LeaseState serialises every call; implementations need no locking of their own.
class BackendLease {
 public:
  virtual ~BackendLease() = default;

  // Extends the lease by its ttl and publishes `last_heartbeat` where contenders can see it.
  // Returns nullopt when renewed, a LostReason when the lease is provably gone (fenced off), or
  // an Error (usually Errc::unavailable) when the backend could not tell.
  [[nodiscard]] virtual Result<std::optional<LostReason>> renew(BootTime last_heartbeat) = 0;

  // Ends the lease if it is still this owner's, leaving the name blocked for `hold_for` more
  // (min_hold). Never touches a newer owner's lease. Returns a LostReason if it was no longer
  // ours, nullopt if released.
  [[nodiscard]] virtual Result<std::optional<LostReason>> release(
      std::chrono::nanoseconds hold_for) = 0;

  // The batch this lease can be renewed with, or nullptr (renewed alone). Must outlive the lease.
  virtual RenewBatch* batch() { return nullptr; }

  // A file descriptor that becomes readable when the lease must be checked at once rather than at
  // its next renewal: the server closed the lease's connection, the lock file was renamed or
  // unlinked. The keepalive polls it (never reads it) and then calls renew() promptly, which must
  // consume the event and answer whether the lease still holds. -1: nothing to watch. The fd
  // must stay open as long as the BackendLease lives; it may change after a renew().
  virtual int watch_fd() const { return -1; }

  // When this lease must be renewed next at the latest, whatever its schedule says: the keepalive
  // renews it then (the file backend starts its watch in the first renew() from kArmDelay on).
  // BootTime::max(): only the schedule counts. Read after construction and after each renew().
  virtual BootTime check_by() const { return BootTime::max(); }

  // A new close-on-exec descriptor on the open file whose kernel lock is the lease (file
  // backend), or -1 (Errno-style failures also give -1). See Lease::dup_lock_fd.
  virtual int dup_lock_fd() const { return -1; }
};

}  // namespace heartlock::detail

#endif  // HEARTLOCK_CORE_BACKEND_LEASE_H_
