// Options of one lease, and of a store.
#ifndef HEARTLOCK_OPTIONS_H_
#define HEARTLOCK_OPTIONS_H_

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "heartlock/error.h"
#include "heartlock/export.h"

namespace heartlock {

// Why a holder lost its lease. Passed to LeaseOptions::on_lost and returned by Lease::lost_reason.
enum class LostReason {
  deadlocked,    // no heartbeat() for longer than stale_after
  expired,       // not renewed for longer than ttl (the process was paused, or renewal was off)
  taken_over,    // another owner holds the lock now (it took over a stale or expired lease)
  max_hold,      // the max_hold failsafe ended the lease
  backend_lost,  // the backend could not confirm the lease in time (server down, file removed)
};

// Returns a stable lower-case name ("deadlocked", ...).
HEARTLOCK_API std::string_view to_string(LostReason reason) noexcept;

// Called once, from the keepalive's deadline timer or from the thread that noticed the loss, with
// the reason and a human-readable explanation. It runs before Lease::lost(), lost_reason() and
// stop_token() report the loss, so code that sees those knows on_lost has finished. It must not
// block: the timer tells the other leases of the store after it returns. It must not call renew()
// or release() on the Lease. Exceptions it throws are logged and dropped. Once Lease::release()
// has returned it is not running and will not run.
using LostCallback = std::function<void(LostReason, std::string_view)>;

// Options for one acquisition. Build with designated initialisers:
//   LeaseOptions{.ttl = 10s, .stale_after = 2min}
// Zero means "off" for stale_after, min_hold and max_hold. Every member has a default
// initialiser, so g++ 12's -Wmissing-field-initializers (in -Wextra) stays quiet about the members
// a designated initialiser leaves out.
struct HEARTLOCK_API LeaseOptions {
  // A lease not renewed for this long is dead and may be taken over.
  std::chrono::milliseconds ttl = std::chrono::seconds(30);
  // Renew automatically every renew_interval() from a background thread. With keepalive off the
  // caller must call Lease::renew() more often than ttl.
  bool keepalive = true;
  // Proof of progress: a holder that has not called Lease::heartbeat() for this long is
  // deadlocked, even though its process lives. It is told so (on_lost) and may be taken over.
  std::chrono::milliseconds stale_after = std::chrono::milliseconds(0);
  // The lock stays taken for at least this long after acquisition, even if released earlier
  // (cronlock's GRACE, ShedLock's lockAtLeastFor).
  std::chrono::milliseconds min_hold = std::chrono::milliseconds(0);
  // Failsafe: the lease ends this long after acquisition whatever the holder does.
  std::chrono::milliseconds max_hold = std::chrono::milliseconds(0);
  // Told once when the lease is lost; Lease::stop_token() is stopped at the same time.
  LostCallback on_lost{};
  // Free text shown by status (the CLI puts the command line here).
  std::string command{};
  // The scheduled slot this run belongs to, in UTC, if it is a scheduled run (shown by status,
  // and the key of once-per-slot runs).
  std::optional<std::chrono::sys_seconds> slot{};
  // When taking over a deadlocked or expired holder whose process still lives on this host, send
  // it SIGTERM, then SIGKILL after kill_grace, before taking over (file backend).
  bool kill_stale = false;
  std::chrono::milliseconds kill_grace = std::chrono::seconds(5);
};

// Smallest ttl accepted: below this, scheduling noise alone would expire healthy leases.
inline constexpr std::chrono::milliseconds kMinTtl = std::chrono::milliseconds(30);
// Longest duration of any option (a year and a day): longer is a mistake, and the bound keeps
// every deadline computed from one far from overflowing.
inline constexpr std::chrono::milliseconds kMaxDuration = std::chrono::hours(24 * 366);

// The clock-rate drift heartlock assumes between the holder and the server that times a lease:
// less than 1 % (NTP keeps clocks within 500 ppm), plus 1 ms for millisecond rounding on the
// server. A lease is trusted for ttl - lease_drift_margin(ttl) after the send time of the
// request that the server confirmed.
HEARTLOCK_API std::chrono::milliseconds lease_drift_margin(std::chrono::milliseconds ttl) noexcept;

// Returns how often keepalive renews (and publishes the heartbeat): a third of the ttl, or of
// stale_after when that is shorter, so two renewals may fail in a row before the lease expires.
HEARTLOCK_API std::chrono::milliseconds renew_interval(const LeaseOptions& options) noexcept;

// Checks that the options make sense together. Errc::invalid_argument with the reason otherwise,
// e.g. a stale_after shorter than the renew interval, or max_hold shorter than min_hold.
[[nodiscard]] HEARTLOCK_API Result<void> validate(const LeaseOptions& options);

enum class LogLevel { debug, info, warn, error };

// Where the library logs. The library never writes to stdout or stderr itself.
using LogSink = std::function<void(LogLevel, std::string_view)>;

// Options for Store::open.
struct HEARTLOCK_API StoreOptions {
  LogSink log{};  // may be empty: no logging
  // The store is closed soon after its leases are released (`heartlock run` and `heartlock
  // cronlock` open it so: one acquisition, then the process exits), so keeping anything for a
  // later acquisition would only cost. What changes is the cost, not what a lease guarantees:
  // acquisitions after a release work as usual. On etcd a release without min_hold then revokes
  // the lease -- the key goes with it -- instead of deleting the key and keeping the lease for the
  // next acquire (revoked when the store closes): one write where the default costs two. Other
  // backends ignore it.
  bool short_lived = false;
};

}  // namespace heartlock

#endif  // HEARTLOCK_OPTIONS_H_
