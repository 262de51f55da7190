#include "exec/process_group.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>

namespace heartlock::exec {
namespace {

// Appends the decimal digits of `v` to the NUL-terminated `out`.
__attribute__((no_sanitize("address", "thread", "undefined"))) void append_number(char* out,
                                                                                  long v) {
  char digits[24];
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v > 0 && n < 20);
  while (*out != 0) {
    ++out;
  }
  while (n > 0) {
    *out++ = digits[--n];
  }
  *out = 0;
}

__attribute__((no_sanitize("address", "thread", "undefined"))) void append_text(char* out,
                                                                                const char* text) {
  while (*out != 0) {
    ++out;
  }
  while (*text != 0) {
    *out++ = *text++;
  }
  *out = 0;
}

// Whether /proc/<pid>/stat (`name` is the pid's digits) shows a process of `group` that still
// runs: not a zombie, or a zombie whose other threads still finish their system calls.
__attribute__((no_sanitize("address", "thread", "undefined"))) bool member_runs(const char* name,
                                                                                pid_t group) {
  char path[48] = "/proc/";
  int len = 6;
  for (const char* c = name; *c != 0 && len < 30; ++c) {
    if (*c < '0' || *c > '9') {
      return false;
    }
    path[len++] = *c;
  }
  if (len == 6) {
    return false;
  }
  path[len] = 0;
  append_text(path, "/stat");
  const long fd = ::syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return false;
  }
  char stat[512];
  const long got = ::syscall(SYS_read, fd, stat, sizeof stat);
  ::syscall(SYS_close, fd);
  // "pid (comm) S ppid pgrp ...": comm may hold anything, so read from the last ')'.
  long close_paren = -1;
  for (long i = 0; i < got; ++i) {
    close_paren = stat[i] == ')' ? i : close_paren;
  }
  if (close_paren < 0 || close_paren + 2 >= got) {
    return false;
  }
  // Fields after the ')': state (3), ppid (4), pgrp (5), ..., num_threads (20).
  const char state = stat[close_paren + 2];
  long pgrp = -1;
  long threads = 0;
  long value = 0;
  int field = 3;
  for (long i = close_paren + 2; i <= got && field <= 20; ++i) {
    const char c = i < got ? stat[i] : ' ';
    if (c == ' ') {
      pgrp = field == 5 ? value : pgrp;
      threads = field == 20 ? value : threads;
      value = 0;
      ++field;
    } else if (c >= '0' && c <= '9') {
      value = value * 10 + (c - '0');
    }
  }
  // A process whose main thread has exited ('Z') while other threads still finish their system
  // calls (a write to what the lock protects) still runs: num_threads counts them.
  return pgrp == group && ((state != 'Z' && state != 'X') || threads > 1);
}

}  // namespace

__attribute__((no_sanitize("address", "thread", "undefined"))) bool group_runs(
    pid_t group) noexcept {
  if (::syscall(SYS_kill, -group, 0) != 0) {
    return false;  // no member at all, zombies included
  }
  const long dir = ::syscall(SYS_openat, AT_FDCWD, "/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) {
    return true;
  }
  struct Dirent64 {
    std::uint64_t ino;
    std::int64_t off;
    unsigned short reclen;
    unsigned char type;
    char name[1];
  };
  alignas(8) char entries[4096];
  bool runs = false;
  for (long n; !runs && (n = ::syscall(SYS_getdents64, dir, entries, sizeof entries)) > 0;) {
    for (long at = 0; at < n && !runs;) {
      const auto* e = reinterpret_cast<const Dirent64*>(entries + at);
      at += e->reclen;
      runs = member_runs(e->name, group);
    }
  }
  ::syscall(SYS_close, dir);
  return runs;
}

__attribute__((no_sanitize("address", "thread", "undefined"))) bool kill_thread_children(
    pid_t process, pid_t thread) noexcept {
  char path[80] = "/proc/";
  append_number(path, process);
  append_text(path, "/task/");
  append_number(path, thread);
  append_text(path, "/children");
  const long fd = ::syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return false;
  }
  char buf[4096];
  const long n = ::syscall(SYS_read, fd, buf, sizeof buf - 1);
  ::syscall(SYS_close, fd);
  const long self = ::syscall(SYS_getpid);
  bool found = false;
  long pid = 0;
  for (long i = 0; i <= n && n > 0; ++i) {
    const char c = i < n ? buf[i] : ' ';
    if (c >= '0' && c <= '9') {
      pid = pid * 10 + (c - '0');
    } else if (pid > 0) {
      if (pid != self) {
        ::syscall(SYS_kill, -pid, SIGKILL);  // its group, if it leads one already
        ::syscall(SYS_kill, pid, SIGKILL);
        found = true;
      }
      pid = 0;
    }
  }
  return found;
}

}  // namespace heartlock::exec
