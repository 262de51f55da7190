// WorkerPool: a fixed number of threads running queued tasks in order.
#ifndef HEARTLOCK_SCHEDULER_WORKER_POOL_H_
#define HEARTLOCK_SCHEDULER_WORKER_POOL_H_

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace heartlock::detail {

// Runs posted tasks on `threads` threads, in the order posted.
//
// Thread-safety: post() and shutdown() may be called from any thread, post() also from a task.
// Lifetime: the destructor shuts down (discarding what has not started) and joins.
class WorkerPool {
 public:
  explicit WorkerPool(std::size_t threads);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // False once shut down (the task is dropped).
  bool post(std::function<void()> task);

  // Drops the tasks that have not started, and waits for those that have. Idempotent; not from
  // a task.
  void shutdown();

 private:
  void work();

  std::mutex mu_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> tasks_;
  bool closed_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace heartlock::detail

#endif  // HEARTLOCK_SCHEDULER_WORKER_POOL_H_
