// JobSpec: what one supervised job runs and how it is supervised (exec/supervisor.h), as typed
// values; and JobEvent, what a supervisor reports while it runs.
#ifndef HEARTLOCK_EXEC_JOB_SPEC_H_
#define HEARTLOCK_EXEC_JOB_SPEC_H_

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "heartlock/options.h"

namespace heartlock::exec {

// What counts as the job's heartbeat (the lease's stale_after is measured against it).
enum class HeartbeatMode {
  alive,      // the supervisor heartbeats while COMMAND lives
  explicit_,  // only `heartlock heartbeat` calls from inside COMMAND count
  output,     // each line COMMAND prints counts
};

struct JobSpec {
  std::vector<std::string> argv;  // argv[0] is searched in PATH
  HeartbeatMode mode = HeartbeatMode::alive;
  // Stop COMMAND's group (TERM, KILL after kill_grace) this long after it started; none if unset.
  std::optional<std::chrono::milliseconds> timeout;
  std::chrono::milliseconds kill_grace{5000};
  // SIGKILL lands this long before the lease's deadline; SIGTERM kill_grace earlier (the CLI's
  // stop rule, cli/stop_rule.h, computes both from the lease options).
  std::chrono::milliseconds stop_margin{50};
  std::chrono::milliseconds stale_after{0};  // the lease's, for messages and the alive cadence
  // Added to COMMAND's environment, "NAME=value". COMMAND gets this process's environment without
  // the backend passwords the library reads (HEARTLOCK_REDIS_PASSWORD, HEARTLOCK_ETCD_PASSWORD)
  // and without an outer job's heartbeat socket and secret.
  std::vector<std::string> env;
  // Output mode: where COMMAND's stdout and stderr are copied to, line by line.
  int output_fd = STDOUT_FILENO;
  int error_fd = STDERR_FILENO;
  // Other modes: COMMAND's stdout and stderr, if >= 0 (else it inherits this process's).
  int child_stdout = -1;
  int child_stderr = -1;
  // COMMAND's stdin, if >= 0 (else it inherits this process's).
  int child_stdin = -1;
  // Give COMMAND's group the terminal on stdin while it runs, if this process's group has it in
  // the foreground; the caller must keep SIGTTOU blocked or ignored (taking it back is done from
  // behind). At most one job of a process may ask for it.
  bool foreground = false;
  // A signalfd of the caller's (which keeps its signals blocked and owns the fd), or -1: run()
  // polls it with everything else and passes each signal read from it on as forward_signal()
  // does. For a process that supervises one job, this spares a thread that only forwards. One
  // supervisor per fd (they would take each other's signals).
  int signal_fd = -1;
};

// One thing a supervisor reports: `name` is a stable event name ("lost", "timeout", "kill",
// "signal", "watchdog", "heartbeat_rejected"), `text` the human line, `fields` details for
// machines.
struct JobEvent {
  using Value = std::variant<std::int64_t, std::string>;
  LogLevel level = LogLevel::info;
  std::string_view name;
  std::string text;
  std::vector<std::pair<std::string_view, Value>> fields;
};

// Receives a job's events, on the thread running the job.
using JobEventSink = std::function<void(const JobEvent&)>;

}  // namespace heartlock::exec

#endif  // HEARTLOCK_EXEC_JOB_SPEC_H_
