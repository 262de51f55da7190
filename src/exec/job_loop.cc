#include "exec/job_loop.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>

#include "heartlock/duration.h"

#include "exec/process_group.h"

namespace heartlock::exec {

using std::chrono::milliseconds;

// Starts the watchdog, then COMMAND. Returns false if COMMAND could not be started.
bool JobLoop::start() {
  beat_ = HeartbeatSocket::open();
  std::vector<std::string> extra = spec_.env;
  if (beat_.fd.get() >= 0) {
    extra.push_back(std::string(kHeartbeatSocketEnv) + "=@" + beat_.name);
    extra.push_back(std::string(kHeartbeatSecretEnv) + "=" + beat_.secret);
  }
  const std::vector<std::string> env = child_environment(extra);
  const bool capture = spec_.mode == HeartbeatMode::output;
  out_ = capture ? make_pipe() : Pipe{};
  err_ = capture ? make_pipe() : Pipe{};

  kill_by_ = lease_.valid_until() - spec_.stop_margin;
  {
    // The watchdog keeps the lock's open file (file backend) for as long as COMMAND may run: see
    // watchdog.cc. Our copy is closed once it has its own.
    Fd lock_copy(lease_.dup_lock_fd());
    watchdog_ = Watchdog::start(lock_copy.get(), kill_by_);
  }
  if (!watchdog_) {
    emit(LogLevel::warn, "watchdog",
         "cannot start the watchdog: if this wrapper is killed, the command is not");
  }
  publish_kill_by();
  child_ = spawn(SpawnRequest{.argv = &spec_.argv,
                              .env = &env,
                              .group = watchdog_ ? watchdog_->group() : nullptr,
                              .stdout_fd = capture ? out_.write.get() : spec_.child_stdout,
                              .stderr_fd = capture ? err_.write.get() : spec_.child_stderr,
                              .stdin_fd = spec_.child_stdin});
  out_.write.close();
  err_.write.close();
  if (child_.pid < 0) {
    return false;
  }
  // Also stored here: the child may not have run yet when we go on.
  if (watchdog_) {
    watchdog_->group()->store(child_.pid, std::memory_order_release);
  }
  // Give COMMAND the terminal if we have it, so it can read from it and receive ^C directly.
  foreground_ =
      spec_.foreground && ::isatty(STDIN_FILENO) && ::tcgetpgrp(STDIN_FILENO) == ::getpgrp();
  if (foreground_) {
    ::tcsetpgrp(STDIN_FILENO, child_.pid);
  }
  return true;
}

void JobLoop::publish_kill_by() {
  const BootClock::time_point valid = lease_.valid_until();
  if (valid.time_since_epoch().count() > 0 && valid - spec_.stop_margin > kill_by_) {
    kill_by_ = valid - spec_.stop_margin;
  }
  if (watchdog_) {
    watchdog_->set_kill_at(kill_by_);
  }
}

// Whether supervision is over: COMMAND is gone, the pipes are drained and, if the group was
// stopped, no straggler of it runs (or it was SIGKILLed).
bool JobLoop::done() {
  if (!child_status_) {
    return false;
  }
  const bool pipes_open = out_.read.get() >= 0 || err_.read.get() >= 0;
  const bool stragglers = stopping_ != Stop::none && !killed_ && group_runs(child_.pid);
  if (stragglers) {
    return false;
  }
  if (pipes_open) {
    drain_output();
  }
  return true;
}

// Output mode: forwards what is buffered without waiting for background children that inherited
// the pipe.
void JobLoop::drain_output() {
  for (Fd* fd : {&out_.read, &err_.read}) {
    if (fd->get() < 0) {
      continue;
    }
    ::fcntl(fd->get(), F_SETFL, O_NONBLOCK);
    char buf[65536];
    ssize_t n = 0;
    while ((n = ::read(fd->get(), buf, sizeof buf)) > 0) {
      write_all(fd == &out_.read ? spec_.output_fd : spec_.error_fd, buf,
                static_cast<std::size_t>(n));
    }
    fd->close();
  }
}

void JobLoop::stop_group(Stop why, int sig) {
  if (stopping_ == Stop::none) {
    stopping_ = why;
  }
  ::kill(-child_.pid, sig);
  ::kill(-child_.pid, SIGCONT);  // a stopped group handles TERM only once continued
  // Never later than the lease's deadline allows, also when a forwarded signal set it first.
  auto grace = std::min<Clock::duration>(
      spec_.kill_grace, std::max<Clock::duration>(Clock::duration(0), kill_by_ - BootClock::now()));
  kill_at_ = kill_at_ ? std::min(*kill_at_, Clock::now() + grace) : Clock::now() + grace;
}

void JobLoop::enforce_deadlines() {
  const auto now = Clock::now();
  publish_kill_by();
  const auto boot = BootClock::now();
  if (!child_status_ && !killed_ && boot >= kill_by_) {
    // The deadline is here and no renewal moved it: COMMAND must be gone before anyone else can
    // hold the lock, grace or not.
    emit(LogLevel::error, "lost",
         "lease " + lease_.name() +
             " reached its deadline unconfirmed; killing the command's process group",
         {{"key", lease_.name()}, {"reason", "deadline"}});
    stopping_ = Stop::lost;
    ::kill(-child_.pid, SIGKILL);
    ::kill(-child_.pid, SIGCONT);
    killed_ = true;
  } else if (!child_status_ && stopping_ != Stop::lost && boot >= kill_by_ - spec_.kill_grace) {
    stop_for_deadline();
  }
  if (now >= timeout_at_ && stopping_ == Stop::none && !child_status_) {
    emit(LogLevel::warn, "timeout",
         "timeout of " + format_duration(*spec_.timeout) +
             " reached; stopping the command's process group");
    stop_group(Stop::timed_out, SIGTERM);
  }
  if (kill_at_ && now >= *kill_at_ && !killed_) {
    if (group_runs(child_.pid)) {
      emit(LogLevel::warn, "kill",
           "the command's process group outlived the grace of " +
               format_duration(spec_.kill_grace) + "; sending SIGKILL");
      ::kill(-child_.pid, SIGKILL);
    }
    killed_ = true;
  }
  if (spec_.mode == HeartbeatMode::alive && !child_status_) {
    lease_.heartbeat();
  }
}

// Not renewed in time: starts the stop now, so that the SIGKILL after the grace still lands
// before the deadline.
void JobLoop::stop_for_deadline() {
  const auto boot = BootClock::now();
  const auto left = format_duration(
      std::chrono::duration_cast<milliseconds>(kill_by_ + spec_.stop_margin - boot));
  const auto quiet = std::chrono::duration_cast<milliseconds>(Clock::now() - last_beat_);
  if (spec_.mode != HeartbeatMode::alive && quiet > spec_.stale_after / 2) {
    emit(LogLevel::error, "lost",
         "lease " + lease_.name() + " deadlocked: no heartbeat for " + format_duration(quiet) +
             " (stale_after " + format_duration(spec_.stale_after) + ")" +
             (rejected_ > 0
                  ? "; datagrams ignored for a wrong secret or sender: " + std::to_string(rejected_)
                  : std::string()) +
             "; stopping the command's process group before the lease can be " + "taken over in " +
             left,
         {{"key", lease_.name()}, {"reason", "deadlocked"}});
  } else {
    emit(LogLevel::error, "lost",
         "lease " + lease_.name() + " has no renewal confirmed beyond " + left +
             " from now; stopping the command's process group before it can expire",
         {{"key", lease_.name()}, {"reason", "deadline"}});
  }
  stopping_ = Stop::lost;  // overrides a timeout in progress
  stop_group(Stop::lost, SIGTERM);
}

milliseconds JobLoop::next_wait() const {
  // In alive mode the heartbeat a renewal publishes is the last one this loop gave: keep it
  // fresh against stale_after (the stop rule assumes it is about as new as the renewal).
  milliseconds wait(250);
  if (spec_.mode == HeartbeatMode::alive && spec_.stale_after.count() > 0) {
    wait = std::min(wait, std::max(milliseconds(1), spec_.stale_after / 16));
  }
  auto until = [&](Clock::time_point t) {
    auto left = std::chrono::ceil<milliseconds>(t - Clock::now());
    wait = std::max(milliseconds(0), std::min(wait, left));
  };
  if (spec_.timeout && stopping_ == Stop::none) {
    until(timeout_at_);
  }
  if (kill_at_ && !killed_) {
    until(*kill_at_);
  }
  if (!child_status_ && !killed_) {
    // Wake for the stop (or the SIGKILL) the deadline asks for.
    const auto at = stopping_ == Stop::lost ? kill_by_ : kill_by_ - spec_.kill_grace;
    auto left = std::chrono::ceil<milliseconds>(at - BootClock::now());
    wait = std::max(milliseconds(0), std::min(wait, left));
  }
  if (child_status_) {
    wait = std::min(wait, milliseconds(10));  // polling a group for stragglers
  }
  return wait;
}

bool JobLoop::killed_by_watchdog() const {
  return watchdog_ && watchdog_->fired() && child_status_ && child_status_->si_code != CLD_EXITED &&
         child_status_->si_status == SIGKILL;
}

Outcome JobLoop::outcome() {
  if (stopping_ == Stop::none &&
      (lease_.lost() || BootClock::now() >= kill_by_ || killed_by_watchdog())) {
    // COMMAND ended past the lease's deadline or while it was lost (the watchdog's SIGKILL at the
    // deadline while this supervisor was not running, or a loss at the moment it exited). The
    // watchdog may also have fired while this supervisor was stopped, and a renewal made after it
    // resumed, still before the deadline, moved the kill time on: COMMAND was stopped for the
    // lease all the same (a torture run saw that reported as a SIGKILL, exit 137).
    emit(LogLevel::error, "lost", "lease " + lease_.name() + " was lost while the command ran",
         {{"key", lease_.name()}});
    stopping_ = Stop::lost;
  }
  Outcome out{.pid = child_.pid};
  if (stopping_ == Stop::lost) {
    out.kind = Outcome::Kind::lost;
  } else if (stopping_ == Stop::timed_out) {
    out.kind = Outcome::Kind::timed_out;
  } else if (child_status_->si_code == CLD_EXITED) {
    out.kind = Outcome::Kind::exited;
    out.code = child_status_->si_status;
  } else {
    out.kind = Outcome::Kind::signaled;
    out.signal = child_status_->si_status;
  }
  return out;
}

Outcome JobLoop::run() {
  if (!start()) {
    if (watchdog_) {
      watchdog_->finish();
    }
    return Outcome{.kind = Outcome::Kind::spawn_failed, .error = child_.error};
  }
  start_ = Clock::now();
  last_beat_ = start_;
  timeout_at_ = spec_.timeout ? start_ + *spec_.timeout : Clock::time_point::max();
  while (!done()) {
    enforce_deadlines();
    wait_and_handle();
  }
  if (foreground_) {
    ::tcsetpgrp(STDIN_FILENO, ::getpgrp());  // SIGTTOU is blocked, so this works from behind
  }
  if (rejected_ > 0) {
    emit(LogLevel::debug, "heartbeat_rejected",
         "datagrams ignored on the heartbeat socket for a wrong secret or sender: " +
             std::to_string(rejected_),
         {{"count", static_cast<std::int64_t>(rejected_)}});
  }
  if (watchdog_) {
    watchdog_->finish();
  }
  return outcome();
}

}  // namespace heartlock::exec
