// FileStore itself: opening or claiming a lock file, and starting the lease on a file we took.
// The release waiter is in file_waiter.cc, the takeover of a stale holder in file_takeover.cc,
// inspect, list and break_lock in file_admin.cc.
#include "file_store.h"

#include <sys/file.h>

#include <cerrno>
#include <chrono>

#include "../core/process_identity.h"
#include "file_lease.h"
#include "file_waiter.h"
#include "holder_state.h"
#include "name_codec.h"

namespace heartlock::detail {
namespace {

using std::chrono::milliseconds;

// Retries when the file we opened was replaced before we could lock it. Each retry means another
// process took the lock over in between; more than this in one call means something is wrong.
constexpr int kMaxReopens = 100;

bool same_boot_grace(const ParsedRecord& p, BootTime now) {
  return p.status == ParsedRecord::Status::ok && p.record.state == Record::State::released &&
         p.record.boot_id == boot_id() && p.record.hold_until > now;
}

// A takeover decides and renames under the guard, and a holder releases under the guard, so a
// "released" record (or a fresh, empty file) cannot belong to a holder someone is taking over
// right now. Only a record still saying "held" (its holder crashed) or an unreadable one may:
// then order ourselves against that takeover with the guard. It has either renamed its file in
// already (we see the path moved and retry) or will find our fresh record and back off.
bool contested(const ParsedRecord& previous) {
  return previous.status == ParsedRecord::Status::corrupt ||
         (previous.status == ParsedRecord::Status::ok &&
          previous.record.state == Record::State::held);
}

// claim_locked's answer when guard_current() failed or found the file replaced (closing `fd`).
Result<Attempt> replaced_or_error(const Result<std::optional<Guard>>& current, UniqueFd& fd) {
  if (!current) {
    return std::unexpected(current.error());
  }
  fd.reset();
  return Attempt(Claim{});
}

}  // namespace

// The wall clock in microseconds is larger than any counter a lock file reaches in practice.
std::uint64_t fallback_token() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

FileStore::FileStore(std::string path, UniqueFd dir, FileId dir_id, StoreOptions options)
    : LeasingStore(std::move(options)),
      path_(std::move(path)),
      dir_(std::make_shared<LockDir>(std::move(dir), path_, dir_id, log_sink())) {}

FileStore::~FileStore() { stop_keepalive(); }

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
    auto done = claim_step(request, file, path, fd, id, killed);
    if (!done) {
      return std::unexpected(done.error());
    }
    if (*done) {
      return std::move(**done);
    }
    // A step drops the fd only when the file was replaced under us (or the one we just took
    // was): that counts against kMaxReopens. An interrupted flock or a kill keeps it.
    if (!fd) {
      ++reopens;
    }
  }
  return fail(Errc::unavailable, "lock " + path + " kept being replaced; gave up");
}

Result<std::optional<Attempt>> FileStore::claim_step(const ClaimRequest& request,
                                                     const std::string& file,
                                                     const std::string& path, UniqueFd& fd,
                                                     const FileId& id, bool& killed) {
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) == 0) {
    auto got = claim_locked(request, file, path, fd, id);
    if (!got) {
      return std::unexpected(got.error());
    }
    if (auto* claim = std::get_if<Claim>(&*got); claim == nullptr || claim->lease) {
      return std::move(*got);  // ours, or busy in a min_hold grace (waited out like any holder)
    }
    return std::optional<Attempt>();  // the file was replaced under us: try the new one
  }
  if (errno == EINTR) {
    return std::optional<Attempt>();
  }
  if (errno != EWOULDBLOCK) {
    return fail(Errc::unavailable, "flock " + path + ": " + errno_text(errno));
  }
  return contend(request, file, fd, id, killed);
}

Result<std::optional<Attempt>> FileStore::contend(const ClaimRequest& request,
                                                  const std::string& file, UniqueFd& fd,
                                                  const FileId& id, bool& killed) {
  auto linked = still_linked(id, dir_->fd(), file);
  if (!linked) {
    return std::unexpected(linked.error());
  }
  if (!*linked) {
    fd.reset();
    return std::optional<Attempt>();
  }
  LockInfo seen = observe(request.name, file, fd.get(), id, true, true);
  if (!may_take_over(seen)) {
    return std::optional<Attempt>(std::move(seen));
  }
  if (request.options.kill_stale && !killed) {
    killed = true;
    kill_stale_holder(fd.get(), seen, request.options);
    return std::optional<Attempt>();  // if it died, its flock is free now
  }
  auto taken = take_over(request, file, fd.get(), id, seen);
  if (!taken) {
    return std::unexpected(taken.error());
  }
  if (!*taken) {
    fd.reset();
  }
  return taken;
}

// REQUIRES: `fd` holds the flock of some inode that was at the lock path when opened.
// Returns a Claim (taking fd), busy within a min_hold (fd kept, unlocked), or a Claim without a
// lease when the file was replaced meanwhile (fd closed; retry).
Result<Attempt> FileStore::claim_locked(const ClaimRequest& request, const std::string& file,
                                        const std::string& path, UniqueFd& fd, const FileId& id) {
  // We hold the flock, so nobody writes this file now: no torn read to retry.
  ParsedRecord previous = read_record(fd.get(), false);
  // Whether the path still names this file is checked up front only where that decides
  // something: under the guard against a takeover (contested), and before a min_hold is reported
  // as busy. Otherwise start_lease's look after the write finds a file replaced meanwhile (the
  // record went to the orphaned inode, which nobody opening the path sees) and we try again.
  Guard guard;
  if (contested(previous)) {
    auto current = guard_current(fd.get(), id, file, true);
    if (!current || !*current) {
      return replaced_or_error(current, fd);
    }
    guard = std::move(**current);
  }
  BootTime now = boot_now();
  if (same_boot_grace(previous, now)) {  // never contested: no guard held
    auto current = guard_current(fd.get(), id, file, false);
    if (!current || !*current) {
      return replaced_or_error(current, fd);
    }
    // Keep the fd (a waiter's own close would wake it again at once); just drop the flock.
    ::flock(fd.get(), LOCK_UN);
    Observation seen{.parsed = std::move(previous), .locked = false, .boot_id = boot_id()};
    return Attempt(describe(request.name, seen, now, path));
  }
  const std::uint64_t token = next_token(previous, path);
  Record record = new_record(request, token, now);
  if (auto ok = write_record(fd.get(), record, previous.bytes_read, path); !ok) {
    return std::unexpected(ok.error());
  }
  guard.unlock();
  auto lease = start_lease(file, path, std::move(fd), id, std::move(record));
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

Result<std::optional<Guard>> FileStore::guard_current(int fd, const FileId& id,
                                                      const std::string& file, bool take_it) {
  Guard guard;
  if (take_it) {
    auto taken = take_guard(fd, path_of(file));
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
    return std::optional<Guard>();
  }
  return std::optional<Guard>(std::move(guard));
}

std::uint64_t FileStore::next_token(const ParsedRecord& previous, const std::string& path) {
  if (previous.status == ParsedRecord::Status::ok) {
    return previous.record.token + 1;
  }
  if (previous.status != ParsedRecord::Status::corrupt) {
    return 1;  // a new or empty lock file
  }
  const std::uint64_t token = fallback_token();
  log(LogLevel::warn, "lock file " + path + " held an unreadable record (" + previous.why +
                          "); continuing with token " + std::to_string(token));
  return token;
}

Result<std::unique_ptr<FileLease>> FileStore::start_lease(const std::string& file,
                                                          const std::string& path, UniqueFd fd,
                                                          const FileId& id, Record record) {
  auto lease = std::make_unique<FileLease>(dir_, file, path, std::move(fd), id, std::move(record));
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

}  // namespace heartlock::detail
