#include "worker_pool.h"

#include <algorithm>

namespace heartlock::detail {

WorkerPool::WorkerPool(std::size_t threads) {
  threads_.reserve(std::max<std::size_t>(threads, 1));
  for (std::size_t i = 0; i < std::max<std::size_t>(threads, 1); ++i) {
    threads_.emplace_back([this] { work(); });
  }
}

WorkerPool::~WorkerPool() { shutdown(); }

bool WorkerPool::post(std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    if (closed_) {
      return false;
    }
    tasks_.push_back(std::move(task));
  }
  ready_.notify_one();
  return true;
}

void WorkerPool::shutdown() {
  std::deque<std::function<void()>> dropped;
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    dropped.swap(tasks_);
  }
  ready_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) {
      t.join();
    }
  }
}

void WorkerPool::work() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock lock(mu_);
      ready_.wait(lock, [this] { return closed_ || !tasks_.empty(); });
      if (closed_) {
        return;
      }
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task();
  }
}

}  // namespace heartlock::detail
