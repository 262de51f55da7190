#include "keepalive.h"

#include <map>
#include <vector>

namespace heartlock::detail {
namespace {

// How far ahead of its due time a lease may be renewed along with the ones that are due. Half a
// renew interval must have passed anyway (LeaseState decides), so short-ttl leases are unaffected.
constexpr std::chrono::milliseconds kCoalesce{250};

}  // namespace

Keepalive::~Keepalive() { stop(); }

void Keepalive::stop() {
  if (thread_.joinable()) {
    thread_.request_stop();
    cv_.notify_all();
    thread_.join();
  }
}

void Keepalive::add(const std::shared_ptr<LeaseState>& lease, BootTime due) {
  bool earliest = false;
  {
    std::lock_guard lock(mu_);
    if (due_.size() >= sweep_at_) {
      std::erase_if(due_, [](const auto& entry) { return entry.second.expired(); });
      sweep_at_ = std::max<std::size_t>(64, due_.size() * 2);
    }
    earliest = due_.empty() || due < due_.begin()->first;
    due_.emplace(due, lease);
    if (!thread_.joinable()) {
      thread_ = std::jthread([this](const std::stop_token& stop) { run(stop); });
    }
  }
  if (earliest) {
    cv_.notify_one();
  }
}

void Keepalive::run(const std::stop_token& stop) {
  std::unique_lock lock(mu_);
  while (!stop.stop_requested()) {
    if (due_.empty()) {
      cv_.wait(lock, stop, [this] { return !due_.empty(); });
      continue;
    }
    BootTime now = boot_now();
    if (due_.begin()->first > now) {
      cv_.wait_until(lock, stop, to_steady(due_.begin()->first),
                     [this, first = due_.begin()->first] {
                       return !due_.empty() && due_.begin()->first < first;
                     });
      continue;
    }
    // Take every due lease out, tick them without the lock (ticks do I/O), put them back.
    std::vector<std::shared_ptr<LeaseState>> ready;
    // Also take what falls due shortly: renewing those now aligns their due times, so that a
    // backend that batches renews many leases in one round trip per tick.
    while (!due_.empty() && due_.begin()->first <= now + kCoalesce) {
      if (auto lease = due_.begin()->second.lock()) {
        ready.push_back(std::move(lease));
      }
      due_.erase(due_.begin());
    }
    lock.unlock();
    std::vector<std::pair<BootTime, std::shared_ptr<LeaseState>>> again;
    // Leases whose backend can renew many at once (Redis: one pipelined round trip) go together.
    std::map<RenewBatch*, std::vector<std::shared_ptr<LeaseState>>> batches;
    for (auto& lease : ready) {
      if (RenewBatch* batch = lease->batch()) {
        batches[batch].push_back(std::move(lease));
      } else if (auto next = lease->tick(boot_now())) {
        again.emplace_back(*next, std::move(lease));
      }
    }
    for (auto& [batch, group] : batches) {
      auto next = LeaseState::tick_batch(group, *batch, boot_now());
      for (std::size_t i = 0; i < group.size(); ++i) {
        if (next[i]) {
          again.emplace_back(*next[i], std::move(group[i]));
        }
      }
    }
    ready.clear();
    batches.clear();
    lock.lock();
    for (auto& [due, lease] : again) {
      due_.emplace(due, lease);
    }
  }
}

}  // namespace heartlock::detail
