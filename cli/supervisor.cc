#include "supervisor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <functional>
#include <new>
#include <string_view>

#include <sched.h>

#include "heartlock/duration.h"

#include "../src/core/process_identity.h"
#include "exit_codes.h"

extern char** environ;

namespace heartlock::cli {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

sigset_t supervised_signals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGTTOU}) {
    sigaddset(&set, sig);
  }
  return set;
}

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    close();
    fd_ = std::exchange(o.fd_, -1);
    return *this;
  }
  ~Fd() { close(); }
  int get() const { return fd_; }
  void close() {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }

 private:
  int fd_ = -1;
};

struct Pipe {
  Fd read;
  Fd write;
};

Pipe make_pipe() {
  int fds[2] = {-1, -1};
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return {};
  }
  return {Fd(fds[0]), Fd(fds[1])};
}

bool group_exists(pid_t pgid) { return ::kill(-pgid, 0) == 0 || errno == EPERM; }

void write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return;  // our own stdout is gone; COMMAND keeps running regardless
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}

int status_to_exit(int status) {
  if (WIFEXITED(status)) {
    return WEXITSTATUS(status);
  }
  if (WIFSIGNALED(status)) {
    return 128 + WTERMSIG(status);
  }
  return kExitInternal;
}

// The datagram socket `heartlock heartbeat` sends to, in the abstract namespace (no file to clean
// up; it disappears with the wrapper), and the secret a heartbeat must carry.
//
// An abstract socket has no file permissions: any local user can find it in /proc/net/unix and
// send to it. So a heartbeat has to prove itself twice. It must hold `secret`, random bits that
// reach COMMAND only through its environment (which /proc shows to its own uid and to root); the
// fencing token would not do, being a small number anyone can guess. And its sender must pass
// sender_allowed(), judged on the credentials the kernel attaches to each datagram: SO_PASSCRED,
// set before bind() so that no datagram is ever queued without them.
struct HeartbeatSocket {
  Fd fd;               // -1 if it could not be made; then no heartbeat reaches us
  std::string name;    // abstract: without the leading NUL
  std::string secret;  // hex
};

// 128 bits: not guessable, not even by a sender trying for the whole life of a job.
constexpr std::size_t kHeartbeatSecretBytes = 16;

HeartbeatSocket heartbeat_socket() {
  HeartbeatSocket out;
  Fd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  const int on = 1;
  if (fd.get() < 0 || ::setsockopt(fd.get(), SOL_SOCKET, SO_PASSCRED, &on, sizeof on) != 0) {
    return out;  // without credentials no sender could be checked: no socket at all
  }
  std::string name = "heartlock-" + std::to_string(::getpid()) + "-" + detail::random_hex(6);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path + 1, name.data(), name.size());
  auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    return out;
  }
  out.fd = std::move(fd);
  out.name = std::move(name);
  out.secret = detail::random_hex(kHeartbeatSecretBytes);
  return out;
}

// Whether a heartbeat from a sender with these credentials counts. Yes for our own effective uid:
// COMMAND (unless it changed user), and any other process of ours, which could read COMMAND's
// environment, secret included, anyway. Yes for root, which can ptrace us, read any environment
// and attach whatever credentials it likes (SCM_CREDENTIALS), so refusing it would protect
// nothing. No for everyone else. Not "any descendant of the wrapper": `heartlock heartbeat` exits
// right after sending, often before we read its datagram, so its pid could no longer be traced to
// us (and might be reused by then). A COMMAND that switches to another user must heartbeat from a
// process that kept the wrapper's uid.
bool sender_allowed(const ucred& sender) { return sender.uid == ::geteuid() || sender.uid == 0; }

// Whether `got` is `want`, in a time that depends on the lengths only (the secret's length is no
// secret): a comparison that stops at the first wrong byte would tell a patient sender how much of
// its guess was right.
bool same_secret(std::string_view got, std::string_view want) {
  if (got.size() != want.size()) {
    return false;
  }
  unsigned char diff = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    diff = static_cast<unsigned char>(diff | (got[i] ^ want[i]));
  }
  return diff == 0;
}

// At most this many datagrams are read per wakeup, so that a flood of forged ones cannot keep the
// loop from signals, a lost lease or the stop rule's deadlines (64 reads take some tens of
// microseconds). What is left stays queued and wakes poll() again at once.
constexpr int kMaxDatagramsPerWakeup = 64;

// Reads up to kMaxDatagramsPerWakeup datagrams from the heartbeat socket. Returns how many were
// heartbeats; calls `reject` with the reason and the sender of each other one.
int read_heartbeats(const HeartbeatSocket& socket,
                    const std::function<void(std::string_view why, const ucred&)>& reject) {
  int beats = 0;
  for (int i = 0; i < kMaxDatagramsPerWakeup; ++i) {
    char buf[128];  // a secret is 32 bytes; anything longer is not one
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred))];
    iovec iov{buf, sizeof buf};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    const ssize_t len = ::recvmsg(socket.fd.get(), &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (len < 0) {
      break;  // EAGAIN: drained
    }
    std::optional<ucred> sender;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
          c->cmsg_len == CMSG_LEN(sizeof(ucred))) {
        sender.emplace();
        std::memcpy(&*sender, CMSG_DATA(c), sizeof(ucred));
      } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
        // Descriptors a sender pushed on us (the buffer leaves them no room, but be sure): closed,
        // or a flood of them would fill our descriptor table.
        const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (std::size_t k = 0; k < count; ++k) {
          int passed = -1;
          std::memcpy(&passed, CMSG_DATA(c) + k * sizeof(int), sizeof(int));
          ::close(passed);
        }
      }
    }
    const ucred unknown{0, static_cast<uid_t>(-1), static_cast<gid_t>(-1)};
    if (!sender || (msg.msg_flags & MSG_CTRUNC) != 0) {
      reject("no sender credentials", sender.value_or(unknown));
    } else if (!sender_allowed(*sender)) {
      reject("sender runs as another user", *sender);
    } else if ((msg.msg_flags & MSG_TRUNC) != 0 ||
               !same_secret(std::string_view(buf, static_cast<std::size_t>(len)), socket.secret)) {
      reject("wrong secret", *sender);
    } else {
      ++beats;
    }
  }
  return beats;
}

// Variables COMMAND must not inherit from us: the backend passwords the library reads
// (src/redis/redis_url.cc, src/etcd/etcd_url.cc), which COMMAND has no use for; and an outer
// wrapper's heartbeat socket and secret, which ours replace (and which must not reach COMMAND when
// we have no socket of our own).
constexpr std::string_view kScrubbedEnv[] = {"HEARTLOCK_REDIS_PASSWORD", "HEARTLOCK_ETCD_PASSWORD",
                                             kHeartbeatSocketEnv, kHeartbeatSecretEnv};

// Environment for COMMAND: ours without stale HEARTLOCK_* values and secrets, plus `extra`.
std::vector<std::string> child_environment(const std::vector<std::string>& extra) {
  auto is_named = [](std::string_view kv, std::string_view name) {
    return kv.size() > name.size() && kv.starts_with(name) && kv[name.size()] == '=';
  };
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view kv(*e);
    bool dropped = false;
    for (std::string_view name : kScrubbedEnv) {
      dropped = dropped || is_named(kv, name);
    }
    for (const auto& x : extra) {
      auto eq = x.find('=');
      if (kv.substr(0, eq + 1) == std::string_view(x).substr(0, eq + 1)) {
        dropped = true;
      }
    }
    if (!dropped) {
      env.emplace_back(kv);
    }
  }
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

std::vector<char*> c_array(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings) {
    out.push_back(s.data());
  }
  out.push_back(nullptr);
  return out;
}

// The watchdog: waits for the wrapper to finish ("x" on the pipe) or die (EOF), and in the second
// case SIGKILLs COMMAND's group.
//
// It is started with clone(CLONE_VM) rather than fork(): it shares our memory instead of copying
// our page tables (fork cost ~0.4 ms per run, measured; the whole of `heartlock run` is ~2.5 ms).
// Sharing memory, and the TLS of the thread that cloned it, it runs on its own static stack and
// makes raw syscalls only, touching no libc state. (syscall(2) writes errno on failure; every
// call below can fail only once the wrapper is gone.) The address space stays alive as long as
// the watchdog uses it, even after the wrapper exits. It does not share our file table: it closes
// every fd but the pipe, above all its copy of the lock's fd, which would otherwise keep the lock
// held after the wrapper released it.
//
// It is started before COMMAND, so that no moment exists in which COMMAND runs unwatched; the
// wrapper then stores COMMAND's group in memory the two share (a MAP_SHARED page, since under the
// sanitizers the watchdog is forked), and the watchdog reads it only once the wrapper is gone.
//
// The watchdog also holds the lease's SIGKILL time (the stop rule, stop_rule.h), which the
// wrapper moves on after each confirmed renewal: if the wrapper is stopped (SIGSTOP), starved or
// hung and the time passes unextended, the watchdog kills COMMAND's group itself. Enforcing the
// deadline must not depend on the wrapper being scheduled.
struct WatchdogArgs {
  int pipe_fd;
  int lock_fd;                        // on the lease's locked open file (file backend), or -1
  pid_t wrapper;                      // whose main thread spawns COMMAND
  std::atomic<pid_t> group;           // 0 until COMMAND runs
  std::atomic<std::int64_t> kill_at;  // CLOCK_BOOTTIME ns; 0: none
};
WatchdogArgs* watchdog_args() {
  static auto* args = [] {
    void* page = ::mmap(nullptr, sizeof(WatchdogArgs), PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    return page == MAP_FAILED ? nullptr : new (page) WatchdogArgs{-1, -1, 0, 0, 0};
  }();
  return args;
}
WatchdogArgs* g_watchdog_args = nullptr;  // set before the watchdog starts; read by it
alignas(64) char g_watchdog_stack[32 * 1024];

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kCloneWatchdog = false;  // sanitizer runtimes cannot follow a CLONE_VM task
#else
constexpr bool kCloneWatchdog = true;
#endif

// For the watchdog: SIGKILLs the process group (and the process) of every child of the wrapper's
// main thread but the watchdog itself, read from /proc/<wrapper>/task/<wrapper>/children. Used
// when the kill time comes and COMMAND's group is not known: the wrapper was stopped between
// spawning COMMAND and telling us. Raw syscalls only. Returns whether it found any.
__attribute__((no_sanitize("address", "thread", "undefined"))) bool kill_wrapper_children(
    pid_t wrapper) {
  char path[64] = "/proc/";
  char digits[16];
  auto append_number = [&](char* out, long v) {
    int n = 0;
    do {
      digits[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v > 0 && n < 15);
    while (*out != 0) {
      ++out;
    }
    while (n > 0) {
      *out++ = digits[--n];
    }
    *out = 0;
  };
  append_number(path, wrapper);
  const char* middle = "/task/";
  char* end = path;
  while (*end != 0) {
    ++end;
  }
  for (const char* m = middle; *m != 0; ++m) {
    *end++ = *m;
  }
  *end = 0;
  append_number(path, wrapper);
  end = path;
  while (*end != 0) {
    ++end;
  }
  for (const char* m = "/children"; *m != 0; ++m) {
    *end++ = *m;
  }
  *end = 0;
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

// For the watchdog: whether process group `group` still has a member that is not a zombie, from
// /proc/<pid>/stat of every process. A killed COMMAND whose wrapper died is reparented to an init
// that may reap it late or never; its zombies run nothing and must not keep the lock. Raw
// syscalls only.
__attribute__((no_sanitize("address", "thread", "undefined"))) bool group_runs(pid_t group) {
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
      // "/proc/<digits>/stat"
      char path[48] = "/proc/";
      int len = 6;
      bool numeric = e->name[0] != 0;
      for (const char* c = e->name; *c != 0 && len < 30; ++c) {
        numeric = numeric && *c >= '0' && *c <= '9';
        path[len++] = *c;
      }
      if (!numeric) {
        continue;
      }
      for (const char* c = "/stat"; *c != 0; ++c) {
        path[len++] = *c;
      }
      path[len] = 0;
      const long fd = ::syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        continue;
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
        continue;
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
      // A process whose main thread has exited ('Z') while other threads still finish their
      // system calls (a write to what the lock protects) still runs: num_threads counts them.
      runs = pgrp == group && ((state != 'Z' && state != 'X') || threads > 1);
    }
  }
  ::syscall(SYS_close, dir);
  return runs;
}

__attribute__((no_sanitize("address", "thread", "undefined"))) int watchdog_main(void*) {
  const int fd = g_watchdog_args->pipe_fd;
  // Out of the wrapper's group: a kill of that group must not take the watchdog along.
  ::syscall(SYS_setpgid, 0, 0);
  // Everything closed but the pipe and the lock's open file (see below).
  const int lock_fd = g_watchdog_args->lock_fd;
  const auto low = static_cast<unsigned>(lock_fd >= 0 && lock_fd < fd ? lock_fd : fd);
  const auto high = static_cast<unsigned>(lock_fd > fd ? lock_fd : fd);
  if (low > 0) {
    ::syscall(SYS_close_range, 0U, low - 1, 0U);
  }
  if (high > low + 1) {
    ::syscall(SYS_close_range, low + 1, high - 1, 0U);
  }
  ::syscall(SYS_close_range, high + 1, ~0U, 0U);
  // Signals stay blocked here (the mask is inherited), so ppoll(2) is not interrupted by them.
  bool killed = false;
  for (;;) {
    const std::int64_t kill_at =
        killed ? 0 : g_watchdog_args->kill_at.load(std::memory_order_acquire);
    timespec wait{};
    timespec* timeout = nullptr;
    if (kill_at > 0) {
      timespec now{};
      ::syscall(SYS_clock_gettime, CLOCK_BOOTTIME, &now);
      const std::int64_t left = kill_at - (now.tv_sec * 1'000'000'000LL + now.tv_nsec);
      if (left <= 0) {
        // The lease's deadline is near and the wrapper has not moved it on: COMMAND goes now.
        const pid_t group = g_watchdog_args->group.load(std::memory_order_acquire);
        if (group > 0) {
          ::syscall(SYS_kill, -group, SIGKILL);
          killed = true;  // once; then it only waits for the wrapper
          continue;
        }
        // COMMAND's group is not known: not started yet, or the wrapper was stopped right after
        // starting it. Kill what the wrapper has started; look again shortly meanwhile.
        if (kill_wrapper_children(g_watchdog_args->wrapper)) {
          killed = true;
          continue;
        }
        wait.tv_nsec = 5'000'000;
      } else {
        wait.tv_sec = left / 1'000'000'000LL;
        wait.tv_nsec = left % 1'000'000'000LL;
      }
      timeout = &wait;
    }
    pollfd pfd{fd, POLLIN, 0};
    long n = ::syscall(SYS_ppoll, &pfd, 1UL, timeout, nullptr, 0UL);
    if (n <= 0) {
      continue;  // the kill time came (or moved): look again
    }
    char c = 0;
    n = ::syscall(SYS_read, fd, &c, 1);
    const pid_t group = g_watchdog_args->group.load(std::memory_order_acquire);
    if (n != 1 && group > 0) {
      // The wrapper died. On the file backend the kernel freed its flock as it went, but not the
      // lock: we hold the same open file (lock_fd), so nobody can have the lock until we exit.
      // Kill COMMAND's group and wait for it to be gone first -- else a contender can start
      // while COMMAND still runs (the torture run saw it write 8-13 ms after a kill -9 of its
      // wrapper, past the next holder's start). Bounded: members SIGKILLed in an uninterruptible
      // sleep, or left as zombies by an init that does not reap, must not hold the lock for good.
      ::syscall(SYS_kill, -group, SIGKILL);
      timespec start{};
      ::syscall(SYS_clock_gettime, CLOCK_BOOTTIME, &start);
      auto elapsed_ns = [&](const timespec& t) {
        return (t.tv_sec - start.tv_sec) * 1'000'000'000LL + (t.tv_nsec - start.tv_nsec);
      };
      for (timespec now = start; group_runs(group) && elapsed_ns(now) < 1'000'000'000LL;) {
        const timespec ms{0, 1'000'000};
        ::syscall(SYS_nanosleep, &ms, nullptr);
        ::syscall(SYS_clock_gettime, CLOCK_BOOTTIME, &now);
      }
    }
    return 0;  // glibc's clone() makes the exit syscall; lock_fd closes with it
  }
}

// Starts the watchdog on `pipe_fd` with the first SIGKILL time `kill_at` (boot clock ns; it may
// only move later, since the watchdog rereads it only when the last one comes).
pid_t start_watchdog(int pipe_fd, int lock_fd, std::int64_t kill_at) {
  g_watchdog_args = watchdog_args();
  if (g_watchdog_args == nullptr) {
    return -1;
  }
  g_watchdog_args->pipe_fd = pipe_fd;
  g_watchdog_args->lock_fd = lock_fd;
  g_watchdog_args->wrapper = ::getpid();
  g_watchdog_args->group.store(0, std::memory_order_release);
  g_watchdog_args->kill_at.store(kill_at, std::memory_order_release);
  if (kCloneWatchdog) {
    pid_t pid = ::clone(watchdog_main, g_watchdog_stack + sizeof g_watchdog_stack,
                        CLONE_VM | SIGCHLD, nullptr);
    if (pid > 0) {
      return pid;
    }
  }
  pid_t pid = ::fork();
  if (pid == 0) {
    watchdog_main(nullptr);
    ::_exit(0);
  }
  return pid;
}

}  // namespace

void block_supervised_signals() {
  sigset_t set = supervised_signals();
  ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

Outcome supervise(Lease& lease, int lost_fd, const SuperviseOptions& options, Events& events) {
  // Orphaned descendants of COMMAND are reparented to us and reaped below, so "is anything of
  // the group left?" (kill(-pgid, 0)) is not fooled by zombies an init that does not reap leaves.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  const HeartbeatSocket beat = heartbeat_socket();
  std::vector<std::string> extra = options.env;
  if (beat.fd.get() >= 0) {
    extra.push_back(std::string(kHeartbeatSocketEnv) + "=@" + beat.name);
    extra.push_back(std::string(kHeartbeatSecretEnv) + "=" + beat.secret);
  }
  std::vector<std::string> env = child_environment(extra);
  std::vector<std::string> argv_copy = options.argv;
  std::vector<char*> argv = c_array(argv_copy);
  std::vector<char*> envp = c_array(env);

  const bool capture = options.mode == HeartbeatMode::output;
  Pipe out = capture ? make_pipe() : Pipe{};
  Pipe err = capture ? make_pipe() : Pipe{};

  // The stop rule (stop_rule.h): SIGKILL at the lease's deadline less the stop margin. `kill_by`
  // is the latest such time while the lease was valid; it never moves back.
  BootClock::time_point kill_by = lease.valid_until() - options.stop_margin;
  Pipe watch = make_pipe();
  // The watchdog keeps the lock's open file (file backend) for as long as COMMAND may run: see
  // watchdog_main. Our copy is closed once it has its own.
  Fd lock_copy(lease.dup_lock_fd());
  // Without its pipe the watchdog could neither learn of our death nor be told to stop.
  const pid_t watcher = watch.read.get() < 0 ? -1
                                             : start_watchdog(watch.read.get(), lock_copy.get(),
                                                              kill_by.time_since_epoch().count());
  lock_copy = Fd();
  if (watcher < 0) {
    events.emit(LogLevel::warn, "watchdog",
                "cannot start the watchdog: if this wrapper is killed, the command is not");
  }
  watch.read.close();
  auto publish_kill_by = [&] {
    const BootClock::time_point valid = lease.valid_until();
    if (valid.time_since_epoch().count() > 0 && valid - options.stop_margin > kill_by) {
      kill_by = valid - options.stop_margin;
    }
    if (g_watchdog_args != nullptr) {
      g_watchdog_args->kill_at.store(kill_by.time_since_epoch().count(), std::memory_order_release);
    }
  };
  publish_kill_by();
  auto stop_watchdog = [&] {
    (void)!::write(watch.write.get(), "x", 1);
    watch.write.close();
    if (watcher > 0) {
      ::waitpid(watcher, nullptr, 0);
    }
  };

  // fork, not posix_spawn: COMMAND must be known to the watchdog before it runs. posix_spawn
  // returns only after the exec, and a wrapper killed before it then stored the group left the
  // watchdog knowing of no COMMAND: it freed the lock while COMMAND ran on (a 10-minute torture run
  // hit it once in 2166 kills). Here the child stores its own pid as the group first, after
  // arranging to die with us (PR_SET_PDEATHSIG, kept across the exec) and checking that we have
  // not died already. Between fork and exec it calls only async-signal-safe functions. An exec
  // failure comes back on a close-on-exec pipe.
  Pipe exec_failed = make_pipe();
  const pid_t parent = ::getpid();
  sigset_t none;
  sigemptyset(&none);
  pid_t child = exec_failed.write.get() < 0 ? -1 : ::fork();
  if (child == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) {
      ::_exit(127);
    }
    ::setpgid(0, 0);
    if (g_watchdog_args != nullptr) {
      g_watchdog_args->group.store(::getpid(), std::memory_order_release);
    }
    if (capture) {
      ::dup2(out.write.get(), STDOUT_FILENO);
      ::dup2(err.write.get(), STDERR_FILENO);
    }
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execvpe(argv[0], argv.data(), envp.data());
    const int error = errno;
    (void)!::write(exec_failed.write.get(), &error, sizeof error);
    ::_exit(127);
  }
  int spawn_error = child < 0 ? errno : 0;
  exec_failed.write.close();
  if (child > 0) {
    int error = 0;
    ssize_t got = 0;
    do {
      got = ::read(exec_failed.read.get(), &error, sizeof error);
    } while (got < 0 && errno == EINTR);
    if (got == static_cast<ssize_t>(sizeof error)) {
      spawn_error = error;
      ::waitpid(child, nullptr, 0);
    }
  }
  exec_failed.read.close();
  out.write.close();
  err.write.close();
  if (spawn_error != 0) {
    stop_watchdog();
    events.error("cannot run '" + options.argv[0] +
                 "': " + std::system_category().message(spawn_error));
    return {Outcome::Kind::spawn_failed,
            spawn_error == ENOENT ? kExitNotFound : kExitCannotExecute};
  }
  // Also stored here: the child may not have run yet when we go on.
  if (g_watchdog_args != nullptr) {
    g_watchdog_args->group.store(child, std::memory_order_release);
  }

  // Give COMMAND the terminal if we have it, so it can read from it and receive ^C directly.
  const bool foreground = ::isatty(STDIN_FILENO) && ::tcgetpgrp(STDIN_FILENO) == ::getpgrp();
  if (foreground) {
    ::tcsetpgrp(STDIN_FILENO, child);
  }

  sigset_t set = supervised_signals();
  Fd signals(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));

  std::optional<int> child_status;
  Outcome::Kind stopping = Outcome::Kind::exited;  // exited: not stopping
  std::optional<Clock::time_point> kill_at;
  bool killed = false;
  const auto start = Clock::now();
  auto last_beat = start;  // the last heartbeat from COMMAND (explicit and output modes)
  // time_point::max() for "no timeout" (an optional here trips g++ 12's -Wmaybe-uninitialized).
  const Clock::time_point timeout_at =
      options.timeout ? start + *options.timeout : Clock::time_point::max();
  // Datagrams on the heartbeat socket that were not heartbeats (read_heartbeats).
  std::uint64_t rejected = 0;
  auto reject = [&](std::string_view why, const ucred& sender) {
    if (rejected++ == 0) {  // the first only: a flood must not flood the log too
      events.emit(LogLevel::debug, "heartbeat_rejected",
                  "ignored a datagram on the heartbeat socket from pid " +
                      std::to_string(sender.pid) + " uid " + std::to_string(sender.uid) + ": " +
                      std::string(why),
                  {{"pid", sender.pid}, {"uid", sender.uid}, {"reason", why}});
    }
  };

  auto stop_group = [&](Outcome::Kind why, int sig) {
    if (stopping == Outcome::Kind::exited) {
      stopping = why;
    }
    ::kill(-child, sig);
    ::kill(-child, SIGCONT);  // a stopped group handles TERM only once continued
    // Never later than the lease's deadline allows, also when a forwarded signal set it first.
    auto grace = std::min<Clock::duration>(
        options.kill_grace,
        std::max<Clock::duration>(Clock::duration(0), kill_by - BootClock::now()));
    kill_at = kill_at ? std::min(*kill_at, Clock::now() + grace) : Clock::now() + grace;
  };

  for (;;) {
    bool pipes_open = out.read.get() >= 0 || err.read.get() >= 0;
    if (child_status) {
      // COMMAND is gone. Drain what is already in the pipes, then wait only for a stopped
      // group's stragglers.
      bool stragglers = stopping != Outcome::Kind::exited && !killed && group_exists(child);
      if (!stragglers && !pipes_open) {
        break;
      }
      if (!stragglers) {
        // Output mode: forward what is buffered without waiting for background children that
        // inherited the pipe.
        for (Fd* fd : {&out.read, &err.read}) {
          if (fd->get() < 0) {
            continue;
          }
          ::fcntl(fd->get(), F_SETFL, O_NONBLOCK);
          char buf[65536];
          ssize_t n = 0;
          while ((n = ::read(fd->get(), buf, sizeof buf)) > 0) {
            write_all(fd == &out.read ? STDOUT_FILENO : STDERR_FILENO, buf,
                      static_cast<std::size_t>(n));
          }
          fd->close();
        }
        break;
      }
    }
    auto now = Clock::now();
    publish_kill_by();
    const auto boot = BootClock::now();
    if (!child_status && !killed && boot >= kill_by) {
      // The deadline is here and no renewal moved it: COMMAND must be gone before anyone else
      // can hold the lock, grace or not.
      events.emit(LogLevel::error, "lost",
                  "lease " + lease.name() +
                      " reached its deadline unconfirmed; killing the command's process group",
                  {{"key", lease.name()}, {"reason", "deadline"}});
      stopping = Outcome::Kind::lost;
      ::kill(-child, SIGKILL);
      ::kill(-child, SIGCONT);
      killed = true;
    } else if (!child_status && stopping != Outcome::Kind::lost &&
               boot >= kill_by - options.kill_grace) {
      // Not renewed in time: start the stop now, so that the SIGKILL after the grace still lands
      // before the deadline.
      const auto left = format_duration(
          std::chrono::duration_cast<milliseconds>(kill_by + options.stop_margin - boot));
      const auto quiet = std::chrono::duration_cast<milliseconds>(now - last_beat);
      if (options.mode != HeartbeatMode::alive && quiet > options.stale_after / 2) {
        events.emit(LogLevel::error, "lost",
                    "lease " + lease.name() + " deadlocked: no heartbeat for " +
                        format_duration(quiet) + " (stale_after " +
                        format_duration(options.stale_after) + ")" +
                        (rejected > 0 ? "; datagrams ignored for a wrong secret or sender: " +
                                            std::to_string(rejected)
                                      : std::string()) +
                        "; stopping the command's process group before the lease can be " +
                        "taken over in " + left,
                    {{"key", lease.name()}, {"reason", "deadlocked"}});
      } else {
        events.emit(LogLevel::error, "lost",
                    "lease " + lease.name() + " has no renewal confirmed beyond " + left +
                        " from now; stopping the command's process group before it can expire",
                    {{"key", lease.name()}, {"reason", "deadline"}});
      }
      stopping = Outcome::Kind::lost;  // overrides a timeout in progress
      stop_group(Outcome::Kind::lost, SIGTERM);
    }
    if (now >= timeout_at && stopping == Outcome::Kind::exited && !child_status) {
      events.emit(LogLevel::warn, "timeout",
                  "timeout of " + format_duration(*options.timeout) +
                      " reached; stopping the command's process group");
      stop_group(Outcome::Kind::timed_out, SIGTERM);
    }
    if (kill_at && now >= *kill_at && !killed) {
      if (group_exists(child)) {
        events.emit(LogLevel::warn, "kill",
                    "the command's process group outlived the grace of " +
                        format_duration(options.kill_grace) + "; sending SIGKILL");
        ::kill(-child, SIGKILL);
      }
      killed = true;
    }
    if (options.mode == HeartbeatMode::alive && !child_status) {
      lease.heartbeat();
    }

    // In alive mode the heartbeat a renewal publishes is the last one this loop gave: keep it
    // fresh against stale_after (the stop rule assumes it is about as new as the renewal).
    milliseconds wait(250);
    if (options.mode == HeartbeatMode::alive && options.stale_after.count() > 0) {
      wait = std::min(wait, std::max(milliseconds(1), options.stale_after / 16));
    }
    auto until = [&](Clock::time_point t) {
      auto left = std::chrono::ceil<milliseconds>(t - Clock::now());
      wait = std::max(milliseconds(0), std::min(wait, left));
    };
    if (options.timeout && stopping == Outcome::Kind::exited) {
      until(timeout_at);
    }
    if (kill_at && !killed) {
      until(*kill_at);
    }
    if (!child_status && !killed) {
      // Wake for the stop (or the SIGKILL) the deadline asks for.
      const auto at = stopping == Outcome::Kind::lost ? kill_by : kill_by - options.kill_grace;
      auto left = std::chrono::ceil<milliseconds>(at - BootClock::now());
      wait = std::max(milliseconds(0), std::min(wait, left));
    }
    if (child_status) {
      wait = std::min(wait, milliseconds(10));  // polling a group for stragglers
    }
    pollfd fds[5] = {{signals.get(), POLLIN, 0},
                     {lost_fd, POLLIN, 0},
                     {beat.fd.get(), POLLIN, 0},
                     {out.read.get(), POLLIN, 0},
                     {err.read.get(), POLLIN, 0}};
    int n = ::poll(fds, 5, static_cast<int>(wait.count()));
    if (n < 0 && errno != EINTR) {
      events.error("poll: " + std::system_category().message(errno));
      stop_group(Outcome::Kind::exited, SIGTERM);
    }
    if (n <= 0) {
      continue;
    }
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo info{};
      while (::read(signals.get(), &info, sizeof info) == sizeof info) {
        int sig = static_cast<int>(info.ssi_signo);
        if (sig == SIGCHLD) {
          int status = 0;
          pid_t p = 0;
          while ((p = ::waitpid(-1, &status, WNOHANG)) > 0) {
            if (p == child) {
              child_status = status;
            }
          }
        } else if (sig != SIGTTOU) {
          events.emit(LogLevel::warn, "signal",
                      "got signal " + std::to_string(sig) + "; passing it to the command");
          ::kill(-child, sig);
          ::kill(-child, SIGCONT);
          if (!kill_at) {
            kill_at = Clock::now() + options.kill_grace;
          }
        }
      }
    }
    if (fds[1].revents & POLLIN) {
      std::uint64_t count = 0;
      (void)!::read(lost_fd, &count, sizeof count);
      auto reason = lease.lost_reason();
      if (stopping != Outcome::Kind::lost && !child_status) {
        events.emit(LogLevel::error, "lost",
                    "lease " + lease.name() + " lost (" +
                        std::string(reason ? to_string(*reason) : "unknown") +
                        "); stopping the command's process group",
                    {{"key", lease.name()}, {"reason", reason ? to_string(*reason) : "unknown"}});
        stopping = Outcome::Kind::lost;  // overrides a timeout in progress
        stop_group(Outcome::Kind::lost, SIGTERM);
      }
    }
    if ((fds[2].revents & POLLIN) && read_heartbeats(beat, reject) > 0) {
      lease.heartbeat();
      last_beat = Clock::now();
    }
    for (int i : {3, 4}) {
      if (fds[i].revents & (POLLIN | POLLHUP)) {
        Fd& fd = i == 3 ? out.read : err.read;
        char buf[65536];
        ssize_t len = ::read(fd.get(), buf, sizeof buf);
        if (len <= 0) {
          fd.close();
          continue;
        }
        write_all(i == 3 ? STDOUT_FILENO : STDERR_FILENO, buf, static_cast<std::size_t>(len));
        if (std::memchr(buf, '\n', static_cast<std::size_t>(len)) != nullptr) {
          lease.heartbeat();
          last_beat = Clock::now();
        }
      }
    }
  }

  if (foreground) {
    ::tcsetpgrp(STDIN_FILENO, ::getpgrp());  // SIGTTOU is blocked, so this works from behind
  }
  if (rejected > 0) {
    events.emit(LogLevel::debug, "heartbeat_rejected",
                "datagrams ignored on the heartbeat socket for a wrong secret or sender: " +
                    std::to_string(rejected),
                {{"count", rejected}});
  }
  // Told "done", the watchdog exits at once; reap it here rather than leave it to an init that
  // may not reap (PID 1 in many containers does not).
  stop_watchdog();

  if (stopping == Outcome::Kind::exited && (lease.lost() || BootClock::now() >= kill_by)) {
    // COMMAND ended past the lease's deadline or while it was lost (the watchdog's SIGKILL at the
    // deadline while this wrapper was not running, or a loss at the moment it exited).
    events.emit(LogLevel::error, "lost",
                "lease " + lease.name() + " was lost while the command ran",
                {{"key", lease.name()}});
    stopping = Outcome::Kind::lost;
  }
  if (stopping == Outcome::Kind::lost) {
    return {Outcome::Kind::lost, kExitLost};
  }
  if (stopping == Outcome::Kind::timed_out) {
    return {Outcome::Kind::timed_out, kExitTimeout};
  }
  int code = status_to_exit(*child_status);
  return {WIFSIGNALED(*child_status) ? Outcome::Kind::signaled : Outcome::Kind::exited, code};
}

}  // namespace heartlock::cli
