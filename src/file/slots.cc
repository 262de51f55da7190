// FileStore::claim_slot: one file per (job, slot), created with O_EXCL -- the kernel picks the
// single winner among the processes of this host.
#include "../core/slots.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <functional>
#include <limits>
#include <optional>
#include <system_error>
#include <vector>

#include "file_store.h"
#include "name_codec.h"

namespace heartlock::detail {
namespace {

constexpr std::string_view kSlotSuffix = ".slot";

std::string errno_message(int e) { return std::system_category().message(e); }

// "<encoded job>@": the part of a slot file's name that names the job.
std::string slot_prefix(std::string_view job) {
  std::string f = lock_file_name(job);
  return f.substr(0, f.size() - kLockSuffix.size()) + "@";
}

// Calls visit(file name, slot) for each of this job's slot files in `dir`. Errc::unavailable
// (errno's message) if the directory cannot be read.
template <class Visit>
Result<void> for_each_slot(int dir, const std::string& prefix, Visit&& visit) {
  int raw = ::openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR* d = raw < 0 ? nullptr : ::fdopendir(raw);
  if (d == nullptr) {
    const int e = errno;
    if (raw >= 0) {
      ::close(raw);
    }
    return fail(Errc::unavailable, errno_message(e));
  }
  while (dirent* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (!n.starts_with(prefix) || !n.ends_with(kSlotSuffix)) {
      continue;
    }
    std::string_view epoch = n.substr(prefix.size(), n.size() - prefix.size() - kSlotSuffix.size());
    long long slot = 0;
    auto [p, ec] = std::from_chars(epoch.data(), epoch.data() + epoch.size(), slot);
    if (ec == std::errc() && p == epoch.data() + epoch.size()) {
      visit(n, slot);
    }
  }
  ::closedir(d);
  return {};
}

// Removes this job's slot files older than the retention (best effort). Returns the oldest slot
// left (max() if none), or nullopt if the directory could not be read.
std::optional<long long> remove_old_slots(int dir, const std::string& prefix,
                                          long long oldest_kept) {
  long long oldest = std::numeric_limits<long long>::max();
  auto scanned = for_each_slot(dir, prefix, [&](std::string_view file, long long slot) {
    if (slot < oldest_kept) {
      ::unlinkat(dir, std::string(file).c_str(), 0);
    } else {
      oldest = std::min(oldest, slot);
    }
  });
  return scanned ? std::optional(oldest) : std::nullopt;
}

}  // namespace

Result<SlotClaim> FileStore::claim_slot(std::string_view job, std::chrono::sys_seconds slot,
                                        std::chrono::seconds retention) {
  if (auto ok = check_slot_request(job, retention); !ok) {
    return std::unexpected(ok.error());
  }
  // One host: the wall clock is the only clock that knows what a slot's time is.
  const auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  const long long oldest_kept = (now - retention).time_since_epoch().count();
  const std::string prefix = slot_prefix(job);
  // The scan for expired slot files runs only when one may be due (expiry_scans.h).
  const std::string scan_key = "slot:" + prefix;
  const long long now_s = now.time_since_epoch().count();
  if (expiry_scans_.scan_due(scan_key, now_s, oldest_kept, retention.count())) {
    expiry_scans_.scanned(scan_key, now_s, remove_old_slots(dir_->fd(), prefix, oldest_kept));
  }
  if (slot.time_since_epoch().count() < oldest_kept) {
    return SlotClaim{.won = false, .claimed_by = "(slot older than the retention)"};
  }
  const std::string file =
      prefix + std::to_string(slot.time_since_epoch().count()) + std::string(kSlotSuffix);
  int fd = ::openat(dir_->fd(), file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                    0600);
  const int open_errno = errno;
  if (fd >= 0 || open_errno == EEXIST) {
    expiry_scans_.added(scan_key, slot.time_since_epoch().count());  // a file is there now
  }
  if (fd >= 0) {
    const std::string me = slot_claimant() + "\n";
    bool written = ::write(fd, me.data(), me.size()) == static_cast<ssize_t>(me.size());
    ::close(fd);
    if (!written) {
      return fail(Errc::unavailable, "cannot write " + path_ + "/" + file);
    }
    return SlotClaim{.won = true, .claimed_by = slot_claimant()};
  }
  if (open_errno != EEXIST) {
    return fail(open_errno == EACCES ? Errc::permission_denied : Errc::unavailable,
                "cannot create " + path_ + "/" + file + ": " + errno_message(open_errno));
  }
  SlotClaim lost;
  fd = ::openat(dir_->fd(), file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd >= 0) {
    // In a sticky directory others may create files: a slot file we did not make claims nothing.
    struct stat st {};
    if (::fstat(fd, &st) == 0 && st.st_uid != ::geteuid()) {
      ::close(fd);
      return fail(Errc::permission_denied, "slot file " + path_ + "/" + file + " is owned by " +
                                               describe_uid(st.st_uid) + ", not by this user (" +
                                               describe_uid(::geteuid()) + "); refusing it");
    }
    char buf[256];
    ssize_t n = ::read(fd, buf, sizeof buf);
    ::close(fd);
    if (n > 0) {
      lost.claimed_by.assign(buf, static_cast<std::size_t>(n));
      while (!lost.claimed_by.empty() && lost.claimed_by.back() == '\n') {
        lost.claimed_by.pop_back();
      }
    }
  }
  return lost;
}

// A directory scan of the job's slot files, as claims make to drop old records (expiry_scans.h):
// no second record to keep in step with the slot files (a "last" file would need its own
// locking for the max and its own expiry), and readdir goes through a few hundred names per
// getdents call. Only the newest files are stat'ed: in a sticky directory another user may
// create a slot file, which claims nothing (claim_slot refuses it), so it is skipped here too.
Result<std::optional<std::chrono::sys_seconds>> FileStore::last_slot(std::string_view job) {
  if (auto ok = validate_name(job); !ok) {
    return std::unexpected(ok.error());
  }
  const std::string prefix = slot_prefix(job);
  std::vector<long long> found;
  auto scanned = for_each_slot(dir_->fd(), prefix,
                               [&](std::string_view, long long slot) { found.push_back(slot); });
  if (!scanned) {
    return fail(scanned.error().code, "cannot read " + path_ + ": " + scanned.error().message);
  }
  std::sort(found.begin(), found.end(), std::greater<>());
  for (long long slot : found) {
    const std::string file = prefix + std::to_string(slot) + std::string(kSlotSuffix);
    struct stat st {};
    if (::fstatat(dir_->fd(), file.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
        st.st_uid == ::geteuid()) {
      return std::optional(std::chrono::sys_seconds(std::chrono::seconds(slot)));
    }
  }
  return std::optional<std::chrono::sys_seconds>();
}

}  // namespace heartlock::detail
