#include "lease_state.h"

#include <algorithm>
#include <thread>
#include <utility>

#include "io_deadline.h"

namespace heartlock::detail {

LeaseState::LeaseState(LeaseInit init)
    : name_(std::move(init.name)),
      owner_(std::move(init.owner)),
      location_(std::move(init.location)),
      token_(init.token),
      options_(std::move(init.options)),
      acquired_at_(init.acquired_at),
      interval_(renew_interval(options_)),
      log_(std::move(init.log)),
      last_heartbeat_(init.acquired_at.count()),
      renewed_until_((init.acquired_at + options_.ttl - lease_drift_margin(options_.ttl)).count()),
      published_heartbeat_(init.acquired_at.count()),
      backend_(std::move(init.backend)),
      last_renewed_(init.acquired_at) {
  watch_fd_.store(backend_ ? backend_->watch_fd() : -1, std::memory_order_release);
  check_by_ = backend_ ? backend_->check_by() : BootTime::max();
}

LeaseState::~LeaseState() = default;

std::optional<LostReason> LeaseState::lost_reason() const noexcept {
  int v = lost_.load(std::memory_order_acquire);
  if (v < 0) {
    return std::nullopt;
  }
  return static_cast<LostReason>(v);
}

void LeaseState::lose_locked(LostReason reason, std::string why) {
  if (lost_internal_ >= 0) {
    return;  // already lost; the first reason stands
  }
  lost_internal_ = static_cast<int>(reason);
  lost_internal_atomic_.store(true, std::memory_order_release);
  watch_fd_.store(-1, std::memory_order_release);  // nothing left to re-validate
  if (log_) {
    log_(LogLevel::warn, "lease " + name_ + " (token " + std::to_string(token_) +
                             ") lost: " + std::string(to_string(reason)) + ": " + why);
  }
  pending_callback_.emplace(reason, std::move(why));
}

void LeaseState::run_pending_callback() {
  std::optional<std::pair<LostReason, std::string>> pending;
  {
    std::lock_guard lock(mu_);
    pending.swap(pending_callback_);
    if (!pending) {
      return;
    }
    callback_running_ = true;
    callback_thread_ = std::this_thread::get_id();
  }
  if (options_.on_lost) {
    try {
      options_.on_lost(pending->first, pending->second);
    } catch (const std::exception& e) {
      if (log_) {
        log_(LogLevel::error, "on_lost callback of " + name_ + " threw: " + e.what());
      }
    } catch (...) {
      if (log_) {
        log_(LogLevel::error, "on_lost callback of " + name_ + " threw");
      }
    }
  }
  // Published after the callback: see lost_.
  lost_.store(static_cast<int>(pending->first), std::memory_order_release);
  stop_.request_stop();
  {
    std::lock_guard lock(mu_);
    callback_running_ = false;
  }
  renewed_.notify_all();
}

std::chrono::milliseconds notice_lead(std::chrono::milliseconds ttl) noexcept {
  return std::min(std::chrono::milliseconds(25), ttl / 100);
}

void LeaseState::confirm(BootTime sent, BootTime heartbeat) noexcept {
  // A renewal confirmed by the server holds from its send time: the server set the expiry when
  // it ran the request, which was no earlier than when we sent it.
  const auto until = (sent + options_.ttl - lease_drift_margin(options_.ttl)).count();
  if (until > renewed_until_.load(std::memory_order_relaxed)) {
    renewed_until_.store(until, std::memory_order_release);
  }
  if (heartbeat.count() > published_heartbeat_.load(std::memory_order_relaxed)) {
    published_heartbeat_.store(heartbeat.count(), std::memory_order_release);
  }
}

BootTime LeaseState::valid_until() const noexcept {
  if (lost_internal_atomic_.load(std::memory_order_acquire) || released()) {
    return BootTime(0);
  }
  BootTime until(renewed_until_.load(std::memory_order_acquire));
  if (options_.stale_after.count() > 0) {
    // A contender may call the holder deadlocked once the heartbeat it can see -- the one the
    // last confirmed renewal published, not a newer local one -- is stale_after old.
    until = std::min(until, BootTime(published_heartbeat_.load(std::memory_order_acquire)) +
                                options_.stale_after - lease_drift_margin(options_.stale_after));
  }
  if (options_.max_hold.count() > 0) {
    until = std::min(until, acquired_at_ + options_.max_hold);
  }
  return until;
}

LostReason LeaseState::deadline_reason(BootTime until) const noexcept {
  if (options_.max_hold.count() > 0 && until == acquired_at_ + options_.max_hold) {
    return LostReason::max_hold;
  }
  if (until < BootTime(renewed_until_.load(std::memory_order_acquire))) {
    return LostReason::deadlocked;
  }
  return LostReason::backend_lost;
}

std::optional<BootTime> LeaseState::enforce_deadline(BootTime now) {
  {
    std::lock_guard lock(mu_);
    if (lost_internal_ >= 0 || released()) {
      return std::nullopt;
    }
    const BootTime until = valid_until();
    const BootTime notice_at = until - notice_lead(options_.ttl);
    if (now < notice_at) {
      return notice_at;
    }
    const LostReason reason = deadline_reason(until);
    auto ms = [](BootTime d) {
      return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
    };
    std::string why = reason == LostReason::max_hold
                          ? "held for max_hold " + std::to_string(options_.max_hold.count()) + "ms"
                      : reason == LostReason::deadlocked
                          ? "the heartbeat contenders can see is older than stale_after " +
                                std::to_string(options_.stale_after.count()) + "ms"
                          : "no renewal confirmed for " + ms(now - last_renewed_) + "ms (ttl " +
                                std::to_string(options_.ttl.count()) +
                                "ms): the server may free the lock in " +
                                ms(std::max(BootTime(0), until - now)) + "ms";
    lose_locked(reason, std::move(why));
  }
  run_pending_callback();
  return std::nullopt;
}

std::optional<BootTime> LeaseState::next_due_locked(BootTime now) const {
  BootTime due = std::min(now + interval_, check_by_);
  if (options_.max_hold.count() > 0) {
    due = std::min(due, acquired_at_ + options_.max_hold);
  }
  if (options_.stale_after.count() > 0) {
    // Wake exactly when the heartbeat would become stale; a fresh heartbeat just moves it on.
    due = std::min(due, std::max(now, last_heartbeat() + options_.stale_after));
  }
  return due;
}

BootTime LeaseState::first_due() const { return *next_due_locked(acquired_at_); }

Result<void> LeaseState::apply_renewal_locked(BootTime now,
                                              const Result<std::optional<LostReason>>& r) {
  retry_ = !r;  // a failed attempt is retried at its own pace (after_renewal_locked)
  if (!r) {
    // Transient: the lease may still be valid on the backend until last_renewed_ + ttl. Give up
    // half a renew interval before that, so the holder stops before anyone else can start.
    if (now + interval_ / 2 >= last_renewed_ + options_.ttl) {
      lose_locked(LostReason::backend_lost, "could not renew within the ttl: " + r.error().message);
      return fail(Errc::lost, "lease " + name_ + " lost: " + r.error().message);
    }
    return std::unexpected(r.error());
  }
  if (r->has_value()) {
    lose_locked(**r, "another owner holds the lock now, or it is gone");
    return fail(Errc::lost, "lease " + name_ + " lost: " + std::string(to_string(**r)));
  }
  if (lost_internal_ >= 0) {
    // The deadline passed while the request was out: the lease was given up, and stays so.
    return fail(Errc::lost, "lease " + name_ + " lost while its renewal was in flight");
  }
  last_renewed_ = now;
  return {};
}

int LeaseState::dup_lock_fd() {
  std::unique_lock lock(mu_);
  begin_io(lock);
  const int fd = backend_ && lost_internal_ < 0 ? backend_->dup_lock_fd() : -1;
  end_io();
  return fd;
}

void LeaseState::begin_io(std::unique_lock<std::mutex>& lock) {
  renewed_.wait(lock, [this] { return !renewing_; });
  renewing_ = true;
}

void LeaseState::end_io() {
  renewing_ = false;
  renewed_.notify_all();
}

Result<void> LeaseState::renew_unlocked_io(std::unique_lock<std::mutex>& lock, BootTime now) {
  begin_io(lock);
  if (!backend_ || lost_internal_ >= 0) {
    end_io();
    return fail(Errc::lost, "lease " + name_ + " ended before its renewal");
  }
  BackendLease* backend = backend_.get();
  const BootTime heartbeat = last_heartbeat();
  const BootTime deadline = valid_until();
  lock.unlock();
  Result<std::optional<LostReason>> answer = [&] {
    ScopedIoDeadline bound(deadline);
    return backend->renew(heartbeat);
  }();
  lock.lock();
  if (answer && !answer->has_value()) {
    confirm(now, heartbeat);
  }
  Result<void> applied = apply_renewal_locked(now, answer);
  watch_fd_.store(lost_internal_ >= 0 ? -1 : backend->watch_fd(), std::memory_order_release);
  check_by_ = backend->check_by();
  end_io();
  return applied;
}

std::optional<BootTime> LeaseState::after_renewal_locked(BootTime now,
                                                         const Result<void>& renewed) const {
  if (renewed) {
    return next_due_locked(now);
  }
  if (lost_internal_ < 0) {
    return now + interval_ / 4;  // transient failure: retry sooner
  }
  return std::nullopt;
}

LeaseState::Plan LeaseState::plan_locked(BootTime now, bool force) {
  if (!backend_) {
    return {};
  }
  if (options_.max_hold.count() > 0 && now >= acquired_at_ + options_.max_hold &&
      (lost_internal_ < 0 || lost_internal_ == static_cast<int>(LostReason::max_hold))) {
    lose_locked(LostReason::max_hold,
                "held for max_hold " + std::to_string(options_.max_hold.count()) + "ms");
    // The failsafe ends the lease for everyone: release it (fenced) so others can take it.
    return {.end = true};
  }
  if (lost_internal_ >= 0) {
    return {};
  }
  if (options_.stale_after.count() > 0 && now - last_heartbeat() >= options_.stale_after) {
    // Deadlocked: stop renewing. The lease stays visible as deadlocked, so contenders may take
    // it over, and the holder is told now rather than after a takeover.
    lose_locked(LostReason::deadlocked,
                "no heartbeat for " +
                    std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                       now - last_heartbeat())
                                       .count()) +
                    "ms (stale_after " + std::to_string(options_.stale_after.count()) + "ms)");
    return {};
  }
  // Due after a renew interval; accepted from half of it, so the keepalive can renew leases that
  // fall due close together in one batch.
  if (force || retry_ || now - last_renewed_ >= interval_ / 2 || now >= check_by_) {
    return {.renew = true};
  }
  return {.next = std::max(*next_due_locked(last_renewed_), now)};
}

void LeaseState::end_after_max_hold() {
  std::unique_ptr<BackendLease> backend;
  {
    std::unique_lock lock(mu_);
    begin_io(lock);  // a renewal in flight still uses the backend lease
    backend = std::move(backend_);
    watch_fd_.store(-1, std::memory_order_release);
    end_io();
  }
  if (backend) {
    (void)backend->release(std::chrono::nanoseconds(0));
  }
}

std::optional<BootTime> LeaseState::tick(BootTime now, bool force) {
  std::optional<BootTime> next;
  bool end = false;
  {
    std::unique_lock lock(mu_);
    Plan plan = plan_locked(now, force);
    end = plan.end;
    next = plan.renew ? after_renewal_locked(now, renew_unlocked_io(lock, now)) : plan.next;
  }
  if (end) {
    end_after_max_hold();
  }
  run_pending_callback();
  return next;
}

RenewBatch* LeaseState::batch() {
  std::lock_guard lock(mu_);
  return backend_ ? backend_->batch() : nullptr;
}

std::vector<std::optional<BootTime>> LeaseState::tick_batch(
    const std::vector<std::shared_ptr<LeaseState>>& leases, RenewBatch& batch, BootTime now,
    bool force) {
  std::vector<std::optional<BootTime>> next(leases.size());
  std::vector<std::size_t> due;
  std::vector<BackendLease*> backends;
  std::vector<BootTime> heartbeats;
  std::vector<std::size_t> ended;
  std::vector<BootTime> deadlines;  // of the due leases, read while planning
  // Plan each lease under its own mutex; the round trip runs with none held (a process may hold
  // thousands of leases), the due ones marked as renewing so that release() waits for it.
  for (std::size_t i = 0; i < leases.size(); ++i) {
    LeaseState& lease = *leases[i];
    std::lock_guard lock(lease.mu_);
    Plan plan = lease.plan_locked(now, force);
    if (plan.end) {
      ended.push_back(i);
    } else if (!plan.renew) {
      next[i] = plan.next;
    } else if (lease.backend_->batch() != &batch || lease.renewing_) {
      next[i] = plan.renew ? std::optional<BootTime>(now + lease.interval_ / 4) : plan.next;
    } else {
      lease.renewing_ = true;
      deadlines.push_back(lease.valid_until());
      due.push_back(i);
      backends.push_back(lease.backend_.get());
      heartbeats.push_back(lease.last_heartbeat());
    }
  }
  if (!due.empty()) {
    // The round trip is bounded by the latest deadline among them: a lease that expires sooner
    // is told so by the timer meanwhile, and does not cut the others' round trip short.
    BootTime deadline(0);
    for (BootTime d : deadlines) {
      deadline = std::max(deadline, d);
    }
    auto results = [&] {
      ScopedIoDeadline bound(deadline);
      return batch.renew_all(backends, heartbeats);
    }();
    for (std::size_t k = 0; k < due.size(); ++k) {
      LeaseState& lease = *leases[due[k]];
      Result<std::optional<LostReason>> result =
          k < results.size() ? results[k]
                             : Result<std::optional<LostReason>>(
                                   fail(Errc::internal, "batch renewal lost a result"));
      {
        std::lock_guard lock(lease.mu_);
        if (result && !result->has_value()) {
          lease.confirm(now, heartbeats[k]);
        }
        next[due[k]] = lease.after_renewal_locked(now, lease.apply_renewal_locked(now, result));
        lease.watch_fd_.store(lease.lost_internal_ >= 0 ? -1 : backends[k]->watch_fd(),
                              std::memory_order_release);
        lease.check_by_ = backends[k]->check_by();
        lease.end_io();
      }
    }
  }
  for (std::size_t i : ended) {
    leases[i]->end_after_max_hold();
  }
  for (const auto& lease : leases) {
    lease->run_pending_callback();
  }
  return next;
}

Result<void> LeaseState::renew(BootTime now) {
  Result<void> r;
  {
    std::unique_lock lock(mu_);
    if (lost_internal_ >= 0) {
      return fail(Errc::lost, "lease " + name_ + " was lost: " +
                                  std::string(to_string(static_cast<LostReason>(lost_internal_))));
    }
    if (!backend_) {
      return fail(Errc::invalid_argument, "lease " + name_ + " was released");
    }
    r = renew_unlocked_io(lock, now);
  }
  run_pending_callback();
  return r;
}

Result<void> LeaseState::release(BootTime now) {
  Result<void> out;
  {
    std::unique_lock lock(mu_);
    begin_io(lock);
    released_.store(true, std::memory_order_release);
    std::unique_ptr<BackendLease> backend = std::move(backend_);
    watch_fd_.store(-1, std::memory_order_release);
    if (backend) {
      auto held = now - acquired_at_;
      auto hold_for =
          std::max(std::chrono::nanoseconds(0), std::chrono::nanoseconds(options_.min_hold) - held);
      // The release's I/O runs without mu_, so the deadline timer is never held up by it.
      lock.unlock();
      auto r = backend->release(hold_for);
      backend.reset();
      lock.lock();
      if (!r) {
        out = std::unexpected(r.error());
      } else if (r->has_value()) {
        lose_locked(**r, "found on release that the lease was no longer ours");
      }
    }
    if (out && lost_internal_ >= 0) {
      out = fail(Errc::lost, "lease " + name_ + " (token " + std::to_string(token_) +
                                 ") had been lost: " +
                                 std::string(to_string(static_cast<LostReason>(lost_internal_))));
    }
    end_io();
  }
  run_pending_callback();
  // Once release() returns, on_lost is not running on another thread (the deadline timer) and
  // will not run: what it uses may be freed.
  // (On the callback's own thread -- on_lost dropping its Lease -- there is nothing to wait for.)
  std::unique_lock lock(mu_);
  if (!(callback_running_ && callback_thread_ == std::this_thread::get_id())) {
    renewed_.wait(lock, [this] { return !callback_running_ && !pending_callback_; });
  }
  return out;
}

}  // namespace heartlock::detail
