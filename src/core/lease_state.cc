#include "lease_state.h"

#include <algorithm>
#include <utility>

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
      backend_(std::move(init.backend)),
      last_renewed_(init.acquired_at) {}

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
  }
  if (!pending) {
    return;
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
}

std::optional<BootTime> LeaseState::next_due_locked(BootTime now) const {
  BootTime due = now + interval_;
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
  last_renewed_ = now;
  return {};
}

Result<void> LeaseState::renew_locked(BootTime now) {
  return apply_renewal_locked(now, backend_->renew(last_heartbeat()));
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

LeaseState::Plan LeaseState::plan_locked(BootTime now) {
  if (!backend_ || lost_internal_ >= 0) {
    return {};
  }
  if (options_.max_hold.count() > 0 && now >= acquired_at_ + options_.max_hold) {
    lose_locked(LostReason::max_hold,
                "held for max_hold " + std::to_string(options_.max_hold.count()) + "ms");
    // The failsafe ends the lease for everyone: release it (fenced) so others can take it.
    (void)backend_->release(std::chrono::nanoseconds(0));
    backend_.reset();
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
  if (now - last_renewed_ >= interval_ / 2) {
    return {.renew = true};
  }
  return {.next = std::max(*next_due_locked(last_renewed_), now)};
}

std::optional<BootTime> LeaseState::tick(BootTime now) {
  std::optional<BootTime> next;
  {
    std::lock_guard lock(mu_);
    Plan plan = plan_locked(now);
    next = plan.renew ? after_renewal_locked(now, renew_locked(now)) : plan.next;
  }
  run_pending_callback();
  return next;
}

RenewBatch* LeaseState::batch() {
  std::lock_guard lock(mu_);
  return backend_ ? backend_->batch() : nullptr;
}

std::vector<std::optional<BootTime>> LeaseState::tick_batch(
    const std::vector<std::shared_ptr<LeaseState>>& leases, RenewBatch& batch, BootTime now) {
  std::vector<std::optional<BootTime>> next(leases.size());
  std::vector<std::size_t> due;
  std::vector<BackendLease*> backends;
  std::vector<BootTime> heartbeats;
  // Plan each lease under its own mutex; the round trip runs with none held (a process may hold
  // thousands of leases), the due ones marked as renewing so that release() waits for it.
  for (std::size_t i = 0; i < leases.size(); ++i) {
    LeaseState& lease = *leases[i];
    std::lock_guard lock(lease.mu_);
    Plan plan = lease.plan_locked(now);
    if (!plan.renew) {
      next[i] = plan.next;
    } else if (lease.backend_->batch() != &batch) {
      next[i] = lease.after_renewal_locked(now, lease.renew_locked(now));
    } else {
      lease.renewing_ = true;
      due.push_back(i);
      backends.push_back(lease.backend_.get());
      heartbeats.push_back(lease.last_heartbeat());
    }
  }
  if (!due.empty()) {
    auto results = batch.renew_all(backends, heartbeats);
    for (std::size_t k = 0; k < due.size(); ++k) {
      LeaseState& lease = *leases[due[k]];
      Result<std::optional<LostReason>> result =
          k < results.size() ? results[k]
                             : Result<std::optional<LostReason>>(
                                   fail(Errc::internal, "batch renewal lost a result"));
      {
        std::lock_guard lock(lease.mu_);
        next[due[k]] = lease.after_renewal_locked(now, lease.apply_renewal_locked(now, result));
        lease.renewing_ = false;
      }
      lease.renewed_.notify_all();
    }
  }
  for (const auto& lease : leases) {
    lease->run_pending_callback();
  }
  return next;
}

Result<void> LeaseState::renew(BootTime now) {
  Result<void> r;
  {
    std::lock_guard lock(mu_);
    if (lost_internal_ >= 0) {
      return fail(Errc::lost, "lease " + name_ + " was lost: " +
                                  std::string(to_string(static_cast<LostReason>(lost_internal_))));
    }
    if (!backend_) {
      return fail(Errc::invalid_argument, "lease " + name_ + " was released");
    }
    r = renew_locked(now);
  }
  run_pending_callback();
  return r;
}

Result<void> LeaseState::release(BootTime now) {
  Result<void> out;
  {
    std::unique_lock lock(mu_);
    renewed_.wait(lock, [this] { return !renewing_; });
    released_.store(true, std::memory_order_release);
    if (backend_) {
      auto held = now - acquired_at_;
      auto hold_for =
          std::max(std::chrono::nanoseconds(0), std::chrono::nanoseconds(options_.min_hold) - held);
      auto r = backend_->release(hold_for);
      backend_.reset();
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
  }
  run_pending_callback();
  return out;
}

}  // namespace heartlock::detail
