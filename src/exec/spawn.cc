#include "exec/spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string_view>

#include <sched.h>

#include "exec/heartbeat_socket.h"

extern char** environ;

namespace heartlock::exec {
namespace {

// Variables COMMAND must not inherit from us: the backend passwords the library reads
// (src/redis/redis_url.cc, src/etcd/etcd_url.cc), which COMMAND has no use for; and an outer
// job's heartbeat socket and secret, which ours replace (and which must not reach COMMAND when
// we have no socket of our own).
constexpr std::string_view kScrubbedEnv[] = {"HEARTLOCK_REDIS_PASSWORD", "HEARTLOCK_ETCD_PASSWORD",
                                             kHeartbeatSocketEnv, kHeartbeatSecretEnv};

std::vector<char*> c_array(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings) {
    out.push_back(s.data());
  }
  out.push_back(nullptr);
  return out;
}

// The child's side, between fork and exec: async-signal-safe calls only (other threads of this
// process may hold any lock of libc's).
[[noreturn]] void exec_child(const SpawnRequest& r, pid_t parent, char** argv, char** envp,
                             int failed_fd) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) {
    ::_exit(127);  // our parent died before the line above: it must not run unsupervised
  }
  ::setpgid(0, 0);
  if (r.group != nullptr) {
    r.group->store(::getpid(), std::memory_order_release);
  }
  // dup2 onto itself changes nothing, close-on-exec included: then only the flag is cleared.
  const auto redirect = [](int from, int to) {
    if (from == to) {
      ::fcntl(to, F_SETFD, 0);
    } else if (from >= 0) {
      ::dup2(from, to);
    }
  };
  redirect(r.stdin_fd, STDIN_FILENO);
  redirect(r.stdout_fd, STDOUT_FILENO);
  redirect(r.stderr_fd, STDERR_FILENO);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::execvpe(argv[0], argv, envp);
  const int error = errno;
  (void)!::write(failed_fd, &error, sizeof error);
  ::_exit(127);
}

// The child is started the way posix_spawn starts one: clone(CLONE_VM | CLONE_VFORK) on a stack
// of its own, sharing our memory while we wait until it has exec'd or failed. fork() copied the
// page tables of this process (and then every page either side wrote, copy-on-write): ~200 page
// faults per `heartlock run`, more than all of its start-up (docs/benchmarks.md, issue 14).
// Sanitizer runtimes cannot follow a child that shares their memory: fork there.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSharedMemoryChild = false;
#else
constexpr bool kSharedMemoryChild = true;
#endif
// The child's stack. execvpe puts a candidate path (up to PATH_MAX) on it and, for a script
// without #!, a copy of argv (argc + 2 pointers): sized as glibc's posix_spawn sizes its own.
std::size_t child_stack_size(std::size_t argc) {
  const std::size_t page = 4096;
  const std::size_t bytes = 64 * 1024 + (argc + 3) * sizeof(char*);
  return (bytes + page - 1) / page * page;
}

struct ChildArgs {
  const SpawnRequest* request;
  pid_t parent;
  char** argv;
  char** envp;
  int failed_fd;
};

// In the child, before exec_child unblocks the signals (start_child blocked them all before the
// child was made): the handlers this process installed go back to the default, so that none runs
// in the child -- with CLONE_VM it would touch our state, after a fork an embedding program's
// (a self-pipe written twice). Ignored signals stay ignored, as across fork and exec. glibc's two
// internal signals refuse sigaction; nothing in this process sends them (no thread cancellation,
// no setuid across threads).
void reset_caught_signals() {
  for (int sig = 1; sig < NSIG; ++sig) {
    struct sigaction current {};
    if (::sigaction(sig, nullptr, &current) == 0 && current.sa_handler != SIG_IGN &&
        current.sa_handler != SIG_DFL) {
      struct sigaction dfl {};
      dfl.sa_handler = SIG_DFL;
      ::sigaction(sig, &dfl, nullptr);
    }
  }
}

// The child sharing our memory (it has its own copy of the handler table: no CLONE_SIGHAND).
int shared_memory_child(void* arg) {
  const auto* a = static_cast<const ChildArgs*>(arg);
  reset_caught_signals();
  exec_child(*a->request, a->parent, a->argv, a->envp, a->failed_fd);
}

// Starts exec_child in a new process with every signal blocked until it has reset the handlers;
// its pid, or -1 with errno.
pid_t start_child(const SpawnRequest& request, pid_t parent, char** argv, char** envp,
                  int failed_fd) {
  const std::size_t stack_size = child_stack_size(request.argv->size());
  void* stack = nullptr;
  if (kSharedMemoryChild) {
    stack = ::mmap(nullptr, stack_size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) {
      return -1;
    }
  }
  // Every signal blocked, glibc's own two (thread cancellation, setxid) included, which
  // pthread_sigmask leaves out: the raw system call, with the kernel's 64-bit mask.
  std::uint64_t all = ~std::uint64_t{0};
  std::uint64_t before = 0;
  ::syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, &before, sizeof all);
  pid_t child = -1;
  if (kSharedMemoryChild) {
    ChildArgs args{&request, parent, argv, envp, failed_fd};
    // Returns once the child has exec'd or exited (CLONE_VFORK): its stack is free again then.
    child = ::clone(shared_memory_child, static_cast<char*>(stack) + stack_size,
                    CLONE_VM | CLONE_VFORK | SIGCHLD, &args);
  } else {
    child = ::fork();
    if (child == 0) {
      reset_caught_signals();
      exec_child(request, parent, argv, envp, failed_fd);
    }
  }
  const int start_error = errno;
  ::syscall(SYS_rt_sigprocmask, SIG_SETMASK, &before, nullptr, sizeof before);
  if (stack != nullptr) {
    ::munmap(stack, stack_size);
  }
  errno = start_error;
  return child;
}

void reap(pid_t pid) {
  siginfo_t info{};
  while (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED) != 0 && errno == EINTR) {
  }
}

}  // namespace

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

// Not posix_spawn: COMMAND must be known to the watchdog before it runs. posix_spawn
// returns only after the exec, and a wrapper killed before it then stored the group left the
// watchdog knowing of no COMMAND: it freed the lock while COMMAND ran on (a 10-minute torture run
// hit it once in 2166 kills). Here the child stores its own pid as the group first, after
// arranging to die with us (PR_SET_PDEATHSIG, kept across the exec) and checking that we have
// not died already. An exec failure comes back on a close-on-exec pipe.
//
// The pidfd is opened right after the child starts: until we reap it, the child's pid cannot be
// reused, and since nothing in the process waits for "any child" (no waitpid(-1)), only this job
// reaps it.
Spawned spawn(const SpawnRequest& request) {
  std::vector<std::string> argv_copy = *request.argv;
  std::vector<std::string> env_copy = *request.env;
  std::vector<char*> argv = c_array(argv_copy);
  std::vector<char*> envp = c_array(env_copy);
  Spawned out;
  Pipe failed = make_pipe();
  if (failed.write.get() < 0) {
    out.error = errno;
    return out;
  }
  const pid_t parent = ::getpid();
  const pid_t child = start_child(request, parent, argv.data(), envp.data(), failed.write.get());
  if (child < 0) {
    out.error = errno;
    return out;
  }
  failed.write.close();
  // The raw syscall: glibc 2.36's <sys/pidfd.h> declares pidfd_open without C linkage for C++.
  Fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, child, 0U)));
  const int pidfd_error = errno;
  int error = 0;
  ssize_t got = 0;
  do {
    got = ::read(failed.read.get(), &error, sizeof error);
  } while (got < 0 && errno == EINTR);
  if (got == static_cast<ssize_t>(sizeof error) || pidfd.get() < 0) {
    // Exec failed, or without a pidfd this job could not wait for exactly its child: it goes.
    if (got != static_cast<ssize_t>(sizeof error)) {
      ::kill(-child, SIGKILL);
      ::kill(child, SIGKILL);
      error = pidfd_error;
    }
    reap(child);
    out.error = error;
    return out;
  }
  out.pid = child;
  out.pidfd = std::move(pidfd);
  return out;
}

}  // namespace heartlock::exec
