// Leader election over any Store: Election campaigns for a named lock, Leadership is the term.
#ifndef HEARTLOCK_LEADER_H_
#define HEARTLOCK_LEADER_H_

#include <cstdint>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>

#include "heartlock/clock.h"
#include "heartlock/error.h"
#include "heartlock/export.h"
#include "heartlock/lease.h"
#include "heartlock/options.h"
#include "heartlock/store.h"

namespace heartlock {

// One term of leadership: the lease on the election's lock that made this caller the leader.
//
// At most one Leadership of an election that has not resigned has a stop token that is not yet
// stopped, at any instant
// (under the clock-rate assumption of lease_drift_margin): the lease is declared lost by a timer
// at its deadline, Lease::valid_until(), whatever any I/O is doing, and only after that deadline
// may another campaigner lead. Work done as leader must stop when stop_token() is stopped, and
// must carry token() to what it changes, so that a resource can refuse a deposed leader that
// acts late (a paused process, a stalled write): tokens increase with every new leader. An
// administrative Store::break_lease is outside this: the deposed leader learns of it at its next
// renewal.
//
// Ownership: move-only; owns the Lease. The destructor resigns (best effort, never throws).
// Thread-safety: token(), stop_token(), lost(), lost_reason(), valid_until() and heartbeat() may
// be called from any thread at any time; resign() is serialised internally.
class HEARTLOCK_API Leadership {
 public:
  // REQUIRES: `lease` is held, taken on the election's lock.
  explicit Leadership(Lease lease) noexcept;
  Leadership(Leadership&& other) noexcept = default;
  Leadership& operator=(Leadership&& other) noexcept = default;
  Leadership(const Leadership&) = delete;
  Leadership& operator=(const Leadership&) = delete;
  ~Leadership() = default;  // the Lease's destructor releases: resigns

  // The election's lock name.
  const std::string& name() const noexcept { return lease_.name(); }
  // The fencing token of this term: strictly greater than that of every earlier leader.
  std::uint64_t token() const noexcept { return lease_.token(); }
  // Stopped the moment leadership is lost (at the lease's deadline at the latest, after
  // LeaseOptions::on_lost has run). Not stopped by resign(): stop the work, then resign.
  std::stop_token stop_token() const noexcept { return lease_.stop_token(); }
  // Whether leadership was lost (the stop token is stopped), and why.
  bool lost() const noexcept { return lease_.lost(); }
  std::optional<LostReason> lost_reason() const noexcept { return lease_.lost_reason(); }
  // Until when this caller certainly still leads (Lease::valid_until()); the epoch once lost or
  // resigned.
  BootClock::time_point valid_until() const noexcept { return lease_.valid_until(); }
  // Proof of progress, for elections with LeaseOptions::stale_after (Lease::heartbeat()).
  void heartbeat() noexcept { lease_.heartbeat(); }
  // Whether resign() was called (or the Leadership was moved from).
  bool resigned() const noexcept { return lease_.released(); }

  // Gives leadership up: releases the lease (fenced by owner), so that a waiting campaigner leads
  // at once. Idempotent. Errc::lost if leadership had been lost before (work done as leader may
  // have overlapped the next leader's: the fencing token is what protects it), Errc::unavailable
  // if the backend could not be told (the lease then expires by itself after its ttl).
  [[nodiscard]] Result<void> resign() { return lease_.release(); }

  // The lease itself, e.g. for Lease::dup_lock_fd().
  const Lease& lease() const noexcept { return lease_; }

 private:
  Lease lease_;
};

// A campaign for the leadership of one named lock in a Store: every campaigner that uses the same
// store and name takes part in the same election, across processes and hosts.
//
// The leader holds a lease on the lock `name`, with the options given here (ttl, stale_after,
// on_lost, ...): campaigners wait on it with Store::acquire and kWaitForever, woken when the
// leader resigns or dies (not by polling), and a leader that stops renewing loses at its deadline.
// The lease's LeaseOptions::command is marked so that `heartlock status` shows it as a leader:
// "leader of NAME", or "leader of NAME: COMMAND" when the options carry a command.
//
// Thread-safety: all methods may be called concurrently (each campaign is its own acquisition).
// Lifetime: `store` must outlive the Election and every Leadership it returned.
class HEARTLOCK_API Election {
 public:
  Election(Store& store, std::string name, LeaseOptions options = {});

  // Waits without limit until this caller leads, and returns the Leadership; std::nullopt when a
  // stop is requested on `stop` before that (the call then returns promptly; a token already
  // stopped on entry still makes one try). Errc::invalid_argument for a bad name or options
  // (keepalive off: nobody would time the leader's deadline), Errc::unavailable if the backend
  // did not answer (retry with backoff), Errc::permission_denied if it refused access.
  [[nodiscard]] Result<std::optional<Leadership>> campaign(std::stop_token stop);

  // Who leads now, as the store sees it (for observers): the holder of the lock while it is held,
  // std::nullopt when nobody does (free, or the last leader dead, expired or deadlocked). Seen
  // from outside, a deposed leader may still show for up to the drift margin after its own stop
  // token was stopped. Errc::invalid_argument for a bad name, Errc::unavailable as campaign().
  [[nodiscard]] Result<std::optional<Holder>> leader();

  const std::string& name() const noexcept { return name_; }
  // The options every campaign of this election acquires with (command marked).
  const LeaseOptions& options() const noexcept { return options_; }

 private:
  Store& store_;
  std::string name_;
  LeaseOptions options_;
};

// The LeaseOptions::command an Election gives its leases: "leader of NAME", or
// "leader of NAME: COMMAND" for a non-empty `command`.
HEARTLOCK_API std::string leader_command(std::string_view name, std::string_view command);

// Whether `info` is (or was last) held by an Election's leader: its holder's command carries the
// mark of leader_command() for this lock's name.
HEARTLOCK_API bool is_leader_lock(const LockInfo& info) noexcept;

}  // namespace heartlock

#endif  // HEARTLOCK_LEADER_H_
