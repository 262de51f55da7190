// LeasingStore: the work every backend shares. A backend derives from it and implements claim(),
// which takes the lock or reports the holder; LeasingStore validates the request, makes the owner
// id, wraps the claim in a Lease and keeps it alive.
#ifndef HEARTLOCK_CORE_LEASING_STORE_H_
#define HEARTLOCK_CORE_LEASING_STORE_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "heartlock/store.h"

#include "backend_lease.h"
#include "clock.h"
#include "keepalive.h"

namespace heartlock::detail {

struct ClaimRequest {
  std::string_view name;        // validated
  const LeaseOptions& options;  // validated
  std::string owner;
  // When to give up waiting; nullopt: try once. Backends wait for a release notification, not by
  // sleeping.
  std::optional<BootTime> deadline;
};

struct Claim {
  std::unique_ptr<BackendLease> lease;
  std::uint64_t token = 0;
  std::string location;
  BootTime acquired_at{};
};

// Either the lock (Claim) or busy (the holder).
using Attempt = std::variant<Claim, LockInfo>;

// Thread-safety: as Store. Derived classes must call stop_keepalive() first in their destructor
// if their leases use resources the derived class owns.
class LeasingStore : public Store {
 public:
  Result<Acquired> try_acquire(std::string_view name, const LeaseOptions& options) final;
  Result<Acquired> acquire(std::string_view name, const LeaseOptions& options,
                           std::chrono::milliseconds wait) final;

 protected:
  explicit LeasingStore(StoreOptions options) : options_(std::move(options)) {}

  // Takes the lock named request.name, or reports who holds it. Takes over an expired or
  // deadlocked holder. Waits until request.deadline when one is given.
  [[nodiscard]] virtual Result<Attempt> claim(const ClaimRequest& request) = 0;

  // Whether `name` may name a lock here: validate_name(), plus what the backend's key layout
  // reserves. Errc::invalid_argument.
  [[nodiscard]] virtual Result<void> check_name(std::string_view name) const {
    return validate_name(name);
  }

  void log(LogLevel level, std::string_view message) const;
  const LogSink& log_sink() const noexcept { return options_.log; }
  void stop_keepalive() { keepalive_.stop(); }

 private:
  Result<Acquired> acquire_until(std::string_view name, const LeaseOptions& options,
                                 std::optional<BootTime> deadline);

  StoreOptions options_;
  Keepalive keepalive_;
};

}  // namespace heartlock::detail

#endif  // HEARTLOCK_CORE_LEASING_STORE_H_
