#include "signals.h"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <utility>

namespace heartlock::cli {
namespace {

sigset_t supervised_signals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGTTOU}) {
    sigaddset(&set, sig);
  }
  return set;
}

}  // namespace

void block_supervised_signals() {
  sigset_t set = supervised_signals();
  ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
  // A SIGCHLD ignored by whoever started us (SIG_IGN survives exec) would make the kernel reap
  // COMMAND before we learn its exit status, and COMMAND would inherit it ignored too.
  ::signal(SIGCHLD, SIG_DFL);
}

exec::Fd forwarded_signal_fd() {
  sigset_t set = supervised_signals();
  sigdelset(&set, SIGTTOU);
  return exec::Fd(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
}

SignalForwarder::SignalForwarder(std::function<void(int)> on_signal)
    : on_signal_(std::move(on_signal)) {
  const sigset_t set = supervised_signals();
  signals_ = exec::Fd(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  stop_ = exec::Fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (stop_.get() >= 0) {  // else it could not be stopped: the signals stay pending
    thread_ = std::thread([this] { forward(); });
  }
}

SignalForwarder::~SignalForwarder() {
  if (thread_.joinable()) {
    const std::uint64_t one = 1;
    (void)!::write(stop_.get(), &one, sizeof one);
    thread_.join();
  }
}

void SignalForwarder::forward() const {
  for (;;) {
    pollfd fds[2] = {{signals_.get(), POLLIN, 0}, {stop_.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) {
      return;
    }
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo info{};
      while (::read(signals_.get(), &info, sizeof info) == sizeof info) {
        const int sig = static_cast<int>(info.ssi_signo);
        if (sig != SIGTTOU) {
          on_signal_(sig);
        }
      }
    }
    if (fds[1].revents & POLLIN) {
      return;
    }
  }
}

}  // namespace heartlock::cli
