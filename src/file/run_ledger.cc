// FileStore's run ledger (Store::put_run_record, run_records): one small file per (job, slot),
// beside the job's slot files and in their spirit (slots.cc).
//
//   <encoded job>@<slot, epoch seconds>.run     the entry: the job name, a NUL, then the data
//
// '@' never appears in an encoded name (name_codec.h: it is written %40), and lock files end in
// ".lock", slot files in ".slot", temporaries start with '.': the three kinds cannot collide.
// The job name is in the file because an encoding past kMaxEncoded is a hash that cannot be read
// back (run_records of every job must still say whose entry it is); validate_name forbids NUL in
// names, so the first NUL ends it.
//
// An entry is written whole to a hidden temporary and renamed over its path, so a reader sees the
// old entry or the new one, never half of either, and the last write wins. No fsync, as for the
// lock and slot files: the store directory is normally on tmpfs (/run/lock), and an entry lost
// with the machine's power only loses history.
//
// The files are never trusted: whatever sits at an entry's path is read (at most what an entry can
// be, plus one byte) and reported as its text, which decode_run_record then refuses; foreign files
// -- another user's, in a sticky directory -- and anything but a regular file are skipped, as
// last_slot skips them.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <limits>
#include <optional>
#include <vector>

#include "../core/process_identity.h"
#include "../core/slots.h"
#include "file_store.h"
#include "name_codec.h"

namespace heartlock::detail {
namespace {

constexpr std::string_view kRunSuffix = ".run";

// A write removes at most this many expired entries, so that one put after a long pause costs
// milliseconds, not a directory's worth of unlinks; the next puts remove the rest.
constexpr std::size_t kMaxRemovedPerPut = 64;

// "<encoded job>@": the part of an entry's file name that names the job.
std::string run_prefix(std::string_view job) {
  std::string f = lock_file_name(job);
  return f.substr(0, f.size() - kLockSuffix.size()) + "@";
}

std::string run_file(const std::string& prefix, std::chrono::sys_seconds slot) {
  return prefix + std::to_string(slot.time_since_epoch().count()) + std::string(kRunSuffix);
}

// One entry's file, found in the directory.
struct RunFile {
  std::string name;    // the file's name
  std::string prefix;  // "<encoded job>@"
  long long slot = 0;
};

// The entry file `name` stands for: "<prefix>@<decimal>.run" with no '@' in the prefix and
// nothing after the number; nullopt for any other name.
std::optional<RunFile> parse_run_file(std::string_view name) {
  if (name.starts_with('.') || !name.ends_with(kRunSuffix)) {
    return std::nullopt;
  }
  std::string_view stem = name.substr(0, name.size() - kRunSuffix.size());
  std::size_t at = stem.find('@');
  if (at == 0 || at == std::string_view::npos || stem.find('@', at + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  std::string_view epoch = stem.substr(at + 1);
  long long slot = 0;
  auto [p, ec] = std::from_chars(epoch.data(), epoch.data() + epoch.size(), slot);
  if (ec != std::errc() || p != epoch.data() + epoch.size()) {
    return std::nullopt;
  }
  return RunFile{std::string(name), std::string(stem.substr(0, at + 1)), slot};
}

// The entry files in `dir`, of the job whose prefix is `prefix` (every job's when empty).
// Errc::unavailable (errno's message) if the directory cannot be read.
Result<std::vector<RunFile>> scan_runs(int dir, const std::string& prefix) {
  int raw = ::openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR* d = raw < 0 ? nullptr : ::fdopendir(raw);
  if (d == nullptr) {
    const int e = errno;
    if (raw >= 0) {
      ::close(raw);
    }
    return fail(Errc::unavailable, errno_text(e));
  }
  std::vector<RunFile> out;
  while (dirent* e = ::readdir(d)) {
    auto run = parse_run_file(e->d_name);
    if (run && (prefix.empty() || run->prefix == prefix)) {
      out.push_back(std::move(*run));
    }
  }
  ::closedir(d);
  return out;
}

// Reads the entry file `run`: nullopt when it is gone, not a regular file or not ours (skipped).
// Its job is the name the file holds when that name maps to the file's prefix; otherwise the
// file is not an entry we wrote, and it is reported whole as the data, under `job` (the job asked
// for) or the name its file name stands for.
std::optional<RunRecordText> read_run(int dir, const RunFile& run, std::string_view job) {
  UniqueFd fd(
      ::openat(dir, run.name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
  struct stat st {};
  if (!fd || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != ::geteuid()) {
    return std::nullopt;
  }
  // The longest entry we write, and one byte more: a larger file is reported as too large.
  std::string text(kMaxNameLength + 1 + kMaxRunRecordBytes + 1, '\0');
  std::size_t got = 0;
  while (got < text.size()) {
    ssize_t n = ::read(fd.get(), text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    got += static_cast<std::size_t>(n);
  }
  text.resize(got);
  RunRecordText out{.slot = std::chrono::sys_seconds(std::chrono::seconds(run.slot))};
  std::size_t nul = text.find('\0');
  if (nul != std::string::npos && nul > 0 && nul <= kMaxNameLength &&
      run_prefix(std::string_view(text).substr(0, nul)) == run.prefix) {
    out.job = text.substr(0, nul);
    out.data = text.substr(nul + 1);
    return out;
  }
  if (!job.empty()) {
    out.job = job;
  } else {
    std::string stem = run.prefix.substr(0, run.prefix.size() - 1);
    out.job = name_from_file(stem + std::string(kLockSuffix)).value_or(stem);
  }
  out.data = std::move(text);
  return out;
}

}  // namespace

Result<void> FileStore::put_run_record(std::string_view job, std::chrono::sys_seconds slot,
                                       std::string_view data, std::chrono::seconds retention) {
  if (auto ok = check_slot_request(job, retention); !ok) {
    return std::unexpected(ok.error());
  }
  if (data.size() > kMaxRunRecordBytes) {
    return fail(Errc::invalid_argument, "ledger entry of " + std::string(job) + ": " +
                                            std::to_string(data.size()) + " bytes, more than " +
                                            std::to_string(kMaxRunRecordBytes));
  }
  // One host: the wall clock says which slots are past their retention, as for claim_slot.
  const auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  const long long oldest_kept = (now - retention).time_since_epoch().count();
  const std::string prefix = run_prefix(job);
  // The scan for expired entries runs only when one may be due (expiry_scans.h).
  const std::string scan_key = "run:" + prefix;
  const long long now_s = now.time_since_epoch().count();
  if (expiry_scans_.scan_due(scan_key, now_s, oldest_kept, retention.count())) {
    expiry_scans_.scanned(scan_key, now_s, remove_old_runs(prefix, oldest_kept));
  }
  if (slot.time_since_epoch().count() < oldest_kept) {
    return {};  // already past its retention: nothing to keep
  }
  const std::string file = run_file(prefix, slot);
  std::string content(job);
  content += '\0';
  content += data;
  // A hidden temporary name: encoded names never start with '.', so it cannot collide.
  const std::string tmp = "." + file + "." + random_hex(6) + ".new";
  UniqueFd fd(::openat(dir_->fd(), tmp.c_str(),
                       O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) {
    const int e = errno;
    return fail(e == EACCES ? Errc::permission_denied : Errc::unavailable,
                "cannot create " + path_of(tmp) + ": " + errno_text(e));
  }
  std::size_t put = 0;
  while (put < content.size()) {
    ssize_t n = ::write(fd.get(), content.data() + put, content.size() - put);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      const int e = n < 0 ? errno : ENOSPC;
      ::unlinkat(dir_->fd(), tmp.c_str(), 0);
      return fail(Errc::unavailable, "cannot write " + path_of(tmp) + ": " + errno_text(e));
    }
    put += static_cast<std::size_t>(n);
  }
  fd.reset();
  if (::renameat(dir_->fd(), tmp.c_str(), dir_->fd(), file.c_str()) != 0) {
    const int e = errno;
    ::unlinkat(dir_->fd(), tmp.c_str(), 0);
    return fail(e == EPERM || e == EACCES ? Errc::permission_denied : Errc::unavailable,
                "cannot rename over " + path_of(file) + ": " + errno_text(e));
  }
  // Only now that the file is there: a scan beginning before this would miss it otherwise.
  expiry_scans_.added(scan_key, slot.time_since_epoch().count());
  return {};
}

std::optional<long long> FileStore::remove_old_runs(const std::string& prefix,
                                                    long long oldest_kept) {
  auto runs = scan_runs(dir_->fd(), prefix);
  if (!runs) {
    return std::nullopt;  // best effort: the write that follows reports a directory it cannot use
  }
  std::size_t removed = 0;
  long long oldest = std::numeric_limits<long long>::max();
  for (const RunFile& run : *runs) {
    if (run.slot < oldest_kept && removed < kMaxRemovedPerPut) {
      ::unlinkat(dir_->fd(), run.name.c_str(), 0);
      ++removed;
    } else {
      oldest = std::min(oldest, run.slot);
    }
  }
  return oldest;
}

// Newest slot first: the files are sorted by the slot in their names, and only the newest are
// read -- whole slots at a time, since entries of one slot are ordered by job name, which a
// hashed file name does not tell.
Result<std::vector<RunRecordText>> FileStore::run_records(std::string_view job, std::size_t limit) {
  if (!job.empty()) {
    if (auto ok = validate_name(job); !ok) {
      return std::unexpected(ok.error());
    }
  }
  auto runs = scan_runs(dir_->fd(), job.empty() ? std::string() : run_prefix(job));
  if (!runs) {
    return fail(runs.error().code, "cannot read " + path_ + ": " + runs.error().message);
  }
  std::sort(runs->begin(), runs->end(),
            [](const RunFile& a, const RunFile& b) { return a.slot > b.slot; });
  std::vector<RunRecordText> out;
  for (std::size_t i = 0; i < runs->size() && out.size() < limit;) {
    const std::size_t first = out.size();
    const long long slot = (*runs)[i].slot;
    for (; i < runs->size() && (*runs)[i].slot == slot; ++i) {
      if (auto text = read_run(dir_->fd(), (*runs)[i], job)) {
        out.push_back(std::move(*text));
      }
    }
    std::sort(out.begin() + static_cast<std::ptrdiff_t>(first), out.end(),
              [](const RunRecordText& a, const RunRecordText& b) { return a.job < b.job; });
  }
  if (out.size() > limit) {
    out.resize(limit);
  }
  return out;
}

}  // namespace heartlock::detail
