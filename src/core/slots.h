// What every backend's Store::claim_slot shares.
#ifndef HEARTLOCK_CORE_SLOTS_H_
#define HEARTLOCK_CORE_SLOTS_H_

#include <chrono>
#include <string>
#include <string_view>

#include "heartlock/error.h"

namespace heartlock::detail {

// Errc::invalid_argument for a bad job name or a retention that is not positive.
Result<void> check_slot_request(std::string_view job, std::chrono::seconds retention);

// "host:pid" of this process: who claimed a slot.
std::string slot_claimant();

}  // namespace heartlock::detail

#endif  // HEARTLOCK_CORE_SLOTS_H_
