// The signals `heartlock run` passes on to COMMAND and that end a wait for the lock. The process's
// signal mask is the CLI's: it blocks these signals in main() and reads them from a signalfd.
#ifndef HEARTLOCK_CLI_SIGNALS_H_
#define HEARTLOCK_CLI_SIGNALS_H_

#include <functional>
#include <thread>

#include "exec/fd.h"

namespace heartlock::cli {

// Blocks the signals a job's supervision receives (SIGTERM, SIGINT, SIGHUP, SIGQUIT, and SIGTTOU
// so that the terminal can be taken back from behind). Call at the start of main, before any
// thread exists, so that every thread inherits the mask.
void block_supervised_signals();

// A non-blocking signalfd for the signals a job passes on to COMMAND (SIGTERM, SIGINT, SIGHUP,
// SIGQUIT; not SIGTTOU), for exec::JobSpec::signal_fd: the job's own poll loop reads it, with no
// thread of ours. Invalid (-1) if the kernel refuses one; then signals stay pending, unforwarded.
exec::Fd forwarded_signal_fd();

// While it lives, reads the blocked signals from a signalfd on a thread of its own and hands
// each (but SIGTTOU) to `on_signal` on that thread: `heartlock run -w` to cancel its wait for the
// lock, `heartlock cron` to shut down. (A running job reads forwarded_signal_fd() in its own
// loop instead.) Signals that arrived before it was
// made (and were not read by an earlier one) are handed on too. Not thread-safe; whatever
// `on_signal` uses must outlive it.
class SignalForwarder {
 public:
  explicit SignalForwarder(std::function<void(int)> on_signal);
  SignalForwarder(const SignalForwarder&) = delete;
  SignalForwarder& operator=(const SignalForwarder&) = delete;
  ~SignalForwarder();  // stops and joins the thread

 private:
  void forward() const;

  exec::Fd signals_;  // signalfd
  exec::Fd stop_;     // eventfd: the thread ends
  std::function<void(int)> on_signal_;
  std::thread thread_;
};

}  // namespace heartlock::cli

#endif  // HEARTLOCK_CLI_SIGNALS_H_
