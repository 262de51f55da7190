// BackendLease: what a backend keeps for one held lease. The core (LeaseState) decides when to
// renew and release; the backend only does it, fenced by this acquisition's owner.
#ifndef HEARTLOCK_CORE_BACKEND_LEASE_H_
#define HEARTLOCK_CORE_BACKEND_LEASE_H_

#include <chrono>
#include <optional>

#include "heartlock/error.h"
#include "heartlock/options.h"

#include "clock.h"

namespace heartlock::detail {

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
};

}  // namespace heartlock::detail

#endif  // HEARTLOCK_CORE_BACKEND_LEASE_H_
