// `heartlock cron` daemons for tests: the real executable, started and stopped as processes, on
// one crontab with one job that appends its $HEARTLOCK_SLOT to a log; and readers of that log and
// of the job's run ledger.
#ifndef HEARTLOCK_TESTS_SUPPORT_CRON_DAEMONS_H_
#define HEARTLOCK_TESTS_SUPPORT_CRON_DAEMONS_H_

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "heartlock/ledger.h"
#include "heartlock/store.h"

#include "backends.h"
#include "test_support.h"

namespace heartlock::testing {

class CronDaemons {
 public:
  // A crontab with one job on `schedule` (a unique name, the `# heartlock:` words `directive`)
  // running `command` ("{log}" in it replaced by the log's path), by default one that appends
  // "$HEARTLOCK_SLOT $PPID" (the slot, the daemon that ran it) to the log.
  CronDaemons(const Backend& backend, const std::string& schedule, const std::string& directive,
              const std::string& command = "");
  ~CronDaemons();  // SIGKILLs what still runs

  // Starts daemon `i` (again), with `extra` options before FILE; its stdout and stderr go to
  // files output() shows.
  void start(int i, const std::vector<std::string>& extra = {});
  // SIGKILL, and waits for it.
  void kill(int i);
  // SIGTERM; expects exit code 0 within 30 s.
  void stop(int i);
  // Sends `sig` to daemon `i`.
  void signal(int i, int sig);
  // Daemon `i`'s pid (the parent of its jobs' shells).
  pid_t pid(int i) const;

  // Until the log has at least `n` lines (false after `within`).
  bool wait_for_runs(std::size_t n, std::chrono::milliseconds within = std::chrono::seconds(40));
  // The slots in the log, in order written.
  // The log's lines as (slot, pid of the daemon that ran it).
  std::vector<std::pair<std::chrono::sys_seconds, pid_t>> log_runs() const;
  std::vector<std::chrono::sys_seconds> log_slots() const;
  std::string log_text() const;
  // The job's ledger: state by slot.
  std::map<std::chrono::sys_seconds, RunState> ledger() const;
  std::optional<RunState> ledger_state(std::chrono::sys_seconds slot) const;
  // Every daemon's output, for a failure message.
  std::string output() const;
  // Daemon `i`'s stdout and stderr.
  std::string output(int i) const;

  Store* store() const { return store_.get(); }
  const std::string& job() const { return job_; }
  const std::string& url() const { return url_; }
  std::string crontab() const { return dir_.file("crontab"); }
  std::string file(const std::string& name) const { return dir_.file(name); }

 private:
  TempDir dir_;
  std::string url_;
  std::string job_;
  std::unique_ptr<Store> store_;
  std::map<int, Child> daemons_;
};

// Parses "2026-11-29T18:00:00Z"; epoch 0 if it is not that.
std::chrono::sys_seconds parse_slot(const std::string& text);

}  // namespace heartlock::testing

#endif  // HEARTLOCK_TESTS_SUPPORT_CRON_DAEMONS_H_
