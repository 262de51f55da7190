#include "lock_file.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <sstream>
#include <system_error>
#include <thread>

#include "../core/process_identity.h"

namespace heartlock::detail {
namespace {

// How long take_guard() waits for a guard held by another process before giving up. The guard is
// held for microseconds, so only a stopped (SIGSTOP) or wedged process holds it this long.
constexpr auto kGuardPatience = std::chrono::seconds(2);

// More trailing bytes than this after a record are junk worth cutting (see write_record).
constexpr std::size_t kJunkThreshold = 4096;

Errc errc_of(int err) {
  return err == EACCES || err == EPERM || err == EROFS ? Errc::permission_denied
                                                       : Errc::unavailable;
}

// Only our own lock files are used: in a sticky directory such as /tmp others may create files,
// and the owner of a file can rename or unlink it there, taking the lock from under its holder.
std::unexpected<Error> refuse_foreign(std::string_view path, uid_t owner) {
  return fail(Errc::permission_denied,
              "lock file " + std::string(path) + " is owned by " + describe_uid(owner) +
                  ", not by this user (" + describe_uid(::geteuid()) +
                  "); refusing it: its owner could rename or remove it under its holder");
}

}  // namespace

std::string errno_text(int err) { return std::system_category().message(err); }

std::string describe_uid(uid_t uid) {
  std::string out = "uid " + std::to_string(uid);
  passwd entry{};
  passwd* found = nullptr;
  char buf[1024];
  if (::getpwuid_r(uid, &entry, buf, sizeof buf, &found) == 0 && found != nullptr) {
    out += " (" + std::string(found->pw_name) + ")";
  }
  return out;
}

Result<UniqueFd> open_lock_file(int dir, const std::string& file, bool create,
                                std::string_view path, FileId& id) {
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
    struct stat there {};
    if (err == EACCES && ::fstatat(dir, file.c_str(), &there, AT_SYMLINK_NOFOLLOW) == 0 &&
        there.st_uid != ::geteuid()) {
      // fs.protected_regular refuses O_CREAT on another user's file in a sticky directory.
      return refuse_foreign(path, there.st_uid);
    }
    return fail(errc_of(err),
                "cannot open lock file " + std::string(path) + ": " + errno_text(err));
  }
  UniqueFd out(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    return fail(Errc::permission_denied,
                "lock file " + std::string(path) + " is not a regular file; refusing to use it");
  }
  if (st.st_uid != ::geteuid()) {
    return refuse_foreign(path, st.st_uid);
  }
  id = FileId{st.st_dev, st.st_ino};
  return out;
}

Result<bool> still_linked(const FileId& id, int dir, const std::string& file) {
  struct stat there {};
  if (::fstatat(dir, file.c_str(), &there, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) {
      return false;
    }
    return fail(Errc::unavailable, "stat of lock file " + file + ": " + errno_text(errno));
  }
  return id.dev == there.st_dev && id.ino == there.st_ino;
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
    char buf[4096];  // records are about 350 bytes; a longer one is read again below
    ssize_t n = ::pread(fd, buf, sizeof buf, 0);
    if (n < 0) {
      parsed = ParsedRecord{ParsedRecord::Status::corrupt, {}, "read failed: " + errno_text(errno)};
      continue;
    }
    parsed = parse_record(std::string_view(buf, static_cast<std::size_t>(n)));
    parsed.bytes_read = static_cast<std::size_t>(n);
    if (parsed.status == ParsedRecord::Status::corrupt && n == sizeof buf &&
        parsed.why == "record is truncated") {
      // A long command line: read the whole record (bounded by kMaxRecordBody).
      std::string big(kMaxRecordBody + 128, '\0');
      ssize_t m = ::pread(fd, big.data(), big.size(), 0);
      big.resize(m > 0 ? static_cast<std::size_t>(m) : 0);
      parsed = parse_record(big);
      parsed.bytes_read = big.size();
    }
    if (parsed.status != ParsedRecord::Status::corrupt) {
      return parsed;
    }
  }
  return parsed;
}

Result<void> write_record(int fd, const Record& record, std::size_t known_size,
                          std::string_view path) {
  const RecordBytes serialized(record);
  const std::string_view bytes = serialized.view();
  ssize_t n = ::pwrite(fd, bytes.data(), bytes.size(), 0);
  if (n != static_cast<ssize_t>(bytes.size())) {
    int err = n < 0 ? errno : ENOSPC;
    return fail(errc_of(err),
                "cannot write lock file " + std::string(path) + ": " + errno_text(err));
  }
  // A few stray bytes after the body are harmless (the header says where it ends) and come from
  // every other write (a "released" record is longer than a "held" one); ftruncate costs as much
  // as three other syscalls here, so only junk beyond a page is cut.
  if (known_size >= kJunkThreshold) {
    // The reader filled its buffer: the file may be much larger (a planted file). Ask.
    struct stat st {};
    if (::fstat(fd, &st) == 0) {
      known_size = static_cast<std::size_t>(st.st_size);
    }
  }
  if (known_size > bytes.size() + kJunkThreshold) {
    (void)::ftruncate(fd, static_cast<off_t>(bytes.size()));
  }
  return {};
}

std::int64_t flock_holder_pid(dev_t dev, ino_t ino) {
  auto text = read_small_file("/proc/locks", 64 << 20);
  if (!text) {
    return -1;
  }
  // Lines look like "1: FLOCK  ADVISORY  WRITE 1234 00:1a:5678 0 EOF"; waiters carry "->".
  char want[64];
  std::snprintf(want, sizeof want, "%02x:%02x:%lu", major(dev), minor(dev),
                static_cast<unsigned long>(ino));
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find("->") != std::string::npos || line.find(" FLOCK ") == std::string::npos) {
      continue;
    }
    std::istringstream fields(line);
    std::string id, kind, mode, access, pid, where;
    fields >> id >> kind >> mode >> access >> pid >> where;
    if (where == want) {
      std::int64_t value = 0;
      auto [p, ec] = std::from_chars(pid.data(), pid.data() + pid.size(), value);
      return ec == std::errc() ? value : -1;
    }
  }
  return 0;
}

}  // namespace heartlock::detail
