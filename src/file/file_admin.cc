// FileStore's administration: inspect one lock, list every lock file in the directory, and break
// a lease (`heartlock release --force`).
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "file_store.h"
#include "name_codec.h"

namespace heartlock::detail {

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
