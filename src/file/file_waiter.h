// FileStore::Waiter: how a FileStore waiter learns that a lock may be free -- an inotify watch on
// the store directory -- and the lock file it keeps open between its tries.
#ifndef HEARTLOCK_FILE_FILE_WAITER_H_
#define HEARTLOCK_FILE_FILE_WAITER_H_

#include "../core/release_waiter.h"
#include "file_store.h"
#include "lock_file.h"

namespace heartlock::detail {

// A waiter on one lock file. The try (claim) keeps its fd to the lock file here between tries:
// closing it would queue a close event on the directory that wakes this waiter, and every other
// one, at once.
//
// Thread-safety: belongs to the one acquire that waits with it. Ownership: owns its lock fd and an
// inotify watch borrowed from the store's pool, which it gives back on destruction; the store must
// outlive it.
class FileStore::Waiter final : public ReleaseWaiter {
 public:
  // Set up before the first try (FileStore::arm_before_first_try), so no release is missed.
  explicit Waiter(FileStore& store) : store_(store), watch_(store.take_watch()) {}
  ~Waiter() override { store_.return_watch(std::move(watch_)); }
  Waiter(const Waiter&) = delete;
  Waiter& operator=(const Waiter&) = delete;

  Result<void> wait(BootTime until, const StopWake& stop) override;

  UniqueFd lock_fd;  // the lock file the last try opened, when it did not take it
  FileId lock_id;

 private:
  FileStore& store_;
  UniqueFd watch_;
};

}  // namespace heartlock::detail

#endif  // HEARTLOCK_FILE_FILE_WAITER_H_
