// Watchdog: one small process per job that stops COMMAND's group when its supervisor cannot.
//
// If the supervisor's process dies (even by SIGKILL), COMMAND must not go on as if it held the
// lock. The watchdog, started before COMMAND into a process group of its own, holds the read end
// of a pipe whose only writer is the supervisor: when the process dies the pipe reports EOF and
// the watchdog SIGKILLs COMMAND's whole group at once. (A parent-death signal would reach only
// the direct child, not its children.) It also holds the lease's SIGKILL time, which the
// supervisor moves on after each confirmed renewal: if the supervisor is stopped (SIGSTOP),
// starved or hung and the time passes unextended, the watchdog kills COMMAND's group itself.
// Enforcing the deadline must not depend on the supervisor being scheduled.
//
// Each Watchdog has its own shared page and stack, so any number of jobs may run at once.
// Ownership: the object owns the process and its memory; destroying it (or finish()) tells the
// watchdog "done" and reaps it. Thread-safety: set_kill_at() and group() may be used from the
// job's thread only; the process reads what they store at any time.
#ifndef HEARTLOCK_EXEC_WATCHDOG_H_
#define HEARTLOCK_EXEC_WATCHDOG_H_

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>

#include "heartlock/clock.h"

#include "exec/fd.h"

namespace heartlock::exec {

struct WatchdogArgs;

class Watchdog {
 public:
  // Starts a watchdog for a job whose COMMAND the calling thread will fork. `lock_fd` (or -1) is
  // on the lease's locked open file (file backend): the watchdog keeps it open until COMMAND's
  // group is gone after the supervisor died. `kill_at` is the first SIGKILL time; it may only
  // move later. Returns nullptr if no watchdog could be started.
  static std::unique_ptr<Watchdog> start(int lock_fd, BootClock::time_point kill_at);

  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;
  ~Watchdog();

  // Where COMMAND's group goes (COMMAND stores it itself before it execs; see spawn.h).
  std::atomic<pid_t>* group() noexcept;
  // Moves the SIGKILL time on.
  void set_kill_at(BootClock::time_point kill_at) noexcept;
  // Whether the kill time came while COMMAND ran, and the watchdog SIGKILLed its group: the
  // supervisor had not moved the time on (it was stopped, or its renewals were late), even if a
  // renewal went through afterwards.
  bool fired() const noexcept;
  // Tells the watchdog the job is done, and reaps it.
  void finish() noexcept;

 private:
  Watchdog() = default;

  WatchdogArgs* args_ = nullptr;  // MAP_SHARED page (under the sanitizers it is forked)
  void* stack_ = nullptr;         // its stack, when cloned with CLONE_VM
  Fd pipe_;                       // the write end: EOF (or "x") ends it
  pid_t pid_ = -1;
};

}  // namespace heartlock::exec

#endif  // HEARTLOCK_EXEC_WATCHDOG_H_
