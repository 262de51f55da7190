// Runs COMMAND under a lease: in its own process group, supervised until it ends, stopped (TERM,
// then KILL after a grace) when the lease is lost or the timeout passes.
//
// If the wrapper itself dies (even by SIGKILL), COMMAND must not go on as if it held the lock. A
// small watchdog process, forked from the wrapper into its own process group, holds the read end
// of a pipe whose only writer is the wrapper: when the wrapper dies the pipe reports EOF and the
// watchdog SIGKILLs COMMAND's whole process group at once. (A parent-death signal would reach only
// the direct child, not its children.)
#ifndef HEARTLOCK_CLI_SUPERVISOR_H_
#define HEARTLOCK_CLI_SUPERVISOR_H_

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "heartlock/heartlock.h"

#include "events.h"

namespace heartlock::cli {

enum class HeartbeatMode {
  alive,      // the wrapper heartbeats while COMMAND lives
  explicit_,  // only `heartlock heartbeat` calls from inside COMMAND count
  output,     // each line COMMAND prints counts
};

struct SuperviseOptions {
  std::vector<std::string> argv;
  HeartbeatMode mode = HeartbeatMode::alive;
  std::optional<std::chrono::milliseconds> timeout;
  std::chrono::milliseconds kill_grace{5000};
  // SIGKILL lands this long before the lease's deadline (stop_rule.h); SIGTERM kill_grace earlier.
  std::chrono::milliseconds stop_margin{50};
  std::chrono::milliseconds stale_after{0};  // the lease's, for messages
  // Added to COMMAND's environment, "NAME=value". COMMAND gets the wrapper's environment without
  // the backend passwords the library reads (HEARTLOCK_REDIS_PASSWORD, HEARTLOCK_ETCD_PASSWORD).
  std::vector<std::string> env;
};

struct Outcome {
  enum class Kind { exited, signaled, timed_out, lost, spawn_failed };
  Kind kind = Kind::exited;
  int exit_code = 0;  // what the wrapper should exit with
};

// Blocks the signals the supervisor waits for (via signalfd). Call at the start of main, before
// any thread exists, so that every thread inherits the mask.
void block_supervised_signals();

// The environment variable through which `heartlock heartbeat` reaches the wrapper.
inline constexpr const char* kHeartbeatSocketEnv = "HEARTLOCK_HEARTBEAT_SOCKET";
// The environment variable that carries the wrapper's heartbeat secret (128 random bits, hex) to
// COMMAND. A heartbeat is a datagram holding exactly this secret, from a sender with the wrapper's
// uid (or root); the wrapper ignores anything else.
inline constexpr const char* kHeartbeatSecretEnv = "HEARTLOCK_HEARTBEAT_SECRET";

// Runs and supervises COMMAND. `lost_fd` is an eventfd the lease's on_lost callback writes to.
Outcome supervise(Lease& lease, int lost_fd, const SuperviseOptions& options, Events& events);

}  // namespace heartlock::cli

#endif  // HEARTLOCK_CLI_SUPERVISOR_H_
