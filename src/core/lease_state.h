// LeaseState: the shared state behind a Lease, and the keepalive decisions (renew, deadlock,
// max_hold, backend loss). All time comes in as an argument so tests can drive it.
#ifndef HEARTLOCK_CORE_LEASE_STATE_H_
#define HEARTLOCK_CORE_LEASE_STATE_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>

#include "heartlock/error.h"
#include "heartlock/options.h"

#include "backend_lease.h"
#include "clock.h"

namespace heartlock::detail {

struct LeaseInit {
  std::string name;
  std::string owner;
  std::string location;
  std::uint64_t token = 0;
  LeaseOptions options;
  BootTime acquired_at{};
  std::unique_ptr<BackendLease> backend;
  LogSink log;
};

// Thread-safety: all methods are safe to call concurrently. Owned by shared_ptr: the Lease and the
// keepalive thread (which holds it only while ticking).
class LeaseState {
 public:
  explicit LeaseState(LeaseInit init);
  ~LeaseState();
  LeaseState(const LeaseState&) = delete;
  LeaseState& operator=(const LeaseState&) = delete;

  const std::string& name() const noexcept { return name_; }
  const std::string& owner() const noexcept { return owner_; }
  const std::string& location() const noexcept { return location_; }
  std::uint64_t token() const noexcept { return token_; }
  const LeaseOptions& options() const noexcept { return options_; }

  void heartbeat(BootTime now) noexcept {
    last_heartbeat_.store(now.count(), std::memory_order_relaxed);
  }
  BootTime last_heartbeat() const noexcept {
    return BootTime(last_heartbeat_.load(std::memory_order_relaxed));
  }

  // Keepalive step at `now`: enforces max_hold and stale_after, renews when due. Returns when it
  // wants to run next, or nullopt once the lease is released or lost.
  std::optional<BootTime> tick(BootTime now);

  // The batch this lease renews with (see RenewBatch), or nullptr.
  RenewBatch* batch();

  // tick() for several leases sharing `batch`: one renew_all() call for all that are due.
  // Returns each lease's next due time, in order.
  static std::vector<std::optional<BootTime>> tick_batch(
      const std::vector<std::shared_ptr<LeaseState>>& leases, RenewBatch& batch, BootTime now);

  // When the keepalive should first tick: the first renewal, or an earlier max_hold or
  // stale_after deadline.
  BootTime first_due() const;

  // Renews now (Lease::renew). Errc::lost once lost, Errc::unavailable on a transient failure.
  [[nodiscard]] Result<void> renew(BootTime now);

  // Releases (Lease::release); see the contract there.
  [[nodiscard]] Result<void> release(BootTime now);

  bool released() const noexcept { return released_.load(std::memory_order_acquire); }
  std::optional<LostReason> lost_reason() const noexcept;
  std::stop_token stop_token() const noexcept { return stop_.get_token(); }

 private:
  // Call with mu_ held. Records the loss once; the callback runs after mu_ is dropped.
  void lose_locked(LostReason reason, std::string why);
  void run_pending_callback();
  std::optional<BootTime> next_due_locked(BootTime now) const;
  // Phase one of a tick, mu_ held: enforces max_hold and stale_after. Returns whether a renewal is
  // due now, and otherwise when to look again (nullopt: finished).
  struct Plan {
    bool renew = false;
    std::optional<BootTime> next;
  };
  Plan plan_locked(BootTime now);
  // Applies what the backend answered to a renewal; mu_ held. The error for a transient failure.
  Result<void> apply_renewal_locked(BootTime now, const Result<std::optional<LostReason>>& r);
  // After a renewal: when to look again.
  std::optional<BootTime> after_renewal_locked(BootTime now, const Result<void>& renewed) const;
  // Renews once; mu_ held. Returns the error for a transient failure.
  Result<void> renew_locked(BootTime now);

  const std::string name_;
  const std::string owner_;
  const std::string location_;
  const std::uint64_t token_;
  const LeaseOptions options_;
  const BootTime acquired_at_;
  const BootTime interval_;
  const LogSink log_;

  std::atomic<std::int64_t> last_heartbeat_;
  // The loss as the world sees it (lost(), lost_reason()): published only after on_lost has
  // returned, so whoever sees it knows the callback is done. A LostReason, or -1.
  std::atomic<int> lost_{-1};
  std::atomic<bool> released_{false};
  std::stop_source stop_;

  std::mutex mu_;
  // A batched renewal of this lease is in flight without mu_ held (tick_batch): release() waits
  // for it, so the backend lease it uses stays alive.
  bool renewing_ = false;
  std::condition_variable renewed_;
  std::unique_ptr<BackendLease> backend_;  // reset once the backend lease has ended
  BootTime last_renewed_;
  int lost_internal_ = -1;  // set at once when lost; what renew/tick/release decide on
  std::optional<std::pair<LostReason, std::string>> pending_callback_;
};

}  // namespace heartlock::detail

#endif  // HEARTLOCK_CORE_LEASE_STATE_H_
