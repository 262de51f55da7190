// FileStore's release waiter and its pool of inotify watches on the store directory.
#include "file_waiter.h"

#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <string>

namespace heartlock::detail {
namespace {

using std::chrono::milliseconds;

// inotify on the store directory: wakes a waiter when a lock file is closed (the holder released
// it or died), written (a released record) or replaced (a takeover). The waiter keeps its own fd
// to the lock file open while it waits, so its own retries cause no close events.
UniqueFd watch_dir(int dir) {
  int fd = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (fd < 0) {
    return UniqueFd();
  }
  std::string path = "/proc/self/fd/" + std::to_string(dir);
  if (::inotify_add_watch(fd, path.c_str(),
                          IN_CLOSE_WRITE | IN_CLOSE_NOWRITE | IN_MODIFY | IN_MOVED_TO | IN_DELETE) <
      0) {
    ::close(fd);
    return UniqueFd();
  }
  return UniqueFd(fd);
}

// Reads and drops every event queued on an inotify fd.
void drain(int inotify_fd) {
  char buf[4096];
  while (::read(inotify_fd, buf, sizeof buf) > 0) {
  }
}

}  // namespace

UniqueFd FileStore::take_watch() {
  {
    std::lock_guard lock(watches_mu_);
    if (!idle_watches_.empty()) {
      UniqueFd watch = std::move(idle_watches_.back());
      idle_watches_.pop_back();
      return watch;
    }
  }
  return watch_dir(dir_->fd());
}

void FileStore::return_watch(UniqueFd watch) {
  if (!watch) {
    return;
  }
  drain(watch.get());
  std::lock_guard lock(watches_mu_);
  if (idle_watches_.size() < 4) {
    idle_watches_.push_back(std::move(watch));
  }  // else: closed here, off nobody's critical path but this waiter's, which is done
}

Result<void> FileStore::Waiter::wait(BootTime until, const StopWake& stop) {
  if (!watch_) {
    // No inotify (its limit reached): fall back to short polls.
    wait_readable(-1, std::min(until, boot_now() + milliseconds(10)), stop);
  } else if (wait_readable(watch_.get(), until, stop)) {
    drain(watch_.get());
  }
  return {};
}

std::unique_ptr<ReleaseWaiter> FileStore::release_waiter(std::string_view /*name*/) {
  return std::make_unique<Waiter>(*this);
}

}  // namespace heartlock::detail
