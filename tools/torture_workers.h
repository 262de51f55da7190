// The two kinds of worker of heartlock-torture, each a process of its own that writes through the
// fenced resource (fenced_resource.h):
//  - run_worker: the library's view. Loops acquire -> "enter" -> writes while it holds -> "exit"
//    -> release on one lock, until `end`.
//  - run_writer: the COMMAND of CLI mode, run by `heartlock run`: takes its token from
//    HEARTLOCK_TOKEN, writes "enter", writes for a while, writes "exit" and exits. It never looks
//    at the lease: keeping it from writing after the lease is gone is heartlock run's job.
// Hold times: half the sections a few milliseconds (many handovers), half up to twice the ttl
// (renewals happen under faults); a library worker ends each section by Lease::valid_until().
#ifndef HEARTLOCK_TOOLS_TORTURE_WORKERS_H_
#define HEARTLOCK_TOOLS_TORTURE_WORKERS_H_

#include <chrono>
#include <string>

namespace heartlock::tools {

struct WorkerOptions {
  std::string backend;
  std::string resource;  // the fenced resource's socket
  std::chrono::milliseconds ttl{300};
  bool no_lock = false;  // write without taking the lock (the checker must object)
  std::chrono::steady_clock::time_point end;
  unsigned seed = 0;
  long id = 0;  // the worker's name in its writes: the pid the driver knows it by
};

// Returns the process's exit code: 0, or 3 if it cannot open the backend or the resource.
int run_worker(const WorkerOptions& options);

// The writer of CLI mode; reads HEARTLOCK_TOKEN, TORTURE_RESOURCE, TORTURE_WORKER and
// TORTURE_TTL_MS from the environment. Returns 0, or 3 if they are missing or the resource is.
int run_writer();

// The time between two writes while holding.
inline constexpr std::chrono::milliseconds kWriteInterval{2};

}  // namespace heartlock::tools

#endif  // HEARTLOCK_TOOLS_TORTURE_WORKERS_H_
