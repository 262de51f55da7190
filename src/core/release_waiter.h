// What Store::acquire's one waiting loop (LeasingStore) is made of: a pollable stop request
// (StopWake), the wait for a backend's "released" notification (ReleaseWaiter), and the rule for
// when to look at a busy lock again (next_look).
#ifndef HEARTLOCK_CORE_RELEASE_WAITER_H_
#define HEARTLOCK_CORE_RELEASE_WAITER_H_

#include <chrono>
#include <optional>
#include <stop_token>

#include "heartlock/error.h"
#include "heartlock/lease.h"

#include "clock.h"

namespace heartlock::detail {

// The longest a waiter waits between two tries however it is told of releases: a bound for
// notifications lost on the way (a dropped inotify event, a Redis message sent while the
// subscriber reconnected, a NOTIFY missed between sessions, a watch that ended early).
inline constexpr std::chrono::milliseconds kMaxWaitSlice{1000};

// `wait` from now on the boot clock, saturating: kWaitForever (or anything past the clock's
// range) is BootTime::max(), never an overflow.
BootTime deadline_after(std::chrono::milliseconds wait) noexcept;

// When to try a busy lock again: at the deadline, when its holder could first be taken over (its
// lease runs out, its heartbeat goes stale, or the min_hold of a released lock ends -- nobody
// notifies then), and after kMaxWaitSlice at the latest, whichever comes first.
BootTime next_look(const LockInfo& busy, BootTime now, BootTime deadline) noexcept;

// A std::stop_token made pollable: fd() becomes readable (an eventfd written by a stop_callback)
// once a stop is requested, so a wait in poll(2) also ends on a stop.
//
// Thread-safety: the stop may be requested from any thread; the rest belongs to one waiter.
// Lifetime: fd() is valid while this object lives.
class StopWake {
 public:
  explicit StopWake(std::stop_token token);
  ~StopWake();
  StopWake(const StopWake&) = delete;
  StopWake& operator=(const StopWake&) = delete;

  bool stop_requested() const noexcept { return token_.stop_requested(); }
  // Readable once stopped; -1 when no stop is possible, or no eventfd could be made (then
  // wait_readable checks the token every few milliseconds instead).
  int fd() const noexcept { return fd_; }
  // Whether a stop can come that fd() does not show (no eventfd): waits must look in slices.
  bool needs_polling() const noexcept { return fd_ < 0 && token_.stop_possible(); }

 private:
  struct Signal {
    int fd;
    void operator()() const noexcept;
  };

  std::stop_token token_;
  int fd_ = -1;
  std::optional<std::stop_callback<Signal>> on_stop_;  // after fd_: unregistered before it closes
};

// Waits until `fd` is readable (-1: none, just sleep), `until` passes, or a stop is requested.
// True only if `fd` became readable.
bool wait_readable(int fd, BootTime until, const StopWake& stop);

// The "released" notification of one Store::acquire: armed before each try, so that a release
// between the try and the wait is not missed, then waited on. A backend makes one per waiting
// acquire, before its first try or once a first, plain try found the lock busy
// (LeasingStore::release_waiter, arm_before_first_try; the try after arming is the one the
// notification covers), and may hand it state from its try through
// ClaimRequest::waiter (a lock file kept open, the revision seen).
//
// Thread-safety: none; used by one acquire at a time. Owned by LeasingStore's waiting loop.
class ReleaseWaiter {
 public:
  virtual ~ReleaseWaiter() = default;

  // Before each try: sets up (again, if it was lost) what reports the next release. An error ends
  // the acquire with it (e.g. Errc::permission_denied); a notification that merely cannot be set
  // up now degrades to waiting out the slice.
  [[nodiscard]] virtual Result<void> arm() { return {}; }

  // Waits until the lock may have been released, `until` passes or `stop` is requested, whichever
  // is first. Waking early is harmless (one more try); an error ends the acquire with it.
  [[nodiscard]] virtual Result<void> wait(BootTime until, const StopWake& stop) = 0;
};

// A ReleaseWaiter with no notification: sleeps until `until` or the stop.
class SleepingWaiter final : public ReleaseWaiter {
 public:
  Result<void> wait(BootTime until, const StopWake& stop) override {
    wait_readable(-1, until, stop);
    return {};
  }
};

// A ReleaseWaiter woken by a message the server pushes on a connection of the waiter's own (Redis
// SUBSCRIBE, PostgreSQL LISTEN). arm() connects unless connected; a connection that fails is
// dropped, and made again by the next arm(). Without one (the server does not answer) the waiter
// sleeps until `until`: next_look() bounds that. A refused login (Errc::permission_denied) ends
// the acquire at once; any other failure only degrades to that sleep.
//
// Thread-safety: none, as ReleaseWaiter.
class PushWaiter : public ReleaseWaiter {
 public:
  Result<void> arm() final;
  Result<void> wait(BootTime until, const StopWake& stop) final;

 protected:
  virtual bool connected() const = 0;
  // Connects and subscribes. The error of a connection that could not be made; a subscription
  // that failed leaves connected() false without an error.
  virtual Result<void> connect() = 0;
  virtual void disconnect() = 0;
  // The connection's socket, to poll.
  virtual int socket() const = 0;
  // Reads for at most `timeout` (0: only what arrived already); true if a message came. An error
  // drops the connection.
  virtual Result<bool> read_message(std::chrono::milliseconds timeout) = 0;
};

}  // namespace heartlock::detail

#endif  // HEARTLOCK_CORE_RELEASE_WAITER_H_
