// Names of enumerators, name and option validation.
#include <cstdio>
#include <optional>
#include <string>

#include "heartlock/error.h"
#include "heartlock/lease.h"
#include "heartlock/options.h"
#include "heartlock/store.h"
#include "heartlock/text.h"

namespace heartlock {

std::string_view to_string(Errc code) noexcept {
  switch (code) {
    case Errc::invalid_argument:
      return "invalid_argument";
    case Errc::unavailable:
      return "unavailable";
    case Errc::lost:
      return "lost";
    case Errc::not_owner:
      return "not_owner";
    case Errc::permission_denied:
      return "permission_denied";
    case Errc::unsupported:
      return "unsupported";
    case Errc::internal:
      return "internal";
  }
  return "internal";
}

std::string_view to_string(LostReason reason) noexcept {
  switch (reason) {
    case LostReason::deadlocked:
      return "deadlocked";
    case LostReason::expired:
      return "expired";
    case LostReason::taken_over:
      return "taken_over";
    case LostReason::max_hold:
      return "max_hold";
    case LostReason::backend_lost:
      return "backend_lost";
  }
  return "backend_lost";
}

std::string_view to_string(LockState state) noexcept {
  switch (state) {
    case LockState::free:
      return "free";
    case LockState::held:
      return "held";
    case LockState::deadlocked:
      return "deadlocked";
    case LockState::dead:
      return "dead";
    case LockState::expired:
      return "expired";
    case LockState::unknown:
      return "unknown";
  }
  return "held";
}

std::chrono::milliseconds lease_drift_margin(std::chrono::milliseconds ttl) noexcept {
  return ttl / 100 + std::chrono::milliseconds(1);
}

std::chrono::milliseconds renew_interval(const LeaseOptions& options) noexcept {
  // The heartbeat is published with each renewal: a stale_after shorter than the ttl needs
  // renewals often enough that a live holder's published heartbeat never looks stale.
  auto base =
      options.stale_after.count() > 0 ? std::min(options.ttl, options.stale_after) : options.ttl;
  return std::max(std::chrono::milliseconds(1), base / 3);
}

namespace {
std::string ms(std::chrono::milliseconds d) { return std::to_string(d.count()) + "ms"; }
}  // namespace

Result<void> validate(const LeaseOptions& o) {
  using std::chrono::milliseconds;
  if (o.ttl < kMinTtl) {
    return fail(Errc::invalid_argument,
                "ttl " + ms(o.ttl) + " is too short: at least " + ms(kMinTtl));
  }
  if (o.ttl > kMaxDuration) {
    return fail(Errc::invalid_argument, "ttl " + ms(o.ttl) + " is longer than a year");
  }
  for (auto [what, d] :
       {std::pair{"stale_after", o.stale_after}, std::pair{"min_hold", o.min_hold},
        std::pair{"max_hold", o.max_hold}, std::pair{"kill_grace", o.kill_grace}}) {
    if (d > kMaxDuration) {
      return fail(Errc::invalid_argument,
                  std::string(what) + " " + ms(d) + " is longer than a year");
    }
  }
  if (o.stale_after < milliseconds(0) || o.min_hold < milliseconds(0) ||
      o.max_hold < milliseconds(0) || o.kill_grace < milliseconds(0)) {
    return fail(Errc::invalid_argument, "durations must not be negative");
  }
  if (o.stale_after.count() > 0 && o.stale_after < kMinTtl) {
    return fail(Errc::invalid_argument, "stale_after " + ms(o.stale_after) +
                                            " is too short: at least " + ms(kMinTtl) +
                                            " (0 turns the heartbeat check off)");
  }
  if (o.stale_after.count() > 0 && o.stale_after <= renew_interval(o)) {
    return fail(Errc::invalid_argument,
                "stale_after " + ms(o.stale_after) + " must be longer than the renew interval " +
                    ms(renew_interval(o)) + " (a third of the ttl " + ms(o.ttl) + "; " +
                    ms(LeaseOptions{}.ttl) +
                    " unless set): lengthen stale_after or shorten the ttl");
  }
  if (o.stale_after.count() > 0 && !o.keepalive) {
    return fail(Errc::invalid_argument,
                "stale_after needs keepalive: without it nobody checks the heartbeat");
  }
  if (o.max_hold.count() > 0 && o.max_hold < o.min_hold) {
    return fail(Errc::invalid_argument,
                "max_hold " + ms(o.max_hold) + " is shorter than min_hold " + ms(o.min_hold));
  }
  return {};
}

Result<void> validate_name(std::string_view name) {
  if (name.empty()) {
    return fail(Errc::invalid_argument, "lock name is empty");
  }
  if (name.size() > kMaxNameLength) {
    return fail(Errc::invalid_argument, "lock name is " + std::to_string(name.size()) +
                                            " bytes long; the limit is " +
                                            std::to_string(kMaxNameLength));
  }
  if (name.find('\0') != std::string_view::npos) {
    return fail(Errc::invalid_argument, "lock name contains a NUL byte");
  }
  for (std::size_t i = 0; i < name.size(); ++i) {
    auto c = static_cast<unsigned char>(name[i]);
    if (c < 0x20 || c == 0x7f) {
      char code[8];
      std::snprintf(code, sizeof code, "0x%02x", c);
      return fail(Errc::invalid_argument, "lock name contains the control character " +
                                              std::string(code) + " at byte " + std::to_string(i));
    }
  }
  if (auto bad = first_invalid_utf8(name)) {
    return fail(Errc::invalid_argument,
                "lock name is not valid UTF-8 (at byte " + std::to_string(*bad) + ")");
  }
  return {};
}

Result<void> Store::break_lease(const LockInfo& seen) {
  if (seen.state == LockState::free) {
    return fail(Errc::invalid_argument, "lock " + seen.name + " shows no holder to end");
  }
  return break_lease(seen.name, seen.holder ? seen.holder->token : 0);
}

Result<void> Store::put_run_record(std::string_view, std::chrono::sys_seconds, std::string_view,
                                   std::chrono::seconds) {
  return fail(Errc::unsupported, "the " + url() + " store keeps no run ledger");
}

Result<std::vector<RunRecordText>> Store::run_records(std::string_view, std::size_t) {
  return fail(Errc::unsupported, "the " + url() + " store keeps no run ledger");
}

}  // namespace heartlock
