#include "file_lease.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace heartlock::detail {
namespace {

// Idle inotify instances a store keeps for its next leases. Each counts against the user's
// instance limit (fs.inotify.max_user_instances, 128 by default) while idle; past this many, a
// release closes its instance and pays the kernel's wait (see LockDir::idle_).
constexpr std::size_t kMaxIdleLeaseWatches = 8;

// What moves the directory away: renamed (IN_MOVE_SELF), or removed (IN_DELETE_SELF; only once
// it is empty, i.e. after our file went, which its own watch reports first).
constexpr std::uint32_t kDirEvents = IN_MOVE_SELF | IN_DELETE_SELF | IN_ONLYDIR;

// What moves the lock file away. Renamed: IN_MOVE_SELF. Unlinked, or renamed over by a takeover:
// IN_ATTRIB, which the kernel raises on the inode whenever its link count drops (IN_DELETE_SELF
// comes only once the inode is freed, which our open fd prevents). Watching the file itself
// rather than name events (IN_DELETE, IN_MOVED_FROM/TO, IN_CREATE) in the directory means that
// other locks' files coming and going in the directory wake no lease: those events would reach
// every lease of the directory, for every acquisition of any name.
constexpr std::uint32_t kFileEvents = IN_MOVE_SELF | IN_DELETE_SELF | IN_ATTRIB;

// The path that names the inode an fd has open, for inotify_add_watch: watching through it
// rather than by the lock path cannot watch a file that replaced ours in between.
std::string proc_fd_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

// Reads an inotify instance empty (it is non-blocking).
void drain(int fd) {
  alignas(inotify_event) char buf[4096];
  while (::read(fd, buf, sizeof buf) > 0) {
  }
}

}  // namespace

Result<bool> LockDir::in_place() const {
  struct stat st {};
  // lstat: a symlink put at the path to our directory does not count as our directory (the store
  // refuses a symlinked directory when opened, and so would the next contender).
  if (::lstat(path_.c_str(), &st) != 0) {
    int err = errno;
    if (err == ENOENT || err == ENOTDIR) {
      return false;
    }
    return fail(Errc::unavailable, "stat of lock directory " + path_ + ": " + errno_text(err));
  }
  return st.st_dev == id_.dev && st.st_ino == id_.ino;
}

UniqueFd LockDir::take_lease_watch() {
  UniqueFd watch;
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      watch = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  if (watch) {
    drain(watch.get());  // the removed file watch's IN_IGNORED, a move of the directory meanwhile
    return watch;
  }
  watch.reset(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (watch && ::inotify_add_watch(watch.get(), proc_fd_path(fd_.get()).c_str(), kDirEvents) < 0) {
    watch.reset();  // no watch was added, so this close costs nothing
  }
  return watch;
}

void LockDir::warn_unwatched() {
  if (log_ && !unwatched_warned_.exchange(true)) {
    log_(LogLevel::warn, "cannot watch lock files in " + path_ +
                             " with inotify (fs.inotify.max_user_instances or max_user_watches "
                             "reached?): a lock file moved away is noticed at the next renewal");
  }
}

void LockDir::return_lease_watch(UniqueFd watch) {
  if (!watch) {
    return;
  }
  // Removing a watch queues IN_IGNORED. Consumed here at once, so that the instance does not sit
  // readable in the keepalive's poll set on behalf of the lease that just ended.
  drain(watch.get());
  std::lock_guard lock(mu_);
  if (idle_.size() < kMaxIdleLeaseWatches) {
    idle_.push_back(std::move(watch));
  }
}

// The watch starts kArmDelay after acquisition, not at once. Closing an inotify instance that has
// had a watch waits in the kernel for an SRCU grace period (7-15 ms measured), and a process pays
// that in its exit for the instance it kept: watching from the start made every short
// `heartlock run -n -- true` about 10 ms slower (3.4 ms -> 13.4 ms median; 3 ms again with
// this delay). Most such runs end within kArmDelay and so never create an instance; a run that
// holds longer still pays the wait at exit, a small part of its time. The price: a file or
// directory moved during a lease's first kArmDelay is noticed when the keepalive renews at
// check_by() and renew() starts the watch and checks the paths, i.e. at most kArmDelay late, where
// a watched lease notices at once. (That renewal was a timerfd's wake-up until issue 14: three
// syscalls per acquisition, and a keepalive wake-up to add it to the poll set.)
FileLease::FileLease(std::shared_ptr<LockDir> dir, std::string file, std::string path, UniqueFd fd,
                     FileId id, Record record)
    : dir_(std::move(dir)),
      file_(std::move(file)),
      path_(std::move(path)),
      fd_(std::move(fd)),
      id_(id),
      record_(std::move(record)),
      arm_at_(boot_now() + kArmDelay) {}

void FileLease::arm() {
  watch_ = dir_->take_lease_watch();
  if (watch_) {
    file_wd_ = ::inotify_add_watch(watch_.get(), proc_fd_path(fd_.get()).c_str(), kFileEvents);
    if (file_wd_ < 0) {
      // Watch limit reached: a directory watch alone would miss what matters most. Renewals
      // still check.
      dir_->return_lease_watch(std::move(watch_));
    }
  }
  if (watch_ && fd_.get() < watch_.get()) {
    // When a process dies, the kernel finishes closing its files highest fd first, and closing an
    // inotify instance waits for an SRCU grace period: a lock fd below the instance would keep
    // its flock, and the next holder waiting, 7-8 ms longer after a kill -9 (measured; 0.07 ms
    // above it). The flock belongs to the open file, which the new fd shares, so closing the old
    // fd keeps it.
    if (int above = ::fcntl(fd_.get(), F_DUPFD_CLOEXEC, watch_.get() + 1); above >= 0) {
      fd_.reset(above);
    }
  }
  armed_ = true;
  if (!watch_) {
    dir_->warn_unwatched();
  }
}

int FileLease::dup_lock_fd() const {
  // Above the standard streams, so that a child that redirects them cannot close it by accident.
  return fd_ ? ::fcntl(fd_.get(), F_DUPFD_CLOEXEC, 3) : -1;
}

FileLease::~FileLease() {
  if (!watch_) {
    return;
  }
  // EINVAL: the kernel dropped the watch already (the orphaned inode was freed). Any other
  // failure leaves a watch behind, so that instance is closed rather than reused.
  if (::inotify_rm_watch(watch_.get(), file_wd_) == 0 || errno == EINVAL) {
    dir_->return_lease_watch(std::move(watch_));
  }
}

void FileLease::drain_watch() const {
  if (int fd = watch_fd(); fd >= 0) {
    drain(fd);
  }
}

Result<std::optional<LostReason>> FileLease::check_in_place() const {
  // Our own inode's identity was taken with fstat when the file was opened and cannot change;
  // a path that still resolves to it proves the file is linked there, so no fstat is needed.
  struct stat there {};
  if (::fstatat(AT_FDCWD, path_.c_str(), &there, AT_SYMLINK_NOFOLLOW) != 0) {
    int err = errno;
    if (err == ENOENT || err == ENOTDIR) {
      return std::optional<LostReason>(LostReason::backend_lost);
    }
    return fail(Errc::unavailable, "stat of lock file " + path_ + ": " + errno_text(err));
  }
  if (there.st_dev != id_.dev || there.st_ino != id_.ino) {
    return std::optional<LostReason>(LostReason::taken_over);
  }
  // The path can reach our file through another directory (a hard link in a directory put in
  // place of ours): contenders may still see our flock, but the directory is not the one we
  // hold the lock in any more.
  auto dir = dir_->in_place();
  if (!dir) {
    return std::unexpected(dir.error());
  }
  if (!*dir) {
    return std::optional<LostReason>(LostReason::backend_lost);
  }
  return std::optional<LostReason>();
}

Result<std::optional<LostReason>> FileLease::renew(BootTime last_heartbeat) {
  // Called at check_by(), or by the regular schedule before or after. A move before the watch
  // started raised no event: check_in_place() below is what catches it.
  if (!armed_ && boot_now() >= arm_at_) {
    arm();
  }
  drain_watch();
  auto where = check_in_place();
  if (!where || where->has_value()) {
    return where;
  }
  // No guard needed: if a takeover renames a new file over ours right now, this write lands in
  // our own, orphaned inode, and the watch tells the keepalive at once.
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
  // By path, not through the directory fd: a file still in the directory we opened is no lock
  // once that directory moved, and a "released" record there would hide that we had lost.
  auto where = check_in_place();
  if (!where || where->has_value()) {
    guard->unlock();
    fd_.reset();
    return where;
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
