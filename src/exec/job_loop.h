// JobLoop: one run of a Supervisor (supervisor.h), the state of its poll loop. Internal to
// src/exec. Lives on the stack of Supervisor::run(); used by that thread only.
#ifndef HEARTLOCK_EXEC_JOB_LOOP_H_
#define HEARTLOCK_EXEC_JOB_LOOP_H_

#include <signal.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "heartlock/lease.h"

#include "exec/heartbeat_socket.h"
#include "exec/job_spec.h"
#include "exec/outcome.h"
#include "exec/spawn.h"
#include "exec/supervisor.h"
#include "exec/watchdog.h"

namespace heartlock::exec {

// One run of a Supervisor: the state of its poll loop. Lives on the stack of run().
class JobLoop {
 public:
  using Clock = std::chrono::steady_clock;

  JobLoop(Supervisor& s, int lost_fd)
      : s_(s), spec_(s.spec_), lease_(s.lease_), lost_fd_(lost_fd) {}
  Outcome run();

 private:
  enum class Stop { none, timed_out, lost };

  void emit(LogLevel level, std::string_view name, std::string text,
            std::vector<std::pair<std::string_view, JobEvent::Value>> fields = {}) const {
    if (s_.events_) {
      s_.events_(JobEvent{level, name, std::move(text), std::move(fields)});
    }
  }
  bool start();
  void publish_kill_by();
  bool done();
  void drain_output();
  void enforce_deadlines();
  void stop_for_deadline();
  void stop_group(Stop why, int sig);
  std::chrono::milliseconds next_wait() const;
  void wait_and_handle();
  void reap();
  void read_signal_fd();
  void forward_signals();
  void read_lost();
  void read_output(Fd& fd, int to);
  Outcome outcome();
  // COMMAND died of the watchdog's SIGKILL at the lease's kill time.
  bool killed_by_watchdog() const;

  Supervisor& s_;
  const JobSpec& spec_;
  Lease& lease_;
  const int lost_fd_;
  HeartbeatSocket beat_;
  Pipe out_;
  Pipe err_;
  std::unique_ptr<Watchdog> watchdog_;
  Spawned child_;
  bool foreground_ = false;
  // The stop rule: SIGKILL at the lease's deadline less the stop margin. `kill_by_` is the latest
  // such time while the lease was valid; it never moves back.
  BootClock::time_point kill_by_;
  std::optional<siginfo_t> child_status_;
  Stop stopping_ = Stop::none;
  std::optional<Clock::time_point> kill_at_;
  bool killed_ = false;
  Clock::time_point start_;
  Clock::time_point last_beat_;  // the last heartbeat from COMMAND (explicit and output modes)
  // time_point::max() for "no timeout" (an optional here trips g++ 12's -Wmaybe-uninitialized).
  Clock::time_point timeout_at_;
  std::uint64_t rejected_ = 0;  // datagrams on the heartbeat socket that were not heartbeats
};

}  // namespace heartlock::exec

#endif  // HEARTLOCK_EXEC_JOB_LOOP_H_
