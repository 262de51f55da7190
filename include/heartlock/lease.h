// Lease: one held acquisition of a named lock; Acquired: a lease or "busy".
#ifndef HEARTLOCK_LEASE_H_
#define HEARTLOCK_LEASE_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <variant>

#include "heartlock/clock.h"
#include "heartlock/error.h"
#include "heartlock/export.h"
#include "heartlock/options.h"

namespace heartlock {

namespace detail {
class LeaseState;
}  // namespace detail

// What a lock looks like from outside.
enum class LockState {
  free,        // nobody holds it
  held,        // a live holder that renews (and heartbeats, if it promised to)
  deadlocked,  // the holder's process lives, but its heartbeat is older than its stale_after
  dead,        // the holder is gone (crashed); the next acquire succeeds at once
  expired,     // the holder did not renew within its ttl (paused, or its host is gone)
  unknown,     // heartlock cannot tell (a lock file it may not read or use); detail says why
};

// Returns a stable lower-case name ("free", "held", ...).
HEARTLOCK_API std::string_view to_string(LockState state) noexcept;

// Who holds (or last held) a lock. Ages are measured on a clock that does not jump.
struct HEARTLOCK_API Holder {
  std::string owner;  // unique per acquisition: host:pid:random
  std::string host;
  std::int64_t pid = 0;
  std::uint64_t token = 0;
  std::chrono::system_clock::time_point since;  // wall time of acquisition, for display only
  std::optional<std::chrono::milliseconds> heartbeat_age;
  std::optional<std::chrono::milliseconds> renew_age;
  std::chrono::milliseconds ttl = std::chrono::milliseconds(0);
  std::chrono::milliseconds stale_after = std::chrono::milliseconds(0);
  std::string command;
  std::optional<std::chrono::sys_seconds> slot;
  // Held by something that wrote no heartlock record (e.g. util-linux flock(1)), or by a process
  // that outlived the holder recorded; such a holder is never taken over.
  bool foreign = false;
};

// The state of one lock, as inspect() and list() see it, and what "busy" carries.
struct HEARTLOCK_API LockInfo {
  std::string name;
  LockState state = LockState::free;
  std::optional<Holder> holder;  // the current or last holder, when known
  std::string location;          // where it lives: the lock file, or the server key
  std::string detail;            // why it is in that state, in words
  // Released, but still blocked by the holder's min_hold for this long.
  std::optional<std::chrono::milliseconds> min_hold_left;
};

// A held lease on a named lock.
//
// Ownership: move-only; the destructor releases best-effort and never throws. A Lease may outlive
// the Store that made it only on the file backend; do not rely on it.
// Thread-safety: heartbeat(), lost(), lost_reason(), token() and stop_token() may be called from
// any thread at any time; renew() and release() are serialised internally.
class HEARTLOCK_API Lease {
 public:
  explicit Lease(std::shared_ptr<detail::LeaseState> state) noexcept;
  Lease(Lease&& other) noexcept;
  Lease& operator=(Lease&& other) noexcept;
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  ~Lease();

  const std::string& name() const noexcept;
  // Fencing token: strictly increasing per lock name over every acquisition in the store. Pass it
  // to the resource you protect and let it reject smaller tokens.
  std::uint64_t token() const noexcept;
  // Unique per acquisition.
  const std::string& owner() const noexcept;
  // Where the lock lives (lock file path, server key).
  const std::string& location() const noexcept;

  // Until when the lease is certainly still this holder's: after this instant another holder may
  // have the lock. It is the earliest of: the send time of the last renewal (or acquisition) the
  // backend confirmed + ttl - lease_drift_margin(ttl); the last published heartbeat
  // + stale_after - the margin; acquisition + max_hold. Work protected by the lease must be over
  // by then: with keepalive (the default) the lease is declared lost at this instant by a timer,
  // whatever any I/O is doing; without keepalive nobody times it, and the caller must.
  // BootClock::time_point{} (the epoch) once lost or released.
  BootClock::time_point valid_until() const noexcept;

  // Records progress (a relaxed atomic store of the time); cheap enough for a hot loop.
  void heartbeat() noexcept;

  // Renews now. Errc::lost if the lease is gone (lost_reason() says why), Errc::unavailable if
  // the backend did not answer (the lease may still be valid until its ttl).
  [[nodiscard]] Result<void> renew();

  // Ends the lease, fenced by owner: never removes or shortens another owner's lock. Once it
  // returns, on_lost is not running and will not run (it must not call release() itself). With
  // min_hold the lock stays blocked until acquisition + min_hold. Idempotent. Returns Errc::lost if
  // the lease had been lost before release (the work it protected may have overlapped another
  // holder's), Errc::unavailable if the backend could not be told (it expires by itself).
  [[nodiscard]] Result<void> release();

  // A new close-on-exec descriptor, owned by the caller, on the open file whose kernel lock
  // (flock) is this lease: the file backend only; -1 on the others, or once lost or released.
  // While any descriptor on that open file exists -- in this process or one it forked -- the
  // kernel keeps the lock held, even after this process dies and even after release() closed
  // the lease's own: close it when the work it protects is over. `heartlock run`'s watchdog keeps
  // one, so that a killed wrapper's lock is not free before its COMMAND is gone.
  [[nodiscard]] int dup_lock_fd() const;

  bool released() const noexcept;
  bool lost() const noexcept;
  std::optional<LostReason> lost_reason() const noexcept;
  // Stopped when the lease is lost (with on_lost), so work can watch one stop token.
  std::stop_token stop_token() const noexcept;

 private:
  std::shared_ptr<detail::LeaseState> state_;
};

// The answer of try_acquire/acquire: a held Lease, or busy with the current holder.
// Thread-safety: none; a value type.
class HEARTLOCK_API Acquired {
 public:
  explicit Acquired(Lease lease) noexcept : value_(std::move(lease)) {}
  explicit Acquired(LockInfo busy) noexcept : value_(std::move(busy)) {}

  // True if the lock was acquired.
  bool acquired() const noexcept { return std::holds_alternative<Lease>(value_); }
  explicit operator bool() const noexcept { return acquired(); }
  bool busy() const noexcept { return !acquired(); }

  // REQUIRES: acquired().
  Lease& lease() & { return std::get<Lease>(value_); }
  Lease&& lease() && { return std::get<Lease>(std::move(value_)); }
  // REQUIRES: busy(). The holder that made us busy.
  const LockInfo& holder() const& { return std::get<LockInfo>(value_); }

 private:
  std::variant<Lease, LockInfo> value_;
};

}  // namespace heartlock

#endif  // HEARTLOCK_LEASE_H_
