#include "leasing_store.h"

#include "lease_state.h"
#include "process_identity.h"

namespace heartlock::detail {

void LeasingStore::log(LogLevel level, std::string_view message) const {
  if (options_.log) {
    options_.log(level, message);
  }
}

Result<Acquired> LeasingStore::try_acquire(std::string_view name, const LeaseOptions& options) {
  return acquire_until(name, options, std::nullopt);
}

Result<Acquired> LeasingStore::acquire(std::string_view name, const LeaseOptions& options,
                                       std::chrono::milliseconds wait) {
  if (wait.count() < 0) {
    return fail(Errc::invalid_argument, "wait must not be negative");
  }
  return acquire_until(name, options, boot_now() + wait);
}

Result<Acquired> LeasingStore::acquire_until(std::string_view name, const LeaseOptions& options,
                                             std::optional<BootTime> deadline) {
  if (auto ok = check_name(name); !ok) {
    return std::unexpected(ok.error());
  }
  if (auto ok = validate(options); !ok) {
    return std::unexpected(ok.error());
  }
  ClaimRequest request{
      .name = name, .options = options, .owner = make_owner(), .deadline = deadline};
  auto attempt = claim(request);
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
