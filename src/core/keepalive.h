// Keepalive: keeps every lease of one store alive, and gives up each one on time.
//
// Two kinds of thread, so that no I/O can delay a decision about a lease's validity:
// - one timer thread that never does I/O: it declares a lease lost the moment its deadline
//   (LeaseState::valid_until) passes unconfirmed, hands due renewals to the workers, and polls
//   the backends' watch fds (a connection the server closed, a lock file renamed) to have the
//   affected leases checked at once;
// - a small pool of renewal workers, started on demand (up to kMaxWorkers): leases whose backend
//   batches (Redis, PostgreSQL lease mode) renew in one round trip per group, the others one by
//   one; a hung renewal occupies one worker and is bounded by its lease's deadline, so others go
//   on meanwhile.
// Registering a lease is a mutex and three map inserts, and wakes the timer only when it must act
// sooner than it planned or poll another fd: acquisition stays cheap.
#ifndef HEARTLOCK_CORE_KEEPALIVE_H_
#define HEARTLOCK_CORE_KEEPALIVE_H_

#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <vector>

#include "clock.h"
#include "lease_state.h"

namespace heartlock::detail {

// Thread-safety: add() may be called from any thread. The destructor stops and joins the threads;
// leases still registered are neither renewed nor timed after that.
class Keepalive {
 public:
  // Renewal workers at most; a store whose leases all hang on one server needs one.
  static constexpr std::size_t kMaxWorkers = 8;

  Keepalive();
  ~Keepalive();
  Keepalive(const Keepalive&) = delete;
  Keepalive& operator=(const Keepalive&) = delete;

  // Ticks `lease` at `due` and then whenever it asks, and enforces its deadline, until it is
  // released or lost. Only a weak reference is kept: a dropped lease simply disappears.
  void add(const std::shared_ptr<LeaseState>& lease, BootTime due);

  // Stops and joins the threads; idempotent.
  void stop();

 private:
  struct Job {
    RenewBatch* batch = nullptr;  // nullptr: tick each lease alone
    std::vector<std::shared_ptr<LeaseState>> leases;
    bool force = false;  // a watch fd fired: check now, whether due or not
    int watch_fd = -1;   // the fd that fired (force only)
  };
  using DueMap = std::multimap<BootTime, std::weak_ptr<LeaseState>>;
  struct Watched {
    std::weak_ptr<LeaseState> lease;
    int fd = -1;
    DueMap::iterator due;  // its entry in due_, or due_.end() while a worker has it
  };

  void run_timer(const std::stop_token& stop);
  void run_worker(const std::stop_token& stop);
  void wake() const;
  // Groups `ready` by batch into jobs and makes sure a worker will take them. mu_ held.
  void dispatch_locked(std::vector<std::shared_ptr<LeaseState>> ready, bool force, int fd);
  // Enforces every deadline that has passed by `now`; drops mu_ meanwhile. Returns whether any.
  bool enforce_deadlines(std::unique_lock<std::mutex>& lock, BootTime now);
  // (Re)schedules `lease`'s regular renewal at `at`, replacing its entry in due_. mu_ held.
  void schedule_locked(const std::shared_ptr<LeaseState>& lease, BootTime at);
  // The fds to poll (after the wake fd), and the leases behind each. mu_ held.
  void rebuild_watch_locked(BootTime now);
  // A new lease watching `fd`: joins the fd's list if the timer polls it already, else marks the
  // watch for a rebuild. mu_ held.
  void watch_locked(const std::shared_ptr<LeaseState>& lease, int fd);

  std::mutex mu_;
  std::condition_variable_any work_cv_;
  DueMap due_;
  std::multimap<BootTime, std::weak_ptr<LeaseState>> deadlines_;
  std::deque<Job> jobs_;
  std::set<RenewBatch*> batches_in_flight_;  // a worker is renewing these
  std::size_t idle_workers_ = 0;
  std::vector<std::jthread> workers_;
  // Every registered lease and the watch fd it had when last looked at. Dropped leases stay (as
  // expired weak references) until add() sweeps them, once the map has doubled since the last
  // sweep: amortised O(1) per add().
  std::unordered_map<LeaseState*, Watched> live_;
  std::size_t sweep_at_ = 64;
  bool watch_dirty_ = false;
  std::vector<int> watch_fds_;
  std::vector<std::vector<std::weak_ptr<LeaseState>>> watch_leases_;
  // An fd that fired is not polled again until its check is done and a short pause has passed,
  // so an fd that stays readable (a closed socket) cannot spin the timer.
  std::map<int, BootTime> quiet_until_;
  // Until when the timer sleeps in ppoll (its next planned look); BootTime::min() while awake.
  BootTime timer_sleeps_until_ = BootTime::min();
  int wake_fd_ = -1;    // eventfd: add(), workers and stop() wake the timer
  std::jthread timer_;  // started on the first add()
};

}  // namespace heartlock::detail

#endif  // HEARTLOCK_CORE_KEEPALIVE_H_
