// FileStore's takeover of a deadlocked or expired holder: the rename of a new, already-locked file
// over the old one (replace_file, also what breaks a live holder's lease), and, with kill_stale,
// ending the stale holder's process first.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include "../core/process_identity.h"
#include "file_store.h"
#include "holder_state.h"

namespace heartlock::detail {
namespace {

using std::chrono::milliseconds;

int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }
int pidfd_send_signal(int pidfd, int sig) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

// Waits until the pidfd's process exits or `timeout` passes; true if it exited.
bool wait_exit(int pidfd, milliseconds timeout) {
  pollfd p{pidfd, POLLIN, 0};
  int n = 0;
  do {
    n = ::poll(&p, 1, static_cast<int>(timeout.count()));
  } while (n < 0 && errno == EINTR);
  return n > 0;
}

}  // namespace

Result<std::optional<Attempt>> FileStore::take_over(const ClaimRequest& request,
                                                    const std::string& file, int old_fd,
                                                    const FileId& old_id, const LockInfo& seen) {
  const std::string path = path_of(file);
  auto guard = guard_current(old_fd, old_id, file, true);
  if (!guard) {
    return std::unexpected(guard.error());
  }
  if (!*guard) {
    return std::optional<Attempt>();  // somebody else took it over first
  }
  // Decide again under the guard: the holder may have renewed, released or died meanwhile.
  LockInfo now_seen = observe(request.name, file, old_fd, old_id, true, true);
  if (!may_take_over(now_seen) || now_seen.holder->token != seen.holder->token) {
    return std::optional<Attempt>();
  }
  // The arbiter is rename(2): a new file, already locked and holding our record, replaces the
  // old one in one step. Exactly one contender can do that while holding the guard, and nothing
  // is ever unlinked, so no newer owner's file can be removed.
  BootTime now = boot_now();
  std::uint64_t token = now_seen.holder->token + 1;
  Record record = new_record(request, token, now);
  FileId id;
  auto fd = replace_file(file, record, true, id);
  if (!fd) {
    return std::unexpected(fd.error());
  }
  (*guard)->unlock();
  log(LogLevel::warn, "took over lock " + now_seen.name + " from " + now_seen.holder->owner + " (" +
                          std::string(to_string(now_seen.state)) + ": " + now_seen.detail +
                          "); token " + std::to_string(token));
  auto lease = start_lease(file, path, std::move(*fd), id, std::move(record));
  if (!lease) {
    return std::unexpected(lease.error());
  }
  if (!*lease) {
    return std::optional<Attempt>();  // replaced at once (a broken lease): look again
  }
  return std::optional<Attempt>(Claim{
      .lease = std::move(*lease),
      .token = token,
      .location = path,
      .acquired_at = now,
  });
}

Result<UniqueFd> FileStore::replace_file(const std::string& file, const Record& record,
                                         bool lock_it, FileId& id) {
  // A hidden temporary name: encoded lock names never start with '.', so it cannot collide.
  std::string tmp = "." + file + "." + random_hex(6) + ".new";
  int raw =
      ::openat(dir_->fd(), tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (raw < 0) {
    return fail(Errc::unavailable, "cannot create " + path_of(tmp) + ": " + errno_text(errno));
  }
  UniqueFd fd(raw);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || (lock_it && ::flock(fd.get(), LOCK_EX | LOCK_NB) != 0)) {
    ::unlinkat(dir_->fd(), tmp.c_str(), 0);
    return fail(Errc::internal, "cannot prepare the new file " + path_of(tmp));
  }
  id = FileId{st.st_dev, st.st_ino};
  if (auto ok = write_record(fd.get(), record, 0, path_of(file)); !ok) {
    ::unlinkat(dir_->fd(), tmp.c_str(), 0);
    return std::unexpected(ok.error());
  }
  if (::renameat(dir_->fd(), tmp.c_str(), dir_->fd(), file.c_str()) != 0) {
    int err = errno;
    ::unlinkat(dir_->fd(), tmp.c_str(), 0);
    return fail(Errc::unavailable, "cannot rename over " + path_of(file) + ": " + errno_text(err));
  }
  return fd;
}

void FileStore::kill_stale_holder(int fd, const LockInfo& seen, const LeaseOptions& options) {
  auto record = read_record(fd, true);
  if (record.status == ParsedRecord::Status::ok && record.record.token == seen.holder->token) {
    log(LogLevel::warn, "lock " + seen.name + ": " + seen.detail + "; killing it");
    (void)kill_holder(record.record.pid, record.record.pid_start, options);
  }
}

Result<void> FileStore::kill_holder(std::int64_t holder_pid, std::uint64_t start_ticks,
                                    const LeaseOptions& options) {
  auto pid = static_cast<pid_t>(holder_pid);
  // A pidfd pins the process: once it is open and its start time still matches the record, the
  // signals below cannot reach a process that reused the PID.
  int raw = pidfd_open(pid);
  if (raw < 0) {
    return {};  // gone already
  }
  UniqueFd pidfd(raw);
  if (start_ticks == 0 || start_ticks_of(pid) != start_ticks) {
    return {};
  }
  pidfd_send_signal(pidfd.get(), SIGTERM);
  pidfd_send_signal(pidfd.get(), SIGCONT);  // a stopped process handles TERM only once continued
  if (!wait_exit(pidfd.get(), options.kill_grace)) {
    log(LogLevel::warn, "holder pid " + std::to_string(pid) + " ignored SIGTERM; sending SIGKILL");
    pidfd_send_signal(pidfd.get(), SIGKILL);
    wait_exit(pidfd.get(), milliseconds(2000));
  }
  return {};
}

}  // namespace heartlock::detail
