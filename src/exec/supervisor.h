// Supervisor: runs one job's COMMAND under a lease, in its own process group, supervised until it
// ends; stopped (TERM, then KILL after a grace) when the lease is lost or reaches its deadline
// unrenewed, or the job's timeout passes. A per-job watchdog (watchdog.h) stops COMMAND's group
// if this process dies or stalls.
//
// Many supervisors may run at once, each on its own thread, in one process: each waits for
// exactly its own child (a pidfd; nothing waits for "any child"), has its own watchdog, heartbeat
// socket and wakeup. The process-wide state stays the application's: the signal mask, signal
// handlers and signalfds (deliver signals meant for a job with forward_signal(), or have run()
// read them from a signalfd: JobSpec::signal_fd), and the
// subreaper flag (not needed: group checks here ignore zombies).
//
// Ownership: the caller owns the Lease, which must outlive run(). Thread-safety: run() once, on a
// thread that stays until it returns (COMMAND dies with that thread: PR_SET_PDEATHSIG);
// forward_signal() and stop() from any thread at any time, before or during run().
#ifndef HEARTLOCK_EXEC_SUPERVISOR_H_
#define HEARTLOCK_EXEC_SUPERVISOR_H_

#include <mutex>
#include <vector>

#include "heartlock/lease.h"

#include "exec/fd.h"
#include "exec/job_spec.h"
#include "exec/outcome.h"

namespace heartlock::exec {

class Supervisor {
 public:
  // `events` (may be empty) receives what happens, on the thread of run().
  Supervisor(Lease& lease, JobSpec spec, JobEventSink events = {});
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;
  ~Supervisor();

  // Starts COMMAND and supervises it until it has exited and, if it was stopped, its process
  // group is gone (or was SIGKILLed). `lost_fd` becomes readable when the lease is lost (an
  // eventfd the lease's on_lost writes to), or is -1: then a loss is noticed by the lease's
  // deadline passing. Returns how the job ended.
  Outcome run(int lost_fd = -1);

  // Passes `sig` to COMMAND's group (and SIGCONT), as a terminal or init would to a foreground
  // job, and starts the kill grace: the group is SIGKILLed if it outlives it. Before COMMAND runs,
  // the signal waits for it. Wakes run() through an eventfd.
  void forward_signal(int sig) noexcept;
  // Stops the job: forward_signal(SIGTERM).
  void stop() noexcept;

 private:
  friend class JobLoop;
  // The signals forward_signal() queued, for run(); empty if none.
  std::vector<int> take_signals();

  Lease& lease_;
  const JobSpec spec_;
  const JobEventSink events_;
  Fd wake_;  // eventfd: forward_signal() was called
  std::mutex mu_;
  std::vector<int> pending_;  // guarded by mu_
};

}  // namespace heartlock::exec

#endif  // HEARTLOCK_EXEC_SUPERVISOR_H_
