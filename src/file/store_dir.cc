// Opening the store directory safely, and choosing the default one.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "file_store.h"

namespace heartlock::detail {
namespace {

// mkdir -p with mode 0700 for every directory we create.
void make_dirs(const std::string& path) {
  for (std::size_t pos = 1; pos <= path.size(); ++pos) {
    if (pos == path.size() || path[pos] == '/') {
      std::string prefix = path.substr(0, pos);
      if (::mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST) {
        return;  // the open below reports why
      }
    }
  }
}

bool usable_dir(const std::string& dir, const std::string& parent) {
  struct stat st {};
  if (::lstat(dir.c_str(), &st) == 0) {
    return S_ISDIR(st.st_mode) && st.st_uid == ::geteuid() && ::access(dir.c_str(), W_OK) == 0;
  }
  return ::access(parent.c_str(), W_OK) == 0;
}

}  // namespace

std::string default_lock_dir() {
  if (const char* dir = std::getenv("HEARTLOCK_DIR"); dir != nullptr && *dir != '\0') {
    return dir;
  }
  if (usable_dir("/run/lock/heartlock", "/run/lock")) {
    return "/run/lock/heartlock";
  }
  if (const char* xdg = std::getenv("XDG_RUNTIME_DIR"); xdg != nullptr && *xdg == '/') {
    return std::string(xdg) + "/heartlock";
  }
  return "/tmp/heartlock-" + std::to_string(::geteuid());
}

Result<std::unique_ptr<Store>> open_file_store(std::string path, StoreOptions options) {
  if (path.empty()) {
    return fail(Errc::invalid_argument, "file store path is empty");
  }
  std::error_code ec;
  auto absolute = std::filesystem::absolute(path, ec);
  if (!ec) {
    path = absolute.lexically_normal().string();
  }
  while (path.size() > 1 && path.back() == '/') {
    path.pop_back();
  }
  make_dirs(path);
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    struct stat link {};
    // With O_DIRECTORY a symlink fails as ENOTDIR rather than ELOOP: ask lstat which it was.
    if (err == ELOOP ||
        (err == ENOTDIR && ::lstat(path.c_str(), &link) == 0 && S_ISLNK(link.st_mode))) {
      return fail(Errc::permission_denied,
                  "lock directory " + path + " is a symlink; refusing to follow it");
    }
    if (err == ENOTDIR) {
      // Unusable, like one we may not write to (exit 69), though the path itself is well formed.
      return fail(Errc::unavailable,
                  "lock directory " + path + " (or a parent of it) is not a directory");
    }
    return fail(err == EACCES || err == EPERM ? Errc::permission_denied : Errc::unavailable,
                "cannot open lock directory " + path + ": " + errno_text(err));
  }
  UniqueFd dir(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return fail(Errc::unavailable, "cannot stat lock directory " + path + ": " + errno_text(errno));
  }
  if (st.st_uid != ::geteuid()) {
    return fail(Errc::permission_denied, "lock directory " + path + " is owned by " +
                                             describe_uid(st.st_uid) + ", not by this user (" +
                                             describe_uid(::geteuid()) + "); refusing it");
  }
  // As ssh refuses its files: whoever can write to the directory can rename or replace any lock
  // file in it, taking the lock from under its holder. The sticky bit (as on /tmp) limits that to
  // each file's owner, and only our own lock files are used (open_lock_file).
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 && (st.st_mode & S_ISVTX) == 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return fail(Errc::permission_denied,
                "lock directory " + path + " (mode " + mode +
                    ") is writable by its group or others and not sticky: they could rename or "
                    "replace its lock files; refusing it (chmod go-w, or chmod +t)");
  }
  if (::faccessat(fd, ".", W_OK | X_OK, AT_EACCESS) != 0) {
    return fail(Errc::permission_denied,
                "lock directory " + path + " is not writable: " + errno_text(errno));
  }
  return std::make_unique<FileStore>(std::move(path), std::move(dir), FileId{st.st_dev, st.st_ino},
                                     std::move(options));
}

}  // namespace heartlock::detail
