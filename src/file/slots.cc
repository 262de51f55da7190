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
// "<encoded job>@latest": the latest slot any claim_slot of the job got as far as claiming, as
// decimal epoch seconds. Not a ".slot" file, so slot scans skip it.
constexpr std::string_view kLatestName = "latest";

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

// Opens the job's latest-slot file read-write (creating it if `create`); an invalid fd if it is
// missing, not ours (in a sticky directory another user's file tells nothing) or cannot be had.
// Readers and writers hold its guard (lock_file.h, with its patience) while they use it.
UniqueFd open_latest(int dir, const std::string& prefix, bool create) {
  const std::string file = prefix + std::string(kLatestName);
  UniqueFd fd(::openat(dir, file.c_str(),
                       O_RDWR | (create ? O_CREAT : 0) | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK,
                       0600));
  struct stat st {};
  if (!fd || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != ::geteuid()) {
    return UniqueFd();
  }
  return fd;
}

// The slot the open latest-slot file `fd` names; nullopt if it is empty or unreadable.
std::optional<long long> read_latest(int fd) {
  char buf[32];
  ssize_t n = ::pread(fd, buf, sizeof buf, 0);
  long long slot = 0;
  if (n <= 0) {
    return std::nullopt;
  }
  auto [p, ec] = std::from_chars(buf, buf + n, slot);
  if (ec != std::errc() || p == buf || p == buf + n || *p != '\n') {
    return std::nullopt;
  }
  return slot;
}

// Raises the job's latest-slot file to `slot` if it names an earlier one (or none). A file we
// cannot create or that is not ours is left alone: last_slot then scans, as it does whenever the
// file does not name an existing slot file. Errc::unavailable only when its guard cannot be had
// (a process stopped while holding it): the slot file must not be created without it.
Result<void> raise_latest(int dir, const std::string& prefix, long long slot,
                          const std::string& where) {
  UniqueFd fd = open_latest(dir, prefix, true);
  if (!fd) {
    return {};
  }
  auto guard = take_guard(fd.get(), where);
  if (!guard) {
    return std::unexpected(guard.error());
  }
  if (auto now = read_latest(fd.get()); now && *now >= slot) {
    return {};
  }
  char buf[32];
  char* end = std::to_chars(buf, buf + sizeof buf - 1, slot).ptr;
  *end++ = '\n';
  // Over a longer old text: readers stop at the first newline.
  (void)!::pwrite(fd.get(), buf, static_cast<std::size_t>(end - buf), 0);
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
  // Before the slot file: whoever sees that file also finds the latest-slot file naming it or a
  // later slot (last_slot). A crash in between leaves it naming a slot without a file, which
  // last_slot answers with a scan.
  if (auto raised = raise_latest(dir_->fd(), prefix, slot.time_since_epoch().count(),
                                 path_ + "/" + prefix + std::string(kLatestName));
      !raised) {
    return std::unexpected(raised.error());
  }
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

// The latest-slot file first (a read and a stat): every claim_slot raises it before it creates
// its slot file, so while the file it names exists no later one can. Otherwise (no such file:
// slots claimed only by an older heartlock, a claimer that crashed in between, or the named
// slot's file removed past its retention) a directory scan of the job's slot files, as claims
// make to drop old records. Only slot files we own count: in a sticky directory another user
// may create one, which claims nothing (claim_slot refuses it).
Result<std::optional<std::chrono::sys_seconds>> FileStore::last_slot(std::string_view job) {
  if (auto ok = validate_name(job); !ok) {
    return std::unexpected(ok.error());
  }
  const std::string prefix = slot_prefix(job);
  auto ours = [&](long long slot) {
    const std::string file = prefix + std::to_string(slot) + std::string(kSlotSuffix);
    struct stat st {};
    return ::fstatat(dir_->fd(), file.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
           S_ISREG(st.st_mode) && st.st_uid == ::geteuid();
  };
  if (UniqueFd latest = open_latest(dir_->fd(), prefix, false)) {
    // Without its guard (held too long by a stopped process): scan instead.
    if (auto guard = take_guard(latest.get(), path_ + "/" + prefix + std::string(kLatestName))) {
      if (auto slot = read_latest(latest.get()); slot && ours(*slot)) {
        return std::optional(std::chrono::sys_seconds(std::chrono::seconds(*slot)));
      }
    }
  }
  std::vector<long long> found;
  auto scanned = for_each_slot(dir_->fd(), prefix,
                               [&](std::string_view, long long slot) { found.push_back(slot); });
  if (!scanned) {
    return fail(scanned.error().code, "cannot read " + path_ + ": " + scanned.error().message);
  }
  std::sort(found.begin(), found.end(), std::greater<>());
  for (long long slot : found) {
    if (ours(slot)) {
      return std::optional(std::chrono::sys_seconds(std::chrono::seconds(slot)));
    }
  }
  return std::optional<std::chrono::sys_seconds>();
}

}  // namespace heartlock::detail
