// The public Lease handle: a thin owner of a shared LeaseState.
#include "heartlock/lease.h"

#include "clock.h"
#include "lease_state.h"

namespace heartlock {

Lease::Lease(std::shared_ptr<detail::LeaseState> state) noexcept : state_(std::move(state)) {}
Lease::Lease(Lease&& other) noexcept = default;

Lease& Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    if (state_) {
      (void)state_->release(detail::boot_now());
    }
    state_ = std::move(other.state_);
  }
  return *this;
}

Lease::~Lease() {
  if (state_) {
    // Best effort: a destructor cannot report; call release() to learn the outcome.
    (void)state_->release(detail::boot_now());
  }
}

// A moved-from Lease has no state; these accessors are for held leases only.
const std::string& Lease::name() const noexcept { return state_->name(); }
std::uint64_t Lease::token() const noexcept { return state_->token(); }
const std::string& Lease::owner() const noexcept { return state_->owner(); }
const std::string& Lease::location() const noexcept { return state_->location(); }

BootClock::time_point BootClock::now() noexcept { return time_point(detail::boot_now()); }

BootClock::time_point Lease::valid_until() const noexcept {
  return BootClock::time_point(state_ ? state_->valid_until() : BootClock::duration(0));
}

void Lease::heartbeat() noexcept { state_->heartbeat(detail::boot_now()); }

Result<void> Lease::renew() {
  if (!state_) {
    return fail(Errc::invalid_argument, "renew on a moved-from lease");
  }
  return state_->renew(detail::boot_now());
}

Result<void> Lease::release() {
  if (!state_) {
    return {};
  }
  return state_->release(detail::boot_now());
}

int Lease::dup_lock_fd() const { return state_ ? state_->dup_lock_fd() : -1; }

bool Lease::released() const noexcept { return !state_ || state_->released(); }
bool Lease::lost() const noexcept { return state_ && state_->lost_reason().has_value(); }
std::optional<LostReason> Lease::lost_reason() const noexcept {
  return state_ ? state_->lost_reason() : std::nullopt;
}
std::stop_token Lease::stop_token() const noexcept {
  return state_ ? state_->stop_token() : std::stop_token();
}

}  // namespace heartlock
