#include "lock_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <sstream>
#include <system_error>
#include <thread>

namespace heartlock::detail {
namespace {

// How long take_guard() waits for a guard held by another process before giving up. The guard is
// held for microseconds, so only a stopped (SIGSTOP) or wedged process holds it this long.
constexpr auto kGuardPatience = std::chrono::seconds(2);

Errc errc_of(int err) {
  return err == EACCES || err == EPERM || err == EROFS ? Errc::permission_denied
                                                       : Errc::unavailable;
}

}  // namespace

std::string errno_text(int err) { return std::system_category().message(err); }

Result<UniqueFd> open_lock_file(int dir, const std::string& file, bool create,
                                std::string_view path) {
  // O_NOFOLLOW: a symlink planted at the lock path must not redirect us (ELOOP).
  // O_NONBLOCK: a FIFO planted there must not hang the open.
  int flags = O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | (create ? O_CREAT : 0);
  int fd = -1;
  do {
    fd = ::openat(dir, file.c_str(), flags, 0600);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    int err = errno;
    if (err == ELOOP) {
      return fail(Errc::permission_denied,
                  "lock file " + std::string(path) + " is a symlink; refusing to follow it");
    }
    if (err == ENOENT && !create) {
      return fail(Errc::not_owner, "no lock file " + std::string(path));
    }
    return fail(errc_of(err), "cannot open lock file " + std::string(path) + ": " +
                                  errno_text(err));
  }
  UniqueFd out(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    return fail(Errc::permission_denied,
                "lock file " + std::string(path) + " is not a regular file; refusing to use it");
  }
  return out;
}

Result<bool> still_linked(int fd, int dir, const std::string& file) {
  struct stat mine {};
  struct stat there {};
  if (::fstat(fd, &mine) != 0) {
    return fail(Errc::internal, "fstat of a lock fd failed: " + errno_text(errno));
  }
  if (::fstatat(dir, file.c_str(), &there, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) {
      return false;
    }
    return fail(Errc::unavailable, "stat of lock file " + file + ": " + errno_text(errno));
  }
  return mine.st_dev == there.st_dev && mine.st_ino == there.st_ino;
}

Guard& Guard::operator=(Guard&& o) noexcept {
  if (this != &o) {
    unlock();
    fd_ = std::exchange(o.fd_, -1);
  }
  return *this;
}

void Guard::unlock() noexcept {
  if (fd_ >= 0) {
    struct flock fl {};
    fl.l_type = F_UNLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = 0;
    fl.l_len = 1;
    ::fcntl(fd_, F_OFD_SETLK, &fl);
    fd_ = -1;
  }
}

Result<Guard> take_guard(int fd, std::string_view path) {
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = 0;
  fl.l_len = 1;
  auto give_up = std::chrono::steady_clock::now() + kGuardPatience;
  auto pause = std::chrono::microseconds(20);
  for (;;) {
    if (::fcntl(fd, F_OFD_SETLK, &fl) == 0) {
      return Guard(fd);
    }
    int err = errno;
    if (err != EAGAIN && err != EACCES && err != EINTR) {
      return fail(Errc::unavailable,
                  "cannot lock the guard of " + std::string(path) + ": " + errno_text(err));
    }
    if (std::chrono::steady_clock::now() >= give_up) {
      return fail(Errc::unavailable, "the guard of " + std::string(path) +
                                         " is held by a process that does not finish (stopped?)");
    }
    // The guard is held for microseconds; back off briefly. (A blocking F_OFD_SETLKW could not be
    // bounded in time without signals.)
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(5000));
  }
}

ParsedRecord read_record(int fd, bool retry_torn) {
  ParsedRecord parsed;
  for (int attempt = 0; attempt < (retry_torn ? 6 : 1); ++attempt) {
    if (attempt > 0) {
      std::this_thread::sleep_for(std::chrono::microseconds(200 << attempt));
    }
    std::string buf(4096, '\0');
    ssize_t n = ::pread(fd, buf.data(), buf.size(), 0);
    if (n < 0) {
      parsed = ParsedRecord{ParsedRecord::Status::corrupt, {}, "read failed: " + errno_text(errno)};
      continue;
    }
    buf.resize(static_cast<std::size_t>(n));
    parsed = parse_record(buf);
    if (parsed.status == ParsedRecord::Status::corrupt && n == 4096 &&
        parsed.why == "record is truncated") {
      // A long command line: read the whole record (bounded by kMaxRecordBody).
      std::string big(kMaxRecordBody + 128, '\0');
      ssize_t m = ::pread(fd, big.data(), big.size(), 0);
      big.resize(m > 0 ? static_cast<std::size_t>(m) : 0);
      parsed = parse_record(big);
    }
    if (parsed.status != ParsedRecord::Status::corrupt) {
      return parsed;
    }
  }
  return parsed;
}

Result<void> write_record(int fd, const Record& record, bool truncate_after,
                          std::string_view path) {
  std::string bytes = serialize(record);
  ssize_t n = ::pwrite(fd, bytes.data(), bytes.size(), 0);
  if (n != static_cast<ssize_t>(bytes.size())) {
    int err = n < 0 ? errno : ENOSPC;
    return fail(errc_of(err), "cannot write lock file " + std::string(path) + ": " +
                                  errno_text(err));
  }
  if (truncate_after) {
    struct stat st {};
    if (::fstat(fd, &st) == 0 && st.st_size > static_cast<off_t>(bytes.size())) {
      (void)::ftruncate(fd, static_cast<off_t>(bytes.size()));
    }
  }
  return {};
}

std::int64_t flock_holder_pid(dev_t dev, ino_t ino) {
  std::ifstream in("/proc/locks");
  if (!in) {
    return -1;
  }
  // Lines look like "1: FLOCK  ADVISORY  WRITE 1234 00:1a:5678 0 EOF"; waiters carry "->".
  char want[64];
  std::snprintf(want, sizeof want, "%02x:%02x:%lu", major(dev), minor(dev),
                static_cast<unsigned long>(ino));
  std::string line;
  while (std::getline(in, line)) {
    if (line.find("->") != std::string::npos || line.find(" FLOCK ") == std::string::npos) {
      continue;
    }
    std::istringstream fields(line);
    std::string id, kind, mode, access, pid, where;
    fields >> id >> kind >> mode >> access >> pid >> where;
    if (where == want) {
      return std::stoll(pid);
    }
  }
  return 0;
}

}  // namespace heartlock::detail
