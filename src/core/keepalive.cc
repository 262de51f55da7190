#include "keepalive.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <ctime>

namespace heartlock::detail {
namespace {

// How far ahead of its due time a lease may be renewed along with the ones that are due. Half a
// renew interval must have passed anyway (LeaseState decides), so short-ttl leases are unaffected.
constexpr std::chrono::milliseconds kCoalesce{250};

// After a watch fd fired and its leases were checked, it is left alone this long.
constexpr std::chrono::milliseconds kWatchQuiet{50};

// A poll timeout in full nanoseconds for ppoll(2): a deadline is enforced when it passes, not at
// the next millisecond.
timespec timeout_until(BootTime until) {
  if (until == BootTime::max()) {
    return {3600, 0};  // woken by the wake fd long before
  }
  BootTime left = std::max(BootTime(0), until - boot_now());
  auto s = std::chrono::duration_cast<std::chrono::seconds>(left);
  return {static_cast<time_t>(s.count()), static_cast<long>((left - s).count())};
}

}  // namespace

Keepalive::Keepalive() : wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

Keepalive::~Keepalive() {
  stop();
  if (wake_fd_ >= 0) {
    ::close(wake_fd_);
  }
}

void Keepalive::stop() {
  std::vector<std::jthread> workers;
  {
    std::lock_guard lock(mu_);
    workers.swap(workers_);
  }
  for (auto& w : workers) {
    w.request_stop();
  }
  work_cv_.notify_all();
  workers.clear();  // joins
  if (timer_.joinable()) {
    timer_.request_stop();
    wake();
    timer_.join();
  }
}

void Keepalive::wake() const {
  std::uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
}

void Keepalive::add(const std::shared_ptr<LeaseState>& lease, BootTime due) {
  {
    std::lock_guard lock(mu_);
    if (live_.size() >= sweep_at_) {
      std::erase_if(live_, [](const auto& entry) { return entry.second.lease.expired(); });
      std::erase_if(deadlines_, [](const auto& entry) { return entry.second.expired(); });
      sweep_at_ = std::max<std::size_t>(64, live_.size() * 2);
      watch_dirty_ = true;
    }
    const BootTime deadline = lease->valid_until() - notice_lead(lease->options().ttl);
    deadlines_.emplace(deadline, lease);
    const int fd = lease->watch_fd();
    live_[lease.get()] = Watched{lease, fd, due_.emplace(due, lease)};
    if (fd >= 0) {
      watch_locked(lease, fd);
    }
    if (!timer_.joinable()) {
      timer_ = std::jthread([this](const std::stop_token& stop) { run_timer(stop); });
      return;  // it starts awake
    }
    // The timer, asleep, wakes by itself at timer_sleeps_until_ and then looks at everything
    // anew: it is woken only if it must act sooner, or poll another fd. An awake one (the time is
    // BootTime::min()) looks at all of it before it sleeps again. Most acquisitions wake nothing.
    if (std::min(due, deadline) >= timer_sleeps_until_ && !watch_dirty_) {
      return;
    }
  }
  wake();
}

void Keepalive::watch_locked(const std::shared_ptr<LeaseState>& lease, int fd) {
  if (watch_dirty_ || quiet_until_.contains(fd)) {
    return;  // the next rebuild (due, or when the rest ends) finds it in live_
  }
  auto at = std::find(watch_fds_.begin(), watch_fds_.end(), fd);
  if (at == watch_fds_.end()) {
    watch_dirty_ = true;  // an fd the timer does not poll yet
    return;
  }
  // Polled already (every lease of a Redis store shares one): the lease joins the fd's list.
  watch_leases_[static_cast<std::size_t>(at - watch_fds_.begin())].push_back(lease);
}

void Keepalive::schedule_locked(const std::shared_ptr<LeaseState>& lease, BootTime at) {
  auto it = live_.find(lease.get());
  if (it == live_.end()) {
    return;
  }
  if (it->second.due != due_.end()) {
    due_.erase(it->second.due);
  }
  it->second.due = due_.emplace(at, lease);
}

bool Keepalive::enforce_deadlines(std::unique_lock<std::mutex>& lock, BootTime now) {
  std::vector<std::shared_ptr<LeaseState>> passed;
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    if (auto lease = deadlines_.begin()->second.lock()) {
      passed.push_back(std::move(lease));
    }
    deadlines_.erase(deadlines_.begin());
  }
  if (passed.empty()) {
    return false;
  }
  lock.unlock();
  // A renewal confirmed meanwhile has moved a deadline on: enforce_deadline() answers with the
  // new one, or declares the loss (and runs on_lost here) if there is none.
  std::vector<std::pair<BootTime, std::shared_ptr<LeaseState>>> again;
  for (auto& lease : passed) {
    if (auto next = lease->enforce_deadline(boot_now())) {
      again.emplace_back(*next, std::move(lease));
    }
  }
  lock.lock();
  for (auto& [at, lease] : again) {
    deadlines_.emplace(at, lease);
  }
  watch_dirty_ = watch_dirty_ || again.size() < passed.size();  // lost ones watch nothing more
  return true;
}

void Keepalive::dispatch_locked(std::vector<std::shared_ptr<LeaseState>> ready, bool force,
                                int fd) {
  std::map<RenewBatch*, std::vector<std::shared_ptr<LeaseState>>> batches;
  for (auto& lease : ready) {
    RenewBatch* batch = lease->batch();
    if (batch != nullptr) {
      batches[batch].push_back(std::move(lease));
    } else {
      // Alone: one job each, so that one hung renewal holds up no other lease.
      jobs_.push_back(Job{.leases = {std::move(lease)}, .force = force, .watch_fd = fd});
    }
  }
  for (auto& [batch, group] : batches) {
    // Leases of a batch whose job is still queued join it: one round trip for both.
    auto queued = std::find_if(jobs_.begin(), jobs_.end(), [&](const Job& job) {
      return job.batch == batch && job.force == force && job.watch_fd == fd;
    });
    if (queued != jobs_.end()) {
      queued->leases.insert(queued->leases.end(), group.begin(), group.end());
    } else {
      jobs_.push_back(
          Job{.batch = batch, .leases = std::move(group), .force = force, .watch_fd = fd});
    }
  }
  std::size_t pending = jobs_.size();
  while (pending > idle_workers_ && workers_.size() < kMaxWorkers) {
    workers_.emplace_back([this](const std::stop_token& stop) { run_worker(stop); });
    ++idle_workers_;  // counted as idle until it takes a job
  }
  work_cv_.notify_all();
}

void Keepalive::rebuild_watch_locked(BootTime now) {
  watch_dirty_ = false;
  // A rest that is over goes, whether its fd is still watched or not (a stale entry would make
  // the timer wake at once, again and again).
  std::erase_if(quiet_until_, [now](const auto& entry) { return entry.second <= now; });
  std::map<int, std::vector<std::weak_ptr<LeaseState>>> by_fd;
  for (auto& [key, watched] : live_) {
    if (auto lease = watched.lease.lock()) {
      watched.fd = lease->watch_fd();  // -1 once lost or released
      if (watched.fd >= 0) {
        by_fd[watched.fd].push_back(watched.lease);
      }
    }
  }
  watch_fds_.clear();
  watch_leases_.clear();
  for (auto& [fd, leases] : by_fd) {
    if (quiet_until_.contains(fd)) {
      continue;
    }
    watch_fds_.push_back(fd);
    watch_leases_.push_back(std::move(leases));
  }
}

void Keepalive::run_timer(const std::stop_token& stop) {
  std::unique_lock lock(mu_);
  std::vector<pollfd> fds;
  while (!stop.stop_requested()) {
    BootTime now = boot_now();
    if (enforce_deadlines(lock, now)) {
      continue;
    }
    // Take every due lease out and hand it to the workers; they put it back. Also take what falls
    // due shortly: renewing those now aligns their due times, so that a backend that batches
    // renews many leases in one round trip per tick.
    std::vector<std::shared_ptr<LeaseState>> ready;
    while (!due_.empty() && due_.begin()->first <= now + kCoalesce &&
           (due_.begin()->first <= now || !ready.empty())) {
      if (auto lease = due_.begin()->second.lock()) {
        if (auto it = live_.find(lease.get()); it != live_.end()) {
          it->second.due = due_.end();
        }
        ready.push_back(std::move(lease));
      }
      due_.erase(due_.begin());
    }
    if (!ready.empty()) {
      dispatch_locked(std::move(ready), false, -1);
      continue;
    }

    // Entries of leases released and dropped since stay behind until their time: not worth
    // waking for. (A dropped lease's live_ entry still names its erased due_ entry; nothing
    // reads that iterator before the sweep removes it or an add() for a new lease at the same
    // address replaces it.)
    while (!due_.empty() && due_.begin()->second.expired()) {
      due_.erase(due_.begin());
    }
    while (!deadlines_.empty() && deadlines_.begin()->second.expired()) {
      deadlines_.erase(deadlines_.begin());
    }
    BootTime next = BootTime::max();
    if (!due_.empty()) {
      next = due_.begin()->first;
    }
    if (!deadlines_.empty()) {
      next = std::min(next, deadlines_.begin()->first);
    }
    for (const auto& [fd, until] : quiet_until_) {
      if (until != BootTime::max()) {
        next = std::min(next, until);
        watch_dirty_ = watch_dirty_ || until <= now;
      }
    }
    if (watch_dirty_) {
      rebuild_watch_locked(now);
    }
    fds.assign(1, pollfd{wake_fd_, POLLIN, 0});
    for (int fd : watch_fds_) {
      fds.push_back(pollfd{fd, POLLIN, 0});
    }
    const timespec timeout = timeout_until(next);
    timer_sleeps_until_ = next;
    lock.unlock();
    int n = ::ppoll(fds.data(), fds.size(), &timeout, nullptr);
    lock.lock();
    timer_sleeps_until_ = BootTime::min();
    if (n <= 0) {
      continue;
    }
    if (fds[0].revents != 0) {
      std::uint64_t count = 0;
      (void)!::read(wake_fd_, &count, sizeof count);
    }
    for (std::size_t i = 1; i < fds.size(); ++i) {
      if (fds[i].revents == 0 || i - 1 >= watch_leases_.size()) {
        continue;
      }
      // The server closed a connection, a lock file moved: check its leases now. The fd rests
      // until that check is done.
      std::vector<std::shared_ptr<LeaseState>> check;
      for (auto& weak : watch_leases_[i - 1]) {
        if (auto lease = weak.lock()) {
          check.push_back(std::move(lease));
        }
      }
      watch_dirty_ = true;
      if (!check.empty()) {
        quiet_until_[fds[i].fd] = BootTime::max();
        dispatch_locked(std::move(check), true, fds[i].fd);
      }
    }
  }
}

void Keepalive::run_worker(const std::stop_token& stop) {
  std::unique_lock lock(mu_);
  // A batch is renewed by one worker at a time (RenewBatch's contract): a job for a batch that is
  // in flight waits for it.
  auto runnable = [this] {
    return std::find_if(jobs_.begin(), jobs_.end(), [this](const Job& job) {
      return job.batch == nullptr || !batches_in_flight_.contains(job.batch);
    });
  };
  while (!stop.stop_requested()) {
    auto take = runnable();
    if (take == jobs_.end()) {
      work_cv_.wait(lock, stop, [&] { return runnable() != jobs_.end(); });
      continue;
    }
    Job job = std::move(*take);
    jobs_.erase(take);
    if (job.batch != nullptr) {
      batches_in_flight_.insert(job.batch);
    }
    --idle_workers_;
    lock.unlock();
    std::vector<std::optional<BootTime>> next;
    if (job.batch != nullptr) {
      next = LeaseState::tick_batch(job.leases, *job.batch, boot_now(), job.force);
    } else {
      for (auto& lease : job.leases) {
        next.push_back(lease->tick(boot_now(), job.force));
      }
    }
    lock.lock();
    ++idle_workers_;
    for (std::size_t i = 0; i < job.leases.size(); ++i) {
      auto it = live_.find(job.leases[i].get());
      if (next[i] && it != live_.end()) {
        // A forced check moves the regular entry only earlier (a failed check retries soon); a
        // lease whose regular tick is with another worker meanwhile is put back by that worker.
        const bool in_flight = it->second.due == due_.end();
        if (!job.force) {
          schedule_locked(job.leases[i], *next[i]);
        } else if (!in_flight && *next[i] < it->second.due->first) {
          schedule_locked(job.leases[i], *next[i]);
        }
      }
      const int fd = job.leases[i]->watch_fd();
      if (it != live_.end() && it->second.fd != fd) {
        it->second.fd = fd;
        watch_dirty_ = true;
      }
    }
    if (job.force && job.watch_fd >= 0) {
      quiet_until_[job.watch_fd] = boot_now() + kWatchQuiet;
      watch_dirty_ = true;
    }
    if (job.batch != nullptr) {
      batches_in_flight_.erase(job.batch);
      work_cv_.notify_all();
    }
    wake();
  }
}

}  // namespace heartlock::detail
