// The stop rule of `heartlock run`: COMMAND's whole process group is gone by the moment another
// holder can have the lock (Lease::valid_until). The supervisor sends SIGKILL stop_margin()
// before that deadline and SIGTERM the kill grace before the SIGKILL; unless a renewal has moved
// the deadline on by then. The watchdog process holds the same SIGKILL time, so the rule holds
// also while the wrapper itself is stopped (SIGSTOP) or starved.
#ifndef HEARTLOCK_CLI_STOP_RULE_H_
#define HEARTLOCK_CLI_STOP_RULE_H_

#include <chrono>
#include <string>

#include "heartlock/options.h"

namespace heartlock::cli {

// Room between the SIGKILL and the deadline, for the watchdog to be scheduled on a loaded host
// and the kernel to tear the group down: ttl / 20, at least 2 ms and at most 250 ms.
std::chrono::milliseconds stop_margin(const LeaseOptions& options) noexcept;

// The longest kill grace with which a healthy lease is never stopped: after a renewal sent at t
// the deadline is t + ttl - drift margin, the next renewal is sent a renew interval later and
// may take half an interval to be confirmed, and SIGTERM must not come before that:
//   ttl - drift margin - 1.5 renew intervals - stop margin
// and the same with stale_after in place of ttl when it is set (the heartbeat contenders see is
// published with each renewal). Zero when nothing fits.
std::chrono::milliseconds max_kill_grace(const LeaseOptions& options) noexcept;

// How the limit above is made up, in words, for the usage error.
std::string explain_max_kill_grace(const LeaseOptions& options);

// The kill grace when none is given: 5 s, or max_kill_grace() when that is shorter.
inline constexpr std::chrono::milliseconds kDefaultKillGrace{5000};

}  // namespace heartlock::cli

#endif  // HEARTLOCK_CLI_STOP_RULE_H_
