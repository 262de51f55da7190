#include "slots.h"

#include "heartlock/store.h"

#include "process_identity.h"

namespace heartlock::detail {

Result<void> check_slot_request(std::string_view job, std::chrono::seconds retention) {
  if (auto ok = validate_name(job); !ok) {
    return ok;
  }
  if (retention.count() <= 0) {
    return fail(Errc::invalid_argument, "slot retention must be positive");
  }
  return {};
}

std::string slot_claimant() {
  ProcessIdentity self = self_identity();
  return self.host + ":" + std::to_string(self.pid);
}

}  // namespace heartlock::detail
