#include "file_lease.h"

#include <sys/file.h>

namespace heartlock::detail {

Result<std::optional<LostReason>> FileLease::check_linked() {
  auto linked = still_linked(id_, dir_->get(), file_);
  if (!linked) {
    return std::unexpected(linked.error());
  }
  if (!*linked) {
    return std::optional<LostReason>(LostReason::taken_over);
  }
  return std::optional<LostReason>();
}

Result<std::optional<LostReason>> FileLease::renew(BootTime last_heartbeat) {
  auto linked = check_linked();
  if (!linked || linked->has_value()) {
    return linked;
  }
  // No guard needed: if a takeover renames a new file over ours right now, this write lands in
  // our own, orphaned inode, and the next renewal notices.
  record_.renewed_at = boot_now();
  record_.heartbeat_at = last_heartbeat;
  if (auto ok = write_record(fd_.get(), record_, 0, path_); !ok) {
    return std::unexpected(ok.error());
  }
  return std::optional<LostReason>();
}

Result<std::optional<LostReason>> FileLease::release(std::chrono::nanoseconds hold_for) {
  // Under the guard, so that a contender deciding on a takeover either sees our "released" record
  // or has already renamed its own file in (and then we learn that we lost).
  auto guard = take_guard(fd_.get(), path_);
  if (!guard) {
    fd_.reset();  // closing frees the flock; the record still says held, i.e. "dead"
    return std::unexpected(guard.error());
  }
  auto linked = check_linked();
  if (!linked || linked->has_value()) {
    guard->unlock();
    fd_.reset();
    return linked;
  }
  record_.state = Record::State::released;
  BootTime now = boot_now();
  record_.renewed_at = now;
  record_.hold_until = hold_for.count() > 0 ? now + hold_for : BootTime(0);
  auto wrote = write_record(fd_.get(), record_, 0, path_);
  guard->unlock();
  fd_.reset();  // closing the only fd drops the flock and wakes waiters (IN_CLOSE_WRITE)
  if (!wrote) {
    return std::unexpected(wrote.error());
  }
  return std::optional<LostReason>();
}

}  // namespace heartlock::detail
