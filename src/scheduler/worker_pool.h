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

// Runs posted tasks on `threads` threads, in the order posted. A task that throws is dropped.
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

  // Takes no more tasks, and returns once every task posted before has run (the scheduler's
  // stopped runs return at once, recording a skip). Idempotent, also from two threads at once;
  // not from a task.
  void shutdown();

 private:
  void work();

  std::mutex mu_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> tasks_;
  bool closed_ = false;
  std::vector<std::thread> threads_;
  std::mutex join_mu_;  // serialises shutdown()
};

}  // namespace heartlock::detail

#endif  // HEARTLOCK_SCHEDULER_WORKER_POOL_H_
