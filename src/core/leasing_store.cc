#include "leasing_store.h"

#include "lease_state.h"
#include "process_identity.h"

namespace heartlock::detail {

void LeasingStore::log(LogLevel level, std::string_view message) const {
  if (options_.log) {
    options_.log(level, message);
  }
}

std::unique_ptr<ReleaseWaiter> LeasingStore::release_waiter(std::string_view /*name*/) {
  return std::make_unique<SleepingWaiter>();
}

Result<Acquired> LeasingStore::try_acquire(std::string_view name, const LeaseOptions& options) {
  return acquire_until(name, options, std::nullopt, std::stop_token());
}

Result<Acquired> LeasingStore::acquire(std::string_view name, const LeaseOptions& options,
                                       std::chrono::milliseconds wait, std::stop_token stop) {
  if (wait.count() < 0) {
    return fail(Errc::invalid_argument, "wait must not be negative");
  }
  return acquire_until(name, options, deadline_after(wait), std::move(stop));
}

Result<LockInfo> LeasingStore::inspect(std::string_view name) {
  if (auto ok = check_name(name); !ok) {
    return std::unexpected(ok.error());
  }
  return inspect_lock(name);
}

Result<void> LeasingStore::break_lease(std::string_view name, std::uint64_t token) {
  if (auto ok = check_name(name); !ok) {
    return std::unexpected(ok.error());
  }
  return break_lock(name, token);
}

Result<Attempt> LeasingStore::claim_waiting(ClaimRequest& request, BootTime deadline,
                                            std::stop_token stop) {
  // One plain try first: the lock is free nearly always, and setting up a waiter can cost more
  // than the try (PostgreSQL: a session of its own and LISTEN). Only when busy is the waiter
  // armed, and the loop below tries again after arming it, so a release in between is not missed.
  if (!arm_before_first_try()) {
    auto first = claim(request);
    if (!first || std::holds_alternative<Claim>(*first) || boot_now() >= deadline ||
        stop.stop_requested()) {
      return first;
    }
  }
  auto waiter = release_waiter(request.name);
  request.waiter = waiter.get();
  const StopWake wake(std::move(stop));
  for (;;) {
    if (auto armed = waiter->arm(); !armed) {
      return std::unexpected(armed.error());
    }
    auto attempt = claim(request);
    if (!attempt || std::holds_alternative<Claim>(*attempt)) {
      return attempt;
    }
    const BootTime now = boot_now();
    if (now >= deadline || wake.stop_requested()) {
      return attempt;
    }
    if (auto waited = waiter->wait(next_look(std::get<LockInfo>(*attempt), now, deadline), wake);
        !waited) {
      return std::unexpected(waited.error());
    }
    if (wake.stop_requested()) {
      return attempt;  // stopped while waiting: what the last try found, without another
    }
  }
}

Result<Acquired> LeasingStore::acquire_until(std::string_view name, const LeaseOptions& options,
                                             std::optional<BootTime> deadline,
                                             std::stop_token stop) {
  if (auto ok = check_name(name); !ok) {
    return std::unexpected(ok.error());
  }
  if (auto ok = validate(options); !ok) {
    return std::unexpected(ok.error());
  }
  ClaimRequest request{.name = name, .options = options, .owner = make_owner()};
  // A token already stopped makes one try, like try_acquire.
  auto attempt = deadline && !stop.stop_requested()
                     ? claim_waiting(request, *deadline, std::move(stop))
                     : claim(request);
  if (!attempt) {
    return std::unexpected(attempt.error());
  }
  if (auto* busy = std::get_if<LockInfo>(&*attempt)) {
    return Acquired(std::move(*busy));
  }
  auto& claimed = std::get<Claim>(*attempt);
  auto state = std::make_shared<LeaseState>(LeaseInit{
      .name = std::string(name),
      .owner = std::move(request.owner),
      .location = std::move(claimed.location),
      .token = claimed.token,
      .options = options,
      .acquired_at = claimed.acquired_at,
      .backend = std::move(claimed.lease),
      .log = options_.log,
  });
  if (options.keepalive) {
    keepalive_.add(state, state->first_due());
  }
  return Acquired(Lease(std::move(state)));
}

}  // namespace heartlock::detail
