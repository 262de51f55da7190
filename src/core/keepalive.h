// Keepalive: one background thread per store that ticks every kept-alive lease when it is due.
// One thread for all leases (not one per lease) keeps acquisition cheap: registering is a mutex
// and a map insert, where starting a thread costs tens of microseconds.
#ifndef HEARTLOCK_CORE_KEEPALIVE_H_
#define HEARTLOCK_CORE_KEEPALIVE_H_

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "clock.h"
#include "lease_state.h"

namespace heartlock::detail {

// Thread-safety: add() may be called from any thread. The destructor stops and joins the thread;
// leases still registered are no longer renewed after that.
class Keepalive {
 public:
  Keepalive() = default;
  ~Keepalive();
  Keepalive(const Keepalive&) = delete;
  Keepalive& operator=(const Keepalive&) = delete;

  // Ticks `lease` at `due` and then whenever it asks, until it is released or lost. The keepalive
  // keeps only a weak reference: a dropped lease simply disappears.
  void add(const std::shared_ptr<LeaseState>& lease, BootTime due);

  // Stops and joins the thread; idempotent.
  void stop();

 private:
  void run(const std::stop_token& stop);

  std::mutex mu_;
  std::condition_variable_any cv_;
  std::multimap<BootTime, std::weak_ptr<LeaseState>> due_;
  // Released leases stay in due_ (as expired weak references) until they fall due; add() sweeps
  // them out once due_ has doubled since the last sweep, so rapid acquire/release cycles cannot
  // grow it without bound. Amortised O(1) per add().
  std::size_t sweep_at_ = 64;
  std::jthread thread_;  // started on the first add()
};

}  // namespace heartlock::detail

#endif  // HEARTLOCK_CORE_KEEPALIVE_H_
