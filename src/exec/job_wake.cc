// The JobLoop's wakeups (job_loop.h): COMMAND exited, signals to forward, a lost lease,
// heartbeats, output.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>

#include "heartlock/duration.h"

#include "exec/job_loop.h"
#include "exec/process_group.h"

namespace heartlock::exec {

void JobLoop::wait_and_handle() {
  pollfd fds[7] = {{child_status_ ? -1 : child_.pidfd.get(), POLLIN, 0},
                   {s_.wake_.get(), POLLIN, 0},
                   {lost_fd_, POLLIN, 0},
                   {beat_.fd.get(), POLLIN, 0},
                   {out_.read.get(), POLLIN, 0},
                   {err_.read.get(), POLLIN, 0},
                   {spec_.signal_fd, POLLIN, 0}};
  const int n = ::poll(fds, 7, static_cast<int>(next_wait().count()));
  if (n < 0 && errno != EINTR) {
    emit(LogLevel::error, "error", "poll: " + std::system_category().message(errno));
    stop_group(Stop::none, SIGTERM);
  }
  if (n <= 0) {
    return;
  }
  if (fds[0].revents & POLLIN) {
    reap();
  }
  if (fds[6].revents & POLLIN) {
    read_signal_fd();
  }
  if ((fds[1].revents | fds[6].revents) & POLLIN) {
    forward_signals();
  }
  if (fds[2].revents & POLLIN) {
    read_lost();
  }
  auto reject = [&](std::string_view why, const ucred& sender) {
    if (rejected_++ == 0) {  // the first only: a flood must not flood the log too
      emit(LogLevel::debug, "heartbeat_rejected",
           "ignored a datagram on the heartbeat socket from pid " + std::to_string(sender.pid) +
               " uid " + std::to_string(sender.uid) + ": " + std::string(why),
           {{"pid", std::int64_t{sender.pid}},
            {"uid", std::int64_t{sender.uid}},
            {"reason", std::string(why)}});
    }
  };
  if ((fds[3].revents & POLLIN) && beat_.read_heartbeats(reject) > 0) {
    lease_.heartbeat();
    last_beat_ = Clock::now();
  }
  if (fds[4].revents & (POLLIN | POLLHUP)) {
    read_output(out_.read, spec_.output_fd);
  }
  if (fds[5].revents & (POLLIN | POLLHUP)) {
    read_output(err_.read, spec_.error_fd);
  }
}

// Reaps exactly our child, through its pidfd.
void JobLoop::reap() {
  siginfo_t info{};
  const int rc = ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(child_.pidfd.get()),
                          &info, WEXITED | WNOHANG);
  if (rc == 0 && info.si_pid != 0) {
    child_status_ = info;
  } else if (rc != 0 && errno == ECHILD) {
    // The kernel reaped it already: the process ignores SIGCHLD (an embedding program's choice;
    // the CLI resets it). The pidfd said it exited; its status is gone. Without this, the loop
    // would poll a readable pidfd for ever.
    emit(LogLevel::warn, "exit-status-unknown",
         "the command exited but its status is unknown (SIGCHLD is ignored in this process, so "
         "the kernel reaped it): reported as exit status 255");
    info.si_code = CLD_EXITED;
    info.si_status = 255;
    child_status_ = info;
  }
}

// Queues what the caller's signalfd holds (JobSpec::signal_fd); forward_signals() passes it on.
// One read per wakeup: it cannot block after POLLIN even if the caller's fd is blocking, and
// what it leaves (more than 16 signals at once) wakes the next poll.
void JobLoop::read_signal_fd() {
  signalfd_siginfo infos[16];
  const ssize_t n = ::read(spec_.signal_fd, infos, sizeof infos);
  for (ssize_t i = 0; n > 0 && i < n / static_cast<ssize_t>(sizeof infos[0]); ++i) {
    s_.forward_signal(static_cast<int>(infos[i].ssi_signo));
  }
}

void JobLoop::forward_signals() {
  std::uint64_t count = 0;
  (void)!::read(s_.wake_.get(), &count, sizeof count);
  for (int sig : s_.take_signals()) {
    emit(LogLevel::warn, "signal",
         "got signal " + std::to_string(sig) + "; passing it to the command");
    ::kill(-child_.pid, sig);
    ::kill(-child_.pid, SIGCONT);
    if (!kill_at_) {
      kill_at_ = Clock::now() + spec_.kill_grace;
    }
  }
}

void JobLoop::read_lost() {
  std::uint64_t count = 0;
  (void)!::read(lost_fd_, &count, sizeof count);
  auto reason = lease_.lost_reason();
  if (stopping_ != Stop::lost && !child_status_) {
    const std::string why(reason ? to_string(*reason) : "unknown");
    emit(LogLevel::error, "lost",
         "lease " + lease_.name() + " lost (" + why + "); stopping the command's process group",
         {{"key", lease_.name()}, {"reason", why}});
    stopping_ = Stop::lost;  // overrides a timeout in progress
    stop_group(Stop::lost, SIGTERM);
  }
}

void JobLoop::read_output(Fd& fd, int to) {
  char buf[65536];
  const ssize_t len = ::read(fd.get(), buf, sizeof buf);
  if (len <= 0) {
    fd.close();
    return;
  }
  write_all(to, buf, static_cast<std::size_t>(len));
  if (std::memchr(buf, '\n', static_cast<std::size_t>(len)) != nullptr) {
    lease_.heartbeat();
    last_beat_ = Clock::now();
  }
}

}  // namespace heartlock::exec
