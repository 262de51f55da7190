#include "exec/watchdog.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <new>

#include <sched.h>

#include "exec/process_group.h"

namespace heartlock::exec {

// Shared between a supervisor and its watchdog.
struct WatchdogArgs {
  int pipe_fd;
  int lock_fd;                        // on the lease's locked open file (file backend), or -1
  pid_t process;                      // the supervisor's process
  pid_t thread;                       // the thread that forks COMMAND
  std::uint64_t blocked;              // signal mask for the watchdog (kernel sigset_t)
  std::atomic<pid_t> group;           // 0 until COMMAND runs
  std::atomic<std::int64_t> kill_at;  // CLOCK_BOOTTIME ns; 0: none
  std::atomic<bool> fired;            // the kill time came and COMMAND's group was SIGKILLed
};

namespace {

// It is started with clone(CLONE_VM) rather than fork(): it shares our memory instead of copying
// our page tables (fork cost ~0.4 ms per run, measured; the whole of `heartlock run` is ~2.5 ms).
// Sharing memory, and the TLS of the thread that cloned it, it runs on its own stack and makes
// raw syscalls only, touching no libc state. (syscall(2) writes errno on failure, into that
// thread's TLS: the supervisor keeps that thread until it has reaped the watchdog.) The address
// space stays alive as long as the watchdog uses it, even after the supervisor's process exits.
// It does not share our file table: it closes every fd but the pipe, above all its copies of lock
// fds, which would otherwise keep a lock held after its lease was released.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kCloneWatchdog = false;  // sanitizer runtimes cannot follow a CLONE_VM task
#else
constexpr bool kCloneWatchdog = true;
#endif
constexpr std::size_t kStackSize = 32 * 1024;

// The signals the watchdog keeps blocked, so that ppoll(2) is not interrupted and none of them
// ends it, whatever mask the application gave the thread that started it.
constexpr std::uint64_t kBlocked = (1ULL << (SIGCHLD - 1)) | (1ULL << (SIGTERM - 1)) |
                                   (1ULL << (SIGINT - 1)) | (1ULL << (SIGHUP - 1)) |
                                   (1ULL << (SIGQUIT - 1)) | (1ULL << (SIGTTOU - 1));

__attribute__((no_sanitize("address", "thread", "undefined"))) void close_all_but(int a, int b) {
  const auto low = static_cast<unsigned>(b >= 0 && b < a ? b : a);
  const auto high = static_cast<unsigned>(b > a ? b : a);
  if (low > 0) {
    ::syscall(SYS_close_range, 0U, low - 1, 0U);
  }
  if (high > low + 1) {
    ::syscall(SYS_close_range, low + 1, high - 1, 0U);
  }
  ::syscall(SYS_close_range, high + 1, ~0U, 0U);
}

// The supervisor died. On the file backend the kernel freed its flock as it went, but not the
// lock: we hold the same open file (lock_fd), so nobody can have the lock until we exit. Kill
// COMMAND's group and wait for it to be gone first -- else a contender can start while COMMAND
// still runs (the torture run saw it write 8-13 ms after a kill -9 of its wrapper, past the next
// holder's start). Bounded: members SIGKILLed in an uninterruptible sleep, or left as zombies by
// an init that does not reap, must not hold the lock for good.
__attribute__((no_sanitize("address", "thread", "undefined"))) void kill_and_wait(pid_t group) {
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

// How long to wait before looking at the kill time again; SIGKILLs the group when it has come.
// Returns false for "no time set".
__attribute__((no_sanitize("address", "thread", "undefined"))) bool next_wait(WatchdogArgs* args,
                                                                              bool& killed,
                                                                              timespec& wait) {
  const std::int64_t kill_at = killed ? 0 : args->kill_at.load(std::memory_order_acquire);
  if (kill_at <= 0) {
    return false;
  }
  timespec now{};
  ::syscall(SYS_clock_gettime, CLOCK_BOOTTIME, &now);
  const std::int64_t left = kill_at - (now.tv_sec * 1'000'000'000LL + now.tv_nsec);
  wait = {};
  if (left > 0) {
    wait.tv_sec = left / 1'000'000'000LL;
    wait.tv_nsec = left % 1'000'000'000LL;
    return true;
  }
  // The lease's deadline is near and the supervisor has not moved it on: COMMAND goes now.
  const pid_t group = args->group.load(std::memory_order_acquire);
  if (group > 0) {
    args->fired.store(true, std::memory_order_release);
    ::syscall(SYS_kill, -group, SIGKILL);
    killed = true;  // once; then it only waits for the supervisor
    return false;
  }
  // COMMAND's group is not known: not started yet, or the supervisor was stopped right after
  // forking it. Kill what the supervisor's thread has started; look again shortly meanwhile.
  if (kill_thread_children(args->process, args->thread)) {
    killed = true;
    return false;
  }
  wait.tv_nsec = 5'000'000;
  return true;
}

// Waits for the supervisor to finish ("x" on the pipe) or die (EOF), and in the second case
// SIGKILLs COMMAND's group; meanwhile enforces the kill time.
__attribute__((no_sanitize("address", "thread", "undefined"))) int watchdog_main(void* arg) {
  auto* args = static_cast<WatchdogArgs*>(arg);
  const int fd = args->pipe_fd;
  ::syscall(SYS_rt_sigprocmask, SIG_BLOCK, &args->blocked, nullptr, sizeof args->blocked);
  // Out of the supervisor's group: a kill of that group must not take the watchdog along.
  ::syscall(SYS_setpgid, 0, 0);
  // Everything closed but the pipe and the lock's open file (see kill_and_wait): the copies of
  // other jobs' descriptors, too.
  close_all_but(fd, args->lock_fd);
  bool killed = false;
  for (;;) {
    timespec wait{};
    const bool timed = next_wait(args, killed, wait);
    pollfd pfd{fd, POLLIN, 0};
    long n = ::syscall(SYS_ppoll, &pfd, 1UL, timed ? &wait : nullptr, nullptr, 0UL);
    if (n <= 0) {
      continue;  // the kill time came (or moved): look again
    }
    char c = 0;
    n = ::syscall(SYS_read, fd, &c, 1);
    const pid_t group = args->group.load(std::memory_order_acquire);
    if (n != 1 && group > 0) {
      kill_and_wait(group);
    }
    return 0;  // glibc's clone() makes the exit syscall; lock_fd closes with it
  }
}

}  // namespace

std::unique_ptr<Watchdog> Watchdog::start(int lock_fd, BootClock::time_point kill_at) {
  std::unique_ptr<Watchdog> w(new Watchdog());
  void* page = ::mmap(nullptr, sizeof(WatchdogArgs), PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (page == MAP_FAILED) {
    return nullptr;
  }
  Pipe pipe = make_pipe();
  // Without its pipe the watchdog could neither learn of our death nor be told to stop.
  if (pipe.read.get() < 0) {
    ::munmap(page, sizeof(WatchdogArgs));
    return nullptr;
  }
  w->args_ = new (page)
      WatchdogArgs{pipe.read.get(), lock_fd, ::getpid(), ::gettid(), kBlocked, {0}, {0}, {false}};
  w->set_kill_at(kill_at);
  w->pipe_ = std::move(pipe.write);
  if (kCloneWatchdog) {
    void* stack = ::mmap(nullptr, kStackSize, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack != MAP_FAILED) {
      w->stack_ = stack;
      w->pid_ = ::clone(watchdog_main, static_cast<char*>(stack) + kStackSize, CLONE_VM | SIGCHLD,
                        w->args_);
    }
  }
  if (w->pid_ < 0) {
    w->pid_ = ::fork();
    if (w->pid_ == 0) {
      watchdog_main(w->args_);
      ::_exit(0);
    }
  }
  // Our copy of the read end goes; the watchdog has its own.
  pipe.read.close();
  if (w->pid_ < 0) {
    return nullptr;  // the destructor frees the memory
  }
  return w;
}

Watchdog::~Watchdog() {
  finish();
  if (pid_ > 0) {
    return;  // not reaped: it may still use its memory, which is left to it
  }
  if (stack_ != nullptr) {
    ::munmap(stack_, kStackSize);
  }
  if (args_ != nullptr) {
    ::munmap(args_, sizeof(WatchdogArgs));
  }
}

std::atomic<pid_t>* Watchdog::group() noexcept { return &args_->group; }

bool Watchdog::fired() const noexcept { return args_->fired.load(std::memory_order_acquire); }

void Watchdog::set_kill_at(BootClock::time_point kill_at) noexcept {
  args_->kill_at.store(kill_at.time_since_epoch().count(), std::memory_order_release);
}

// Told "done", the watchdog exits at once; reap it here rather than leave it to an init that may
// not reap (PID 1 in many containers does not), and before its stack is freed.
void Watchdog::finish() noexcept {
  if (pipe_.get() >= 0) {
    (void)!::write(pipe_.get(), "x", 1);
    pipe_.close();
  }
  if (pid_ > 0) {
    siginfo_t info{};
    int rc = 0;
    while ((rc = ::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED)) != 0 && errno == EINTR) {
    }
    if (rc == 0) {
      pid_ = -1;
    }
  }
}

}  // namespace heartlock::exec
