#include "cron_daemon.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <map>
#include <memory>
#include <mutex>
#include <stop_token>
#include <utility>
#include <vector>

#include "heartlock/duration.h"
#include "heartlock/heartlock.h"

#include "cron_job.h"
#include "cron_metrics.h"
#include "cron_output.h"
#include "crontab_file.h"
#include "exit_codes.h"
#include "metrics_server.h"
#include "signals.h"

namespace heartlock::cli {
namespace {

// The metrics' reason for a skipped run, from its detail (job_wrappers.h, cron_job.cc).
std::string_view skip_reason(const std::string& detail) {
  auto has = [&](std::string_view part) { return detail.find(part) != std::string::npos; };
  if (has(" ran on ") || has(" is not run") || has("the claim of slot")) {
    return "other_host";
  }
  if (has("still holds lock") || has("still ran")) {
    return "running";
  }
  if (has("stopping") || has("stopped") || has("removed")) {
    return "stopping";
  }
  return "other";
}

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) {
    return "unknown";
  }
  return buf;
}

// The daemon: the jobs of the file last loaded, the scheduler running them, and the signals.
// Members are destroyed in reverse: the scheduler (which waits for its runs) before what the
// runs use.
class CronDaemon {
 public:
  CronDaemon(const CronDaemonOptions& options, Store& store, Events& events)
      : options_(options),
        events_(events),
        output_(options.json_output, STDOUT_FILENO, STDERR_FILENO),
        null_stdin_(::open("/dev/null", O_RDONLY | O_CLOEXEC)),
        ctx_{.store = store,
             .output = output_,
             .events = events,
             .null_stdin = null_stdin_.get(),
             .kill = kill_.get_token(),
             .draining = &draining_,
             .running = &running_,
             .host = host_name()},
        scheduler_(SchedulerOptions{
            .workers = options.workers,
            .log = events.sink(),
            .on_outcome = [this](const ScheduledRun& run, const RunOutcome& outcome) {
              count(run, outcome);
            }}) {
    ctx_.metrics = &metrics_;
  }

  CronMetrics& metrics() { return metrics_; }

  // Also when run() did not return normally: stops what runs, or ~Scheduler would wait for it.
  ~CronDaemon() {
    draining_ = true;
    kill_.request_stop();
    scheduler_.stop();
  }
  CronDaemon(const CronDaemon&) = delete;
  CronDaemon& operator=(const CronDaemon&) = delete;

  // Applies the first crontab and runs until a stop signal; returns the exit code.
  int run(Crontab crontab);

 private:
  void apply(Crontab crontab);
  void reload();
  void shut_down();
  void count(const ScheduledRun& run, const RunOutcome& outcome);

  const CronDaemonOptions& options_;
  Events& events_;
  const OutputSink output_;
  exec::Fd null_stdin_;
  std::stop_source kill_;
  std::atomic<bool> draining_{false};
  std::atomic<int> running_{0};
  CronMetrics metrics_;
  CronContext ctx_;
  std::map<std::string, std::shared_ptr<const CrontabJob>> jobs_;  // by name; main thread only

  std::mutex mu_;
  std::condition_variable cv_;
  bool reload_ = false;  // guarded by mu_: SIGHUP came
  int stops_ = 0;        // guarded by mu_: SIGTERM/SIGINT/SIGQUIT came

  Scheduler scheduler_;  // last: stopped and destroyed first
};

int CronDaemon::run(Crontab crontab) {
  apply(std::move(crontab));
  SignalForwarder signals([this](int sig) {
    std::lock_guard lock(mu_);
    if (sig == SIGHUP) {
      reload_ = true;
    } else {
      ++stops_;
    }
    cv_.notify_all();
  });
  for (;;) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return reload_ || stops_ > 0; });
    if (stops_ > 0) {
      break;
    }
    reload_ = false;
    lock.unlock();
    reload();
  }
  shut_down();
  return kExitOk;
}

void CronDaemon::apply(Crontab crontab) {
  std::map<std::string, std::shared_ptr<const CrontabJob>> next;
  for (CrontabJob& job : crontab.jobs) {
    auto name = job.name;
    next.emplace(std::move(name), std::make_shared<const CrontabJob>(std::move(job)));
  }
  int added = 0, changed = 0, removed = 0, kept = 0;
  for (const auto& [name, old] : jobs_) {
    auto it = next.find(name);
    if (it == next.end() || it->second->definition != old->definition) {
      scheduler_.remove(name);
      ++(it == next.end() ? removed : changed);
    }
  }
  for (auto& [name, job] : next) {
    auto old = jobs_.find(name);
    if (old != jobs_.end() && old->second->definition == job->definition) {
      job = old->second;
      ++kept;
      continue;
    }
    if (old == jobs_.end()) {
      ++added;
    }
    JobOptions options = cron_job_options(job, ctx_);
    auto ok = scheduler_.add(options);
    if (!ok && options.missed.store != nullptr) {
      // The store did not say which slots were missed: start without catching up.
      events_.emit(LogLevel::warn, "catch_up",
                   "job " + name + ": cannot learn its missed slots: " + ok.error().message +
                       "; it starts without catching up",
                   {{"job", name}});
      options.missed.store = nullptr;
      ok = scheduler_.add(std::move(options));
    }
    if (!ok) {
      events_.emit(LogLevel::error, "job", "job " + name + ": not scheduled: " + ok.error().message,
                   {{"job", name}});
    }
  }
  jobs_ = std::move(next);
  std::vector<std::string> names;
  for (const auto& [name, job] : jobs_) {
    names.push_back(name);
  }
  metrics_.set_jobs(std::move(names));
  metrics_.reload(true);
  events_.emit(LogLevel::info, "loaded",
               options_.file + ": " + std::to_string(jobs_.size()) + " job(s): " +
                   std::to_string(added) + " added, " + std::to_string(changed) + " changed, " +
                   std::to_string(removed) + " removed, " + std::to_string(kept) + " unchanged",
               {{"file", options_.file},
                {"jobs", jobs_.size()},
                {"added", added},
                {"changed", changed},
                {"removed", removed},
                {"unchanged", kept}});
}

// Runs that ended are counted by cron_job.cc; here what did not run, and the store's health.
void CronDaemon::count(const ScheduledRun& run, const RunOutcome& outcome) {
  switch (outcome.status) {
    case RunStatus::done:
    case RunStatus::failed:
      metrics_.set_store_healthy(true);
      break;
    case RunStatus::skipped: {
      const std::string_view reason = skip_reason(outcome.detail);
      metrics_.skipped(run.job, reason);
      if (reason == "other_host" || reason == "running") {
        metrics_.set_store_healthy(true);  // it answered who has the slot or the lock
      }
      break;
    }
    case RunStatus::store_error:
      metrics_.store_error(run.job);
      metrics_.set_store_healthy(false);
      break;
  }
}

void CronDaemon::reload() {
  auto crontab = load_crontab(options_.file);
  if (!crontab) {
    for (const auto& e : crontab.error().errors) {
      events_.emit(LogLevel::error, "reload", e);
    }
    events_.emit(
        LogLevel::error, "reload",
        "reload failed: keeping the " + std::to_string(jobs_.size()) + " job(s) loaded before",
        {{"file", options_.file}});
    metrics_.reload(false);
    return;
  }
  apply(*std::move(crontab));
}

void CronDaemon::shut_down() {
  draining_ = true;
  const auto until = std::chrono::steady_clock::now() + options_.shutdown_grace;
  events_.emit(LogLevel::info, "stopping",
               "stopping: no new runs; " + std::to_string(running_.load()) +
                   " running job(s) get up to " + format_duration(options_.shutdown_grace) +
                   " to end",
               {{"running", running_.load()}});
  {
    // Until the runs ended, the grace passed, or another stop signal came.
    std::unique_lock lock(mu_);
    while (running_.load() > 0 && stops_ < 2 && std::chrono::steady_clock::now() < until) {
      cv_.wait_for(lock, std::chrono::milliseconds(50));
    }
  }
  if (running_.load() > 0) {
    events_.emit(LogLevel::warn, "stopping",
                 "stopping the " + std::to_string(running_.load()) + " job(s) still running",
                 {{"running", running_.load()}});
  }
  kill_.request_stop();
  scheduler_.stop();
  events_.emit(LogLevel::info, "stopped", "stopped");
}

}  // namespace

int run_cron_daemon(const CronDaemonOptions& options, const CommonArgs& common) {
  // A reader of our stdout or stderr that goes away (a pipe to a log shipper that restarts) must
  // not kill the daemon and every job: EPIPE instead. Blocked, not ignored: a job's shell starts
  // with an empty mask (exec::spawn) and default dispositions, so `yes | head` still works.
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  ::pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
  Events events = make_events(common);
  auto crontab = load_crontab(options.file);
  if (!crontab) {
    for (const auto& e : crontab.error().errors) {
      events.error(e);
    }
    return crontab.error().exit_code;
  }
  int code = kExitOk;
  auto store = open_store(common, events, code);
  if (!store) {
    return code;
  }
  CronDaemon daemon(options, *store, events);
  std::unique_ptr<MetricsServer> metrics;
  if (!options.metrics_listen.empty()) {
    auto started = MetricsServer::start(options.metrics_listen,
                                        [&daemon] { return daemon.metrics().render(); });
    if (!started) {
      events.error("--metrics-listen " + options.metrics_listen + ": " + started.error().message);
      return started.error().code == Errc::unavailable ? kExitUnavailable
                                                       : exit_code_for(started.error());
    }
    metrics = *std::move(started);
    events.emit(LogLevel::info, "metrics",
                "metrics at http://" + options.metrics_listen + "/metrics (port " +
                    std::to_string(metrics->port()) + ")",
                {{"port", metrics->port()}});
  }
  code = daemon.run(*std::move(crontab));
  if (metrics) {
    metrics->stop();
  }
  return code;
}

}  // namespace heartlock::cli
