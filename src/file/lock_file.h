// Low-level operations on one lock file. All paths are relative to the store's directory fd and
// never follow symlinks, so nothing a name maps to can escape the directory.
#ifndef HEARTLOCK_FILE_LOCK_FILE_H_
#define HEARTLOCK_FILE_LOCK_FILE_H_

#include <sys/types.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "heartlock/error.h"

#include "record.h"

namespace heartlock::detail {

// Owns a file descriptor; closes it (best effort, never throws) on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    reset(std::exchange(o.fd_, -1));
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }
  void reset(int fd = -1) noexcept {
    if (fd_ >= 0) {
      ::close(fd_);
    }
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// The text of an errno value. (strerror is not thread-safe.)
std::string errno_text(int err);

// "uid 65534 (nobody)": a uid and, when the user database names it, its name.
std::string describe_uid(uid_t uid);

// Which inode a lock fd has open; remembered so that checks need no fstat of our own fd.
struct FileId {
  dev_t dev = 0;
  ino_t ino = 0;
};

// Opens the lock file `file` in `dir`, creating it (0600) if `create`, and stores its identity in
// `id`. Refuses a symlink, anything but a regular file, and a file owned by another user (who
// could rename or unlink it under its holder) with Errc::permission_denied; ENOENT without
// `create` is Errc::not_owner ("no such lock"). The fd is O_RDWR and close-on-exec.
Result<UniqueFd> open_lock_file(int dir, const std::string& file, bool create,
                                std::string_view path, FileId& id);

// Whether `file` in `dir` is still the inode `id` (false once renamed over or removed).
Result<bool> still_linked(const FileId& id, int dir, const std::string& file);

// The guard serialises the few steps that must not interleave on one lock file: verifying which
// inode is current, reading the record and either writing our own or renaming a new file over it.
// It is an OFD byte-range lock on byte 0 of the lock file, which the kernel keeps apart from the
// flock(2) lock that marks the holder (so util-linux flock(1) is unaffected), and which vanishes
// with its fd if the process dies. Callers hold it for microseconds; a process stopped while
// holding it makes others give up after kGuardPatience with Errc::unavailable.
class Guard {
 public:
  Guard() = default;
  Guard(Guard&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Guard& operator=(Guard&& o) noexcept;
  Guard(const Guard&) = delete;
  Guard& operator=(const Guard&) = delete;
  ~Guard() { unlock(); }
  void unlock() noexcept;

 private:
  friend Result<Guard> take_guard(int fd, std::string_view path);
  explicit Guard(int fd) noexcept : fd_(fd) {}
  int fd_ = -1;
};

Result<Guard> take_guard(int fd, std::string_view path);

// Reads the record in `fd`. With `retry_torn`, a corrupt read is retried a few times, because the
// holder may have been rewriting it; a record that stays corrupt is reported corrupt.
ParsedRecord read_record(int fd, bool retry_torn);

// Writes `record` in place at offset 0 with one pwrite. If the file is known to hold at least
// `known_size` bytes, more than a page beyond the record, the rest is cut off (junk such as a
// planted file). Pass 0 when it does not matter (renewals).
Result<void> write_record(int fd, const Record& record, std::size_t known_size,
                          std::string_view path);

// The pid holding a flock(2) lock on inode (dev, ino) according to /proc/locks, 0 if none is
// listed, -1 if /proc/locks cannot be read.
std::int64_t flock_holder_pid(dev_t dev, ino_t ino);

}  // namespace heartlock::detail

#endif  // HEARTLOCK_FILE_LOCK_FILE_H_
