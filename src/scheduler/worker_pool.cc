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
  std::lock_guard joining(join_mu_);  // a second caller waits for the first
  {
    std::lock_guard lock(mu_);
    closed_ = true;
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
      if (tasks_.empty()) {
        return;  // closed, and nothing is left
      }
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    try {
      task();
    } catch (...) {
      // A task's exception must not end the worker (std::terminate); tasks report their own.
    }
  }
}

}  // namespace heartlock::detail
