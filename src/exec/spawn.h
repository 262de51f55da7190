// Starting COMMAND for a supervisor: a child of its own process group (started as posix_spawn
// starts one, sharing our memory until it execs), a pidfd for exactly that child.
#ifndef HEARTLOCK_EXEC_SPAWN_H_
#define HEARTLOCK_EXEC_SPAWN_H_

#include <sys/types.h>

#include <atomic>
#include <string>
#include <vector>

#include "exec/fd.h"

namespace heartlock::exec {

// COMMAND's environment: this process's without stale HEARTLOCK_* values and backend secrets,
// plus `extra` ("NAME=value", replacing any variable of that name).
std::vector<std::string> child_environment(const std::vector<std::string>& extra);

struct SpawnRequest {
  const std::vector<std::string>* argv = nullptr;
  const std::vector<std::string>* env = nullptr;  // the whole environment
  // Where the child stores its own pid (= its group) before it execs; shared with the watchdog.
  std::atomic<pid_t>* group = nullptr;
  int stdout_fd = -1;  // dup2'ed onto the child's stdout if >= 0
  int stderr_fd = -1;
  int stdin_fd = -1;  // dup2'ed onto the child's stdin if >= 0
};

struct Spawned {
  pid_t pid = -1;  // COMMAND, leader of its own group; -1 if it did not start
  Fd pidfd;        // readable once COMMAND exits; reap it with waitid(P_PIDFD)
  int error = 0;   // the errno of fork, pidfd_open or exec when pid is -1
};

// Starts COMMAND, which dies with the calling thread (PR_SET_PDEATHSIG, so the caller must keep
// that thread until COMMAND is reaped), leads a new process group, and runs with no signal
// blocked. Returns once COMMAND has exec'd or failed to (a failed child is reaped here).
Spawned spawn(const SpawnRequest& request);

}  // namespace heartlock::exec

#endif  // HEARTLOCK_EXEC_SPAWN_H_
