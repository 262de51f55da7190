#include "file_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

#include "../core/process_identity.h"
#include "file_lease.h"
#include "holder_state.h"
#include "name_codec.h"

namespace heartlock::detail {
namespace {

using std::chrono::milliseconds;

// Retries when the file we opened was replaced before we could lock it. Each retry means another
// process took the lock over in between; more than this in one call means something is wrong.
constexpr int kMaxReopens = 100;

// A token for a lock whose record is unreadable while we hold it (someone overwrote the file):
// the last token is unknown, so use the wall clock in microseconds, which is larger than any
// counter a lock file reaches in practice, and count on from there.
std::uint64_t fallback_token() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

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

bool same_boot_grace(const ParsedRecord& p, BootTime now) {
  return p.status == ParsedRecord::Status::ok && p.record.state == Record::State::released &&
         p.record.boot_id == boot_id() && p.record.hold_until > now;
}

}  // namespace

FileStore::FileStore(std::string path, UniqueFd dir, FileId dir_id, StoreOptions options)
    : LeasingStore(std::move(options)),
      path_(std::move(path)),
      dir_(std::make_shared<LockDir>(std::move(dir), path_, dir_id, log_sink())) {}

FileStore::~FileStore() { stop_keepalive(); }

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

// A waiter on one lock file. The try (claim) keeps its fd to the lock file here between tries:
// closing it would queue a close event on the directory that wakes this waiter, and every other
// one, at once.
class FileStore::Waiter final : public ReleaseWaiter {
 public:
  // Set up before the first try, so no release is missed.
  explicit Waiter(FileStore& store) : store_(store), watch_(store.take_watch()) {}
  ~Waiter() override { store_.return_watch(std::move(watch_)); }
  Waiter(const Waiter&) = delete;
  Waiter& operator=(const Waiter&) = delete;

  Result<void> wait(BootTime until, const StopWake& stop) override {
    if (!watch_) {
      // No inotify (its limit reached): fall back to short polls.
      wait_readable(-1, std::min(until, boot_now() + milliseconds(10)), stop);
    } else if (wait_readable(watch_.get(), until, stop)) {
      drain(watch_.get());
    }
    return {};
  }

  UniqueFd lock_fd;  // the lock file the last try opened, when it did not take it
  FileId lock_id;

 private:
  FileStore& store_;
  UniqueFd watch_;
};

std::unique_ptr<ReleaseWaiter> FileStore::release_waiter(std::string_view /*name*/) {
  return std::make_unique<Waiter>(*this);
}

Record FileStore::new_record(const ClaimRequest& request, std::uint64_t token, BootTime now) const {
  ProcessIdentity self = self_identity();
  Record r;
  r.state = Record::State::held;
  r.name = std::string(request.name);
  r.owner = request.owner;
  r.host = std::move(self.host);
  r.boot_id = std::move(self.boot_id);
  r.pid = self.pid;
  r.pid_start = self.start_ticks;
  r.token = token;
  r.acquired_wall_ms =
      std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  r.acquired_at = r.renewed_at = r.heartbeat_at = now;
  r.ttl = request.options.ttl;
  r.stale_after = request.options.stale_after;
  r.command = request.options.command;
  if (request.options.slot) {
    r.slot = request.options.slot->time_since_epoch().count();
  }
  return r;
}

LockInfo FileStore::observe(std::string_view name, const std::string& file, int fd,
                            const FileId& id, bool locked_known, bool locked) {
  Observation seen;
  seen.parsed = read_record(fd, true);
  seen.boot_id = boot_id();
  const Record& r = seen.parsed.record;
  const bool live_record =
      seen.parsed.status == ParsedRecord::Status::ok && r.state == Record::State::held;
  if (live_record) {
    seen.holder = liveness(r.pid, r.pid_start, r.boot_id);
  }
  if (!locked_known || !live_record || seen.holder == Liveness::dead) {
    // Who holds the flock, from /proc/locks: needed to tell held from free without touching the
    // lock, and to name a holder that wrote no record.
    seen.flock_pid = flock_holder_pid(id.dev, id.ino);
  }
  if (locked_known) {
    seen.locked = locked;
  } else if (seen.flock_pid >= 0) {
    seen.locked = seen.flock_pid > 0;
  } else {
    // /proc/locks unreadable: probe. A contender racing with this probe may see busy once.
    seen.locked = ::flock(fd, LOCK_EX | LOCK_NB) != 0;
    if (!seen.locked) {
      ::flock(fd, LOCK_UN);
    }
  }
  return describe(name, seen, boot_now(), path_of(file));
}

Result<Attempt> FileStore::claim(const ClaimRequest& request) {
  const std::string file = lock_file_name(request.name);
  const std::string path = path_of(file);
  // A waiter's request.waiter is the Waiter release_waiter() made: it keeps the lock file open.
  auto* waiter = static_cast<Waiter*>(request.waiter);
  UniqueFd own_fd;
  FileId own_id;
  UniqueFd& fd = waiter != nullptr ? waiter->lock_fd : own_fd;
  FileId& id = waiter != nullptr ? waiter->lock_id : own_id;
  bool killed = false;
  for (int reopens = 0; reopens < kMaxReopens;) {
    if (!fd) {
      auto opened = open_lock_file(dir_->fd(), file, true, path, id);
      if (!opened) {
        return std::unexpected(opened.error());
      }
      fd = std::move(*opened);
    }
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) == 0) {
      auto got = claim_locked(request, file, fd, id);
      if (!got) {
        return std::unexpected(got.error());
      }
      if (auto* claim = std::get_if<Claim>(&*got); claim == nullptr || claim->lease) {
        return got;  // ours, or busy in a min_hold grace (waited out like any holder)
      }
      ++reopens;  // the file was replaced under us: try the new one
      continue;
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno != EWOULDBLOCK) {
      return fail(Errc::unavailable, "flock " + path + ": " + errno_text(errno));
    }
    auto linked = still_linked(id, dir_->fd(), file);
    if (!linked) {
      return std::unexpected(linked.error());
    }
    if (!*linked) {
      fd.reset();
      ++reopens;
      continue;
    }
    LockInfo seen = observe(request.name, file, fd.get(), id, true, true);
    if (!may_take_over(seen)) {
      return Attempt(std::move(seen));
    }
    if (request.options.kill_stale && !killed) {
      killed = true;
      auto record = read_record(fd.get(), true);
      if (record.status == ParsedRecord::Status::ok && record.record.token == seen.holder->token) {
        log(LogLevel::warn, "lock " + seen.name + ": " + seen.detail + "; killing it");
        (void)kill_holder(record.record.pid, record.record.pid_start, request.options);
      }
      continue;  // if it died, its flock is free now
    }
    auto taken = take_over(request, file, fd.get(), id, seen);
    if (!taken) {
      return std::unexpected(taken.error());
    }
    if (*taken) {
      return std::move(**taken);
    }
    fd.reset();
    ++reopens;
  }
  return fail(Errc::unavailable, "lock " + path + " kept being replaced; gave up");
}

// REQUIRES: `fd` holds the flock of some inode that was at the lock path when opened.
// Returns a Claim (taking fd), busy within a min_hold (fd kept, unlocked), or a Claim without a
// lease when the file was replaced meanwhile (fd closed; retry).
Result<Attempt> FileStore::claim_locked(const ClaimRequest& request, const std::string& file,
                                        UniqueFd& fd, const FileId& id) {
  const std::string path = path_of(file);
  // We hold the flock, so nobody writes this file now: no torn read to retry.
  ParsedRecord previous = read_record(fd.get(), false);
  // A takeover decides and renames under the guard, and a holder releases under the guard, so a
  // "released" record (or a fresh, empty file) cannot belong to a holder someone is taking over
  // right now. Only a record still saying "held" (its holder crashed) or an unreadable one may:
  // then order ourselves against that takeover with the guard. It has either renamed its file in
  // already (we see the path moved and retry) or will find our fresh record and back off.
  const bool contested =
      previous.status == ParsedRecord::Status::corrupt ||
      (previous.status == ParsedRecord::Status::ok && previous.record.state == Record::State::held);
  Guard guard;
  if (contested) {
    auto taken = take_guard(fd.get(), path);
    if (!taken) {
      return std::unexpected(taken.error());
    }
    guard = std::move(*taken);
  }
  auto linked = still_linked(id, dir_->fd(), file);
  if (!linked) {
    return std::unexpected(linked.error());
  }
  if (!*linked) {
    fd.reset();
    return Attempt(Claim{});
  }
  BootTime now = boot_now();
  if (same_boot_grace(previous, now)) {
    // Keep the fd (a waiter's own close would wake it again at once); just drop the flock.
    ::flock(fd.get(), LOCK_UN);
    Observation seen{.parsed = std::move(previous), .locked = false, .boot_id = boot_id()};
    return Attempt(describe(request.name, seen, now, path));
  }
  std::uint64_t token = 1;
  if (previous.status == ParsedRecord::Status::ok) {
    token = previous.record.token + 1;
  } else if (previous.status == ParsedRecord::Status::corrupt) {
    token = fallback_token();
    log(LogLevel::warn, "lock file " + path + " held an unreadable record (" + previous.why +
                            "); continuing with token " + std::to_string(token));
  }
  Record record = new_record(request, token, now);
  if (auto ok = write_record(fd.get(), record, previous.bytes_read, path); !ok) {
    return std::unexpected(ok.error());
  }
  guard.unlock();
  auto lease = start_lease(file, std::move(fd), id, std::move(record));
  if (!lease) {
    return std::unexpected(lease.error());
  }
  if (!*lease) {
    return Attempt(Claim{});
  }
  return Attempt(Claim{
      .lease = std::move(*lease),
      .token = token,
      .location = path,
      .acquired_at = now,
  });
}

Result<std::optional<Attempt>> FileStore::take_over(const ClaimRequest& request,
                                                    const std::string& file, int old_fd,
                                                    const FileId& old_id, const LockInfo& seen) {
  const std::string path = path_of(file);
  auto guard = take_guard(old_fd, path);
  if (!guard) {
    return std::unexpected(guard.error());
  }
  auto linked = still_linked(old_id, dir_->fd(), file);
  if (!linked) {
    return std::unexpected(linked.error());
  }
  if (!*linked) {
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
  guard->unlock();
  log(LogLevel::warn, "took over lock " + now_seen.name + " from " + now_seen.holder->owner + " (" +
                          std::string(to_string(now_seen.state)) + ": " + now_seen.detail +
                          "); token " + std::to_string(token));
  auto lease = start_lease(file, std::move(*fd), id, std::move(record));
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

Result<std::unique_ptr<FileLease>> FileStore::start_lease(const std::string& file, UniqueFd fd,
                                                          const FileId& id, Record record) {
  auto lease = std::make_unique<FileLease>(dir_, file, std::move(fd), id, std::move(record));
  auto where = lease->check_in_place();
  if (!where) {
    return std::unexpected(where.error());
  }
  if (!where->has_value()) {
    return lease;
  }
  auto dir = dir_->in_place();
  if (!dir) {
    return std::unexpected(dir.error());
  }
  if (!*dir) {
    // Every file we could take here is out of contenders' sight.
    return fail(Errc::unavailable, "lock directory " + path_ +
                                       " is no longer the one this store opened (moved, removed "
                                       "or replaced since); open the store again");
  }
  return std::unique_ptr<FileLease>();
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

Result<LockInfo> FileStore::inspect_file(std::string_view name, const std::string& file) {
  const std::string path = path_of(file);
  FileId id;
  auto fd = open_lock_file(dir_->fd(), file, false, path, id);
  if (!fd) {
    if (fd.error().code == Errc::not_owner) {
      return LockInfo{.name = std::string(name), .location = path, .detail = "free (no lock file)"};
    }
    return std::unexpected(fd.error());
  }
  return observe(name, file, fd->get(), id, false, false);
}

Result<LockInfo> FileStore::inspect_lock(std::string_view name) {
  return inspect_file(name, lock_file_name(name));
}

Result<std::vector<LockInfo>> FileStore::list() {
  int raw = ::openat(dir_->fd(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR* d = raw < 0 ? nullptr : ::fdopendir(raw);
  if (d == nullptr) {
    if (raw >= 0) {
      ::close(raw);
    }
    return fail(Errc::unavailable, "cannot list " + path_ + ": " + errno_text(errno));
  }
  std::vector<std::string> files;
  while (dirent* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (!n.starts_with('.') && n.ends_with(kLockSuffix)) {
      files.emplace_back(n);
    }
  }
  ::closedir(d);
  std::sort(files.begin(), files.end());
  std::vector<LockInfo> out;
  for (const auto& file : files) {
    const std::string name = name_from_file(file).value_or(file);
    auto info = inspect_file(name, file);
    // A lock file we cannot use (a symlink, a FIFO, another user's, unreadable) is still a lock
    // someone may hold: listed, with why it cannot be read, never left out.
    out.push_back(info ? std::move(*info)
                       : LockInfo{.name = name,
                                  .state = LockState::unknown,
                                  .location = path_of(file),
                                  .detail = info.error().message});
  }
  return out;
}

Result<void> FileStore::break_lock(std::string_view name, std::uint64_t token) {
  const std::string file = lock_file_name(name);
  const std::string path = path_of(file);
  FileId id;
  auto fd = open_lock_file(dir_->fd(), file, false, path, id);
  if (!fd) {
    return std::unexpected(fd.error());
  }
  auto guard = take_guard(fd->get(), path);
  if (!guard) {
    return std::unexpected(guard.error());
  }
  auto linked = still_linked(id, dir_->fd(), file);
  if (!linked) {
    return std::unexpected(linked.error());
  }
  ParsedRecord current = read_record(fd->get(), true);
  bool readable = current.status == ParsedRecord::Status::ok;
  if (!*linked || (readable && current.record.token != token) || (!readable && token != 0)) {
    return fail(Errc::not_owner, "lock " + std::string(name) + " is no longer lease " +
                                     std::to_string(token) + "; nothing changed");
  }
  Record record = readable ? current.record : Record{.name = std::string(name)};
  if (!readable) {
    record.token = fallback_token();
  }
  record.state = Record::State::released;
  record.hold_until = BootTime(0);
  if (::flock(fd->get(), LOCK_EX | LOCK_NB) == 0) {
    // Nobody holds the flock (dead holder, or a min_hold grace): clearing the record is enough.
    return write_record(fd->get(), record, current.bytes_read, path);
  }
  // A live holder: fence it off by renaming a fresh, unlocked file over its own.
  FileId fresh_id;
  if (auto fresh = replace_file(file, record, false, fresh_id); !fresh) {
    return std::unexpected(fresh.error());
  }
  log(LogLevel::warn, "broke lease " + std::to_string(token) + " on " + std::string(name));
  return {};
}

}  // namespace heartlock::detail
