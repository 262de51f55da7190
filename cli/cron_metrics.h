// The metrics of `heartlock cron`: counters and gauges the daemon updates as it runs jobs, rendered
// in Prometheus's text exposition format 0.0.4 for `--metrics-listen` (cli/metrics_server.h).
//
// Families (prefix heartlock_cron_; `job` is the crontab job's name):
//   build_info{version}                       gauge, always 1
//   jobs                                      gauge: jobs in the crontab now loaded
//   store_up                                  gauge: 1 while the lock store answers
//   reloads_total{result="ok"|"failed"}       counter: crontab (re)loads
//   last_reload_successful                    gauge: 1 if the last (re)load succeeded
//   runs_total{job,outcome="done"|"failed"}   counter: runs this host finished
//   skipped_total{job,reason}                 counter: slots this host did not run, by why
//   store_errors_total{job}                   counter: lock store errors for the job
//   missed_slots_total{job}                   counter: slots nobody fired (daemon down, late)
//   running{job}                              gauge: runs of the job in progress here
//   last_run_duration_seconds{job}            gauge: how long the last finished run took
//   last_run_timestamp_seconds{job}           gauge: when it finished (Unix time)
//   last_success_timestamp_seconds{job}       gauge: when a run last finished "done"
//   last_exit_code{job}                       gauge: its exit status as a shell reports it (the
//                                             code, or 128+N for signal N)
//   last_signal{job}                          gauge: the signal that ended it; 0 if it exited
//   lateness_seconds                          histogram: how late runs started after their slot
//
// Per-job series: the gauges exist for the jobs of the last set_jobs() only, so a job removed by a
// reload vanishes from them; its counters stay (a counter that disappears and comes back reads as
// a reset). For every loaded job the counters with fixed label sets (runs_total for both outcomes,
// store_errors_total, missed_slots_total) start at 0, so rate() and increase() see the first event.
// The last_* gauges of a job appear once one of its runs finished here; last_exit_code and
// last_signal only when that run ended with a status (not when it could not be started).
//
// lateness_seconds has no job label: it measures this host's daemon (wake-ups, load), not a job,
// and 13 series per job would make a large crontab's exposition mostly buckets.
//
// Thread-safety: every method may be called concurrently (one mutex).
#ifndef HEARTLOCK_CLI_CRON_METRICS_H_
#define HEARTLOCK_CLI_CRON_METRICS_H_

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace heartlock::cli {

class CronMetrics {
 public:
  // Wall time for the *_timestamp_seconds gauges; tests pass a fixed one.
  using WallClock = std::function<std::chrono::system_clock::time_point()>;

  // The upper bounds of lateness_seconds' buckets (+Inf follows): from a timer's jitter (10 ms)
  // to a daemon that was stopped or starved for a minute.
  static constexpr std::array<double, 12> kLatenessBuckets = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                              1,    2.5,   5,    10,  30,   60};

  // `version` is build_info's label (default: the library's kVersion).
  explicit CronMetrics(std::string version = {}, WallClock now = {});

  // A run of `job` ended: outcome is "done" or "failed" (any other word is counted as given);
  // exit_code if it exited, signal if a signal ended it, neither if it never started.
  void run_finished(std::string_view job, std::string_view outcome,
                    std::chrono::milliseconds duration, std::optional<int> exit_code,
                    std::optional<int> signal);
  // A slot of `job` this host did not run, and why ("other_host", "running", "store", ...).
  void skipped(std::string_view job, std::string_view reason);
  void store_error(std::string_view job);
  void missed(std::string_view job, std::uint64_t slots);
  // How late a run started after its slot; negative counts as 0. `job` is not a label of the
  // histogram (see above); it is taken so the daemon need not change if that changes.
  void lateness(std::string_view job, std::chrono::milliseconds late);

  // The jobs of the crontab now loaded (after a successful load or reload).
  void set_jobs(std::vector<std::string> names);
  void set_store_healthy(bool up);
  void reload(bool ok);
  void set_running(std::string_view job, int n);
  // Adds `delta` (+1 a run started, -1 it ended) to the job's running gauge.
  void add_running(std::string_view job, int delta);

  // The exposition, text format 0.0.4: every family with HELP and TYPE, series sorted by label.
  std::string render() const;

 private:
  // What a job's last finished run left behind.
  struct LastRun {
    double duration_seconds = 0;
    double finished_seconds = 0;  // Unix time
    std::optional<int> exit_code;
    std::optional<int> signal;
  };
  struct JobSeries {
    std::map<std::string, std::uint64_t, std::less<>> runs;     // by outcome
    std::map<std::string, std::uint64_t, std::less<>> skipped;  // by reason
    std::uint64_t store_errors = 0;
    std::uint64_t missed_slots = 0;
    int running = 0;
    std::optional<LastRun> last_run;
    std::optional<double> last_success_seconds;
  };

  JobSeries& job_locked(std::string_view job);
  double now_seconds() const;
  void render_process_locked(std::string& out) const;
  void render_counters_locked(std::string& out) const;
  void render_gauges_locked(std::string& out) const;
  void render_lateness_locked(std::string& out) const;

  const std::string version_;
  const WallClock now_;
  mutable std::mutex mu_;
  std::map<std::string, JobSeries, std::less<>> jobs_;  // guarded by mu_; every job ever seen
  std::set<std::string, std::less<>> loaded_;           // guarded by mu_; the last set_jobs()
  bool store_up_ = false;                               // guarded by mu_
  std::uint64_t reloads_ok_ = 0;                        // guarded by mu_
  std::uint64_t reloads_failed_ = 0;                    // guarded by mu_
  std::optional<bool> last_reload_ok_;                  // guarded by mu_
  std::array<std::uint64_t, kLatenessBuckets.size()> lateness_counts_{};  // guarded by mu_
  std::uint64_t lateness_count_ = 0;                                      // guarded by mu_
  double lateness_sum_ = 0;                                               // guarded by mu_
};

}  // namespace heartlock::cli

#endif  // HEARTLOCK_CLI_CRON_METRICS_H_
