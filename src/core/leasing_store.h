// LeasingStore: the work every backend shares. A backend derives from it and implements claim(),
// one try that takes the lock or reports the holder, and release_waiter(), how a waiter learns
// of a release; LeasingStore validates the request, makes the owner id, runs the one waiting loop
// of Store::acquire (deadline, stop token, when to look again), wraps the claim in a Lease and
// keeps it alive.
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
#include "release_waiter.h"

namespace heartlock::detail {

struct ClaimRequest {
  std::string_view name;        // validated
  const LeaseOptions& options;  // validated
  std::string owner;
  // The waiter of this acquire (made by release_waiter(), so of the backend's own type), armed
  // before this try; nullptr for try_acquire and for the plain first try of a waiting acquire
  // (LeasingStore::arm_before_first_try). A try may keep state in it for the next one.
  ReleaseWaiter* waiter = nullptr;
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
  using Store::acquire;
  using Store::break_lease;
  Result<Acquired> acquire(std::string_view name, const LeaseOptions& options,
                           std::chrono::milliseconds wait, std::stop_token stop) final;
  Result<LockInfo> inspect(std::string_view name) final;
  Result<void> break_lease(std::string_view name, std::uint64_t token) final;

 protected:
  explicit LeasingStore(StoreOptions options) : options_(std::move(options)) {}

  // One try, without waiting: takes the lock named request.name, or reports who holds it. Takes
  // over an expired or deadlocked holder.
  [[nodiscard]] virtual Result<Attempt> claim(const ClaimRequest& request) = 0;

  // How a waiter for `name` learns that it was released. Called at most once per waiting
  // acquire: before its first try if arm_before_first_try(), else only once a first, plain try
  // found the lock busy. Default: no notification, the waiter sleeps until next_look().
  [[nodiscard]] virtual std::unique_ptr<ReleaseWaiter> release_waiter(std::string_view name);

  // Whether a waiting acquire makes and arms its waiter before its first try. Default false: the
  // first try is a plain one, since a waiter can cost more than a try (a session and LISTEN, a
  // SUBSCRIBE connection) and the lock is usually free. A backend whose plain try, when busy,
  // disturbs the waiters already waiting says true.
  virtual bool arm_before_first_try() const { return false; }

  // inspect() and break_lease() after check_name(). REQUIRES: check_name(name) passed.
  [[nodiscard]] virtual Result<LockInfo> inspect_lock(std::string_view name) = 0;
  [[nodiscard]] virtual Result<void> break_lock(std::string_view name, std::uint64_t token) = 0;

  // Whether `name` may name a lock here: validate_name(), plus what the backend's key layout
  // reserves. Errc::invalid_argument.
  [[nodiscard]] virtual Result<void> check_name(std::string_view name) const {
    return validate_name(name);
  }

  void log(LogLevel level, std::string_view message) const;
  const LogSink& log_sink() const noexcept { return options_.log; }
  void stop_keepalive() { keepalive_.stop(); }

 private:
  // try_acquire and acquire; nullopt: try once.
  Result<Acquired> acquire_until(std::string_view name, const LeaseOptions& options,
                                 std::optional<BootTime> deadline, std::stop_token stop);
  // The waiting loop: one plain try (unless arm_before_first_try()); when busy, arm, try, and
  // wait for a release or next_look() until the deadline or a stop. Returns the last try's
  // answer.
  Result<Attempt> claim_waiting(ClaimRequest& request, BootTime deadline, std::stop_token stop);

  StoreOptions options_;
  Keepalive keepalive_;
};

}  // namespace heartlock::detail

#endif  // HEARTLOCK_CORE_LEASING_STORE_H_
