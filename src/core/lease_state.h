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
#include <thread>

#include "heartlock/error.h"
#include "heartlock/options.h"

#include "backend_lease.h"
#include "clock.h"

namespace heartlock::detail {

// How long before valid_until() the deadline timer declares the loss, so that the notice is not
// late by the timer thread's own scheduling delay: min(25 ms, ttl / 100).
std::chrono::milliseconds notice_lead(std::chrono::milliseconds ttl) noexcept;

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
  // wants to run next, or nullopt once the lease is released or lost. The renewal's I/O runs
  // without the lease's mutex held and bounded by valid_until() (ScopedIoDeadline).
  // `force`: renew now even if not yet due (a watch fd fired: re-validate at once).
  std::optional<BootTime> tick(BootTime now, bool force = false);

  // Until when the lease is certainly ours (Lease::valid_until): the earliest of the renewal
  // deadline, the published heartbeat + stale_after - margin, and max_hold. BootTime(0) once lost
  // or released. Lock-free.
  BootTime valid_until() const noexcept;

  // The timer's step: if valid_until() - notice_lead() has passed at `now`, the lease is lost now
  // (backend_lost; deadlocked or max_hold when that is the bound that passed) and on_lost runs on
  // the calling thread. Never does I/O and never waits for a renewal in flight. Returns when to
  // look again (the current valid_until() - notice_lead()), or nullopt once lost or released.
  std::optional<BootTime> enforce_deadline(BootTime now);

  // The backend's watch fd (BackendLease::watch_fd) as of the last acquire/renew, or -1.
  int watch_fd() const noexcept { return watch_fd_.load(std::memory_order_acquire); }
  // See Lease::dup_lock_fd. Serialised with renewals (which may move the backend's own fd).
  int dup_lock_fd();

  // The batch this lease renews with (see RenewBatch), or nullptr.
  RenewBatch* batch();

  // tick() for several leases sharing `batch`: one renew_all() call for all that are due.
  // Returns each lease's next due time, in order.
  static std::vector<std::optional<BootTime>> tick_batch(
      const std::vector<std::shared_ptr<LeaseState>>& leases, RenewBatch& batch, BootTime now,
      bool force = false);

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
  // Releases the backend lease after max_hold, waiting for a renewal in flight; no mu_ held.
  void end_after_max_hold();
  std::optional<BootTime> next_due_locked(BootTime now) const;
  // Phase one of a tick, mu_ held: enforces max_hold and stale_after. Returns whether a renewal is
  // due now, and otherwise when to look again (nullopt: finished).
  struct Plan {
    bool renew = false;
    bool end = false;  // max_hold passed: release the backend lease (end_after_max_hold)
    std::optional<BootTime> next;
  };
  Plan plan_locked(BootTime now, bool force = false);
  // Applies what the backend answered to a renewal; mu_ held. The error for a transient failure.
  Result<void> apply_renewal_locked(BootTime now, const Result<std::optional<LostReason>>& r);
  // After a renewal: when to look again.
  std::optional<BootTime> after_renewal_locked(BootTime now, const Result<void>& renewed) const;
  // Renews once: marks the renewal in flight, drops `lock` for the backend's I/O (bounded by
  // valid_until()), takes it again and applies the answer. Returns the error for a transient
  // failure.
  Result<void> renew_unlocked_io(std::unique_lock<std::mutex>& lock, BootTime now);
  // Waits until no renewal or release is in flight, then marks one; `lock` holds mu_.
  void begin_io(std::unique_lock<std::mutex>& lock);
  void end_io();
  // Records a confirmed renewal sent at `sent`, publishing `heartbeat`.
  void confirm(BootTime sent, BootTime heartbeat) noexcept;
  // Which bound of valid_until() (`until`) is the earliest: the reason to report when it passes.
  LostReason deadline_reason(BootTime until) const noexcept;

  const std::string name_;
  const std::string owner_;
  const std::string location_;
  const std::uint64_t token_;
  const LeaseOptions options_;
  const BootTime acquired_at_;
  const BootTime interval_;
  const LogSink log_;

  std::atomic<std::int64_t> last_heartbeat_;
  // Bounds of valid_until(), as BootTime counts: the send time of the last confirmed renewal +
  // ttl - margin, and the heartbeat that renewal published. Only ever move forward.
  std::atomic<std::int64_t> renewed_until_;
  std::atomic<std::int64_t> published_heartbeat_;
  std::atomic<int> watch_fd_{-1};
  // The loss as the world sees it (lost(), lost_reason()): published only after on_lost has
  // returned, so whoever sees it knows the callback is done. A LostReason, or -1.
  std::atomic<int> lost_{-1};
  std::atomic<bool> released_{false};
  std::stop_source stop_;

  std::mutex mu_;
  // A renewal or release of this lease is in flight without mu_ held: release() and renew() wait
  // for it, so the backend lease it uses stays alive and calls on it stay serialised.
  bool renewing_ = false;
  std::condition_variable renewed_;
  std::unique_ptr<BackendLease> backend_;  // reset once the backend lease has ended
  BootTime check_by_ = BootTime::max();    // backend_->check_by() as of the last acquire/renew
  bool retry_ = false;      // the last renewal attempt failed transiently: the next tick retries
  BootTime last_renewed_;   // send time of the last confirmed renewal (or the acquisition)
  int lost_internal_ = -1;  // set at once when lost; what renew/tick/release decide on
  std::atomic<bool> lost_internal_atomic_{false};  // lost_internal_ >= 0, for lock-free readers
  std::optional<std::pair<LostReason, std::string>> pending_callback_;
  bool callback_running_ = false;  // on_lost is running on some thread (renewed_ tells its end)
  std::thread::id callback_thread_;
};

}  // namespace heartlock::detail

#endif  // HEARTLOCK_CORE_LEASE_STATE_H_
