// Helpers for heartlock's tests: temporary directories, forked children, bounded waiting,
// running the built CLI, and matchers for Result values.
#ifndef HEARTLOCK_TESTS_SUPPORT_TEST_SUPPORT_H_
#define HEARTLOCK_TESTS_SUPPORT_TEST_SUPPORT_H_

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>

#include "heartlock/heartlock.h"

namespace heartlock {
inline void PrintTo(Errc code, std::ostream* os) { *os << to_string(code); }
template <class T>
void PrintTo(const Result<T>& r, std::ostream* os) {
  if (r) {
    *os << "(ok)";
  } else {
    *os << "(error " << to_string(r.error().code) << ": " << r.error().message << ")";
  }
}
}  // namespace heartlock

namespace heartlock::testing {

// A free 127.0.0.1 port outside the kernel's ephemeral range, claimed for the life of this
// process so that no parallel test process or outgoing connection takes it (test_support.cc).
int free_port();

// A socket connected to 127.0.0.1:port, or -1.
int connect_loopback(int port);

// Whether something accepts TCP connections on 127.0.0.1:port.
bool accepts_connections(int port);

// The last `max` bytes of a file (a server's log, for the message of a test that could not start
// it: the log's directory is removed with the server).
std::string file_tail(const std::string& path, std::size_t max = 1500);

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A forked child process running a function; killed (SIGKILL) and reaped on destruction.
class Child {
 public:
  // Runs `body` in a forked child and _exits with its result (1 if it throws).
  static Child fork(std::function<int()> body);
  Child(Child&& o) noexcept;
  Child& operator=(Child&&) = delete;
  ~Child();

  pid_t pid() const { return pid_; }
  // Waits up to `timeout`; the raw wait status, or nullopt if still running.
  std::optional<int> wait_for(std::chrono::milliseconds timeout);
  // The exit code (128+N for signal N); fails the test if it does not end within `timeout`.
  int exit_code(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  void signal(int sig) const;

 private:
  explicit Child(pid_t pid) : pid_(pid) {}
  pid_t pid_ = -1;
  bool reaped_ = false;
};

// A one-shot pipe signal between processes: notify() in one, wait() in another.
class Signal {
 public:
  Signal();
  ~Signal();
  void notify(char c = '!');
  // Waits for one byte; returns it, or 0 on timeout or EOF.
  char wait(std::chrono::milliseconds timeout = std::chrono::seconds(30));

 private:
  int fds_[2] = {-1, -1};
};

// Polls `done` every millisecond until it holds or `within` passes; returns its last value.
// For waiting on another process, never for asserting a duration.
bool eventually(const std::function<bool()>& done,
                std::chrono::milliseconds within = std::chrono::seconds(20));

// `heartlock -b URL run --ttl TTL -- sh -c 'echo $$ > FILE; exec sleep 60'` in a
// process group of its own, for tests that take the backend away under a running command.
struct SupervisedSleep {
  Child wrapper;
  pid_t command = 0;  // COMMAND's pid once it wrote it; 0 if it never did (the test then fails)
};
SupervisedSleep start_supervised_sleep(const std::string& url, const std::string& ttl,
                                       const TempDir& dir);

// Opens a store, failing the test (and returning nullptr) if it cannot be opened.
std::unique_ptr<Store> open_store(const std::string& url);

// Tries to acquire `name` until it succeeds (a takeover, a release) or `within` passes.
std::optional<Lease> acquire_eventually(
    Store& store, std::string_view name, const LeaseOptions& options = {},
    std::chrono::milliseconds within = std::chrono::seconds(20));

// The path of the built heartlock executable.
std::string heartlock_binary();

struct CommandResult {
  int exit_code = -1;  // 128+N for signal N; -1 if it had to be killed at the deadline
  std::string out;
  std::string err;
};

// Runs argv (argv[0] searched in PATH) with extra environment, capturing stdout and stderr.
CommandResult run_command(const std::vector<std::string>& argv,
                          const std::map<std::string, std::string>& env = {},
                          std::chrono::milliseconds timeout = std::chrono::seconds(60));

// Whether process `pid` exists and is not a zombie.
bool process_alive(pid_t pid);

// SIGSTOPs `pid` and waits (up to 5 s) until every one of its threads is stopped: kill() only
// queues the stop, and until the thread it woke runs, the others go on serving (a loaded 2-core
// run saw a "stopped" etcd answer a request).
void stop_process(pid_t pid);

// stop_process() for each pid; SIGCONT to each again when it goes out of scope, whatever happened.
class ScopedStop {
 public:
  explicit ScopedStop(std::vector<pid_t> pids);
  ~ScopedStop();
  ScopedStop(const ScopedStop&) = delete;
  ScopedStop& operator=(const ScopedStop&) = delete;
  void resume();  // SIGCONT now

 private:
  std::vector<pid_t> pids_;
};

MATCHER(IsOk, "") {
  if (arg) {
    return true;
  }
  *result_listener << "error " << to_string(arg.error().code) << ": " << arg.error().message;
  return false;
}

MATCHER_P(HasErrc, code, "") {
  if (arg) {
    *result_listener << "succeeded";
    return false;
  }
  *result_listener << "error " << to_string(arg.error().code) << ": " << arg.error().message;
  return arg.error().code == code;
}

// For Result<Acquired>.
MATCHER(IsAcquired, "") {
  if (!arg) {
    *result_listener << "error " << to_string(arg.error().code) << ": " << arg.error().message;
    return false;
  }
  if (arg->busy()) {
    *result_listener << "busy: " << arg->holder().detail;
    return false;
  }
  return true;
}

MATCHER(IsBusy, "") {
  if (!arg) {
    *result_listener << "error " << to_string(arg.error().code) << ": " << arg.error().message;
    return false;
  }
  if (arg->acquired()) {
    *result_listener << "acquired";
    return false;
  }
  return true;
}

}  // namespace heartlock::testing

#endif  // HEARTLOCK_TESTS_SUPPORT_TEST_SUPPORT_H_
