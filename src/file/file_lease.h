// FileLease: a held lock file. The holder keeps an exclusive flock(2) on the file for the whole
// lease, so when the process dies the kernel frees it at once, and it writes its record only
// through its own fd: after a takeover renames a new file over the path, the old holder's writes
// land in its own orphaned inode and can never touch the newcomer's.
//
// The lock is the file *at the lock path*: contenders open the path, so a holder whose file was
// renamed away or unlinked, or whose directory was moved, holds nothing anyone else can see. Each
// lease therefore watches its file and directory with inotify, from kArmDelay after acquisition
// on, and checks, on every renewal and on release, that both are still where it found them.
#ifndef HEARTLOCK_FILE_FILE_LEASE_H_
#define HEARTLOCK_FILE_FILE_LEASE_H_

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "heartlock/options.h"

#include "../core/backend_lease.h"
#include "lock_file.h"
#include "record.h"

namespace heartlock::detail {

// LockDir: the store's directory as the store and its leases need it -- the open fd every *at()
// call goes through, its path and identity (to tell whether the path still names it), and the
// pool of idle inotify instances leases watch through.
// Thread-safety: fd(), path(), id() and in_place() are immutable reads; the pool has its own
// mutex; warn_unwatched() may be called from any thread. Shared by the FileStore and each
// FileLease, so a lease may outlive its store.
class LockDir {
 public:
  // `log`: the store's sink, for warn_unwatched().
  LockDir(UniqueFd fd, std::string path, FileId id, LogSink log)
      : fd_(std::move(fd)), path_(std::move(path)), id_(id), log_(std::move(log)) {}
  LockDir(const LockDir&) = delete;
  LockDir& operator=(const LockDir&) = delete;

  int fd() const noexcept { return fd_.get(); }
  const std::string& path() const noexcept { return path_; }
  const FileId& id() const noexcept { return id_; }

  // Whether path() still names the directory we opened: false once it was moved, removed or
  // replaced (a symlink put there included). Errc::unavailable when stat fails otherwise.
  [[nodiscard]] Result<bool> in_place() const;

  // An inotify instance (non-blocking, close-on-exec) with a watch on this directory for being
  // moved or removed and nothing queued: an idle one from the pool, else a new one. An invalid fd
  // when inotify is unavailable (the user's instance or watch limit is reached).
  UniqueFd take_lease_watch();
  // Takes back an instance from take_lease_watch() once every watch but the directory's is gone.
  void return_lease_watch(UniqueFd watch);

  // Logs, the first time only, that a lease here could not be watched (inotify limits reached).
  void warn_unwatched();

 private:
  const UniqueFd fd_;
  const std::string path_;
  const FileId id_;
  const LogSink log_;
  std::atomic<bool> unwatched_warned_{false};
  // Idle instances. Closing one that has had a watch waits for an SRCU grace period in the kernel
  // (7-15 ms measured), which would land on every release; so they are reused. (A process that
  // exits with one open pays that wait once, in its exit.)
  std::mutex mu_;
  std::vector<UniqueFd> idle_;  // guarded by mu_
};

// Thread-safety: none needed; LeaseState serialises calls. Keeps its LockDir alive itself.
class FileLease final : public BackendLease {
 public:
  // How long after acquisition the inotify watch starts. Until then a move of the file or the
  // directory is noticed when the watch starts, i.e. at most this late (see file_lease.cc).
  static constexpr std::chrono::milliseconds kArmDelay{100};

  // Takes over `fd`, which holds the flock of inode `id` and is at `path` (the directory's path
  // and `file`). Its watch starts at the first renew() from kArmDelay on (check_by()). Check
  // check_in_place() once afterwards: a watch started now would see nothing that happened before.
  FileLease(std::shared_ptr<LockDir> dir, std::string file, std::string path, UniqueFd fd,
            FileId id, Record record);
  ~FileLease() override;
  FileLease(const FileLease&) = delete;
  FileLease& operator=(const FileLease&) = delete;

  // Starts the watch first if kArmDelay has passed since acquisition, then checks the paths.
  // A lease found lost before its watch started stops waiting for it (watch_fd() is -1 then).
  Result<std::optional<LostReason>> renew(BootTime last_heartbeat) override;
  // Never starts the watch.
  Result<std::optional<LostReason>> release(std::chrono::nanoseconds hold_for) override;
  // Once the watch started, the inotify instance: readable once the lock file is renamed, unlinked
  // or renamed over, or its directory is moved or removed. -1 before, and without inotify (then
  // only renewals check).
  int watch_fd() const override { return watch_.get(); }
  // Until the watch started, when it is due (kArmDelay after acquisition): the keepalive renews
  // then, and that renew() starts it. max() after.
  BootTime check_by() const override { return armed_ ? BootTime::max() : arm_at_; }
  int dup_lock_fd() const override;

  // Whether the lock path still names our file and the directory path our directory. nullopt if
  // so; LostReason::taken_over if another file sits at the lock path; LostReason::backend_lost if
  // nothing does, or the directory moved. Errc::unavailable if stat fails otherwise.
  [[nodiscard]] Result<std::optional<LostReason>> check_in_place() const;

 private:
  // Starts the inotify watch. Afterwards watch_ is the instance, or invalid if inotify is
  // unavailable (logged once per LockDir).
  void arm();
  // Reads and discards whatever the watch has queued. The events only
  // say "look now"; what counts is check_in_place(), which runs after the drain so that a later
  // event stays queued.
  void drain_watch() const;

  std::shared_ptr<LockDir> dir_;
  std::string file_;
  std::string path_;
  UniqueFd fd_;
  FileId id_;
  Record record_;
  BootTime arm_at_;     // acquisition + kArmDelay
  bool armed_ = false;  // arm() ran
  UniqueFd watch_;      // from dir_->take_lease_watch() in arm(); returned there by the destructor
  int file_wd_ = -1;    // the watch on our lock file inside watch_
};

}  // namespace heartlock::detail

#endif  // HEARTLOCK_FILE_FILE_LEASE_H_
