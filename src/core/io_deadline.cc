#include "io_deadline.h"

namespace heartlock::detail {
namespace {
thread_local BootTime t_io_deadline = kNoIoDeadline;
}  // namespace

BootTime io_deadline() noexcept { return t_io_deadline; }

ScopedIoDeadline::ScopedIoDeadline(BootTime deadline) noexcept : saved_(t_io_deadline) {
  t_io_deadline = std::min(t_io_deadline, deadline);
}

ScopedIoDeadline::~ScopedIoDeadline() { t_io_deadline = saved_; }

}  // namespace heartlock::detail
