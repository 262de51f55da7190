#include "exec/supervisor.h"

#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>
#include <utility>

#include "exec/job_loop.h"

namespace heartlock::exec {

Supervisor::Supervisor(Lease& lease, JobSpec spec, JobEventSink events)
    : lease_(lease),
      spec_(std::move(spec)),
      events_(std::move(events)),
      wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

Supervisor::~Supervisor() = default;

Outcome Supervisor::run(int lost_fd) {
  JobLoop loop(*this, lost_fd);
  return loop.run();
}

void Supervisor::forward_signal(int sig) noexcept {
  try {
    std::lock_guard lock(mu_);
    pending_.push_back(sig);
  } catch (...) {
    return;  // out of memory: the signal is dropped
  }
  const std::uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof one);
}

void Supervisor::stop() noexcept { forward_signal(SIGTERM); }

std::vector<int> Supervisor::take_signals() {
  std::lock_guard lock(mu_);
  return std::exchange(pending_, {});
}

}  // namespace heartlock::exec
