#include "exec/spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string_view>

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

// fork, not posix_spawn: COMMAND must be known to the watchdog before it runs. posix_spawn
// returns only after the exec, and a wrapper killed before it then stored the group left the
// watchdog knowing of no COMMAND: it freed the lock while COMMAND ran on (a 10-minute torture run
// hit it once in 2166 kills). Here the child stores its own pid as the group first, after
// arranging to die with us (PR_SET_PDEATHSIG, kept across the exec) and checking that we have
// not died already. An exec failure comes back on a close-on-exec pipe.
//
// The pidfd is opened right after fork: until we reap it, the child's pid cannot be reused, and
// since nothing in the process waits for "any child" (no waitpid(-1)), only this job reaps it.
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
  const pid_t child = ::fork();
  if (child == 0) {
    exec_child(request, parent, argv.data(), envp.data(), failed.write.get());
  }
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
