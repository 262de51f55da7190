#include "cron_metrics.h"

#include <algorithm>

#include "heartlock/version.h"

#include "prometheus_text.h"

namespace heartlock::cli {
namespace {

constexpr std::string_view kPrefix = "heartlock_cron_";

double seconds(std::chrono::milliseconds d) { return std::chrono::duration<double>(d).count(); }

std::string format_value(double value) { return format_sample_value(value); }

void family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  write_family(out, std::string(kPrefix).append(name), type, help);
}

template <class Value>
void sample(std::string& out, std::string_view name, std::string_view labels, Value value) {
  write_sample(out, std::string(kPrefix).append(name), labels, value);
}

std::string label(std::string_view name, std::string_view value) {
  return prometheus_label(name, value);
}

}  // namespace

CronMetrics::CronMetrics(std::string version, WallClock now)
    : version_(version.empty() ? std::string(kVersion) : std::move(version)),
      now_(now ? std::move(now) : WallClock([] { return std::chrono::system_clock::now(); })) {}

CronMetrics::JobSeries& CronMetrics::job_locked(std::string_view job) {
  auto it = jobs_.find(job);
  if (it == jobs_.end()) {
    it = jobs_.emplace(std::string(job), JobSeries{}).first;
  }
  return it->second;
}

double CronMetrics::now_seconds() const {
  return std::chrono::duration<double>(now_().time_since_epoch()).count();
}

void CronMetrics::run_finished(std::string_view job, std::string_view outcome,
                               std::chrono::milliseconds duration, std::optional<int> exit_code,
                               std::optional<int> signal) {
  const double now = now_seconds();  // outside the lock: the clock is the caller's code
  std::lock_guard lock(mu_);
  JobSeries& s = job_locked(job);
  auto runs = s.runs.find(outcome);
  if (runs == s.runs.end()) {
    runs = s.runs.emplace(std::string(outcome), 0).first;
  }
  ++runs->second;
  s.last_run = LastRun{.duration_seconds = seconds(duration),
                       .finished_seconds = now,
                       .exit_code = exit_code,
                       .signal = signal};
  if (outcome == "done") {
    s.last_success_seconds = now;
  }
}

void CronMetrics::skipped(std::string_view job, std::string_view reason) {
  std::lock_guard lock(mu_);
  JobSeries& s = job_locked(job);
  auto it = s.skipped.find(reason);
  if (it == s.skipped.end()) {
    it = s.skipped.emplace(std::string(reason), 0).first;
  }
  ++it->second;
}

void CronMetrics::store_error(std::string_view job) {
  std::lock_guard lock(mu_);
  ++job_locked(job).store_errors;
}

void CronMetrics::missed(std::string_view job, std::uint64_t slots) {
  std::lock_guard lock(mu_);
  job_locked(job).missed_slots += slots;
}

void CronMetrics::lateness(std::string_view /*job*/, std::chrono::milliseconds late) {
  const double value = std::max(0.0, seconds(late));
  std::lock_guard lock(mu_);
  // Counted in the first bucket that holds it; render() makes the counts cumulative.
  const auto* bound = std::lower_bound(kLatenessBuckets.begin(), kLatenessBuckets.end(), value);
  if (bound != kLatenessBuckets.end()) {
    ++lateness_counts_[static_cast<std::size_t>(bound - kLatenessBuckets.begin())];
  }
  ++lateness_count_;
  lateness_sum_ += value;
}

void CronMetrics::set_jobs(std::vector<std::string> names) {
  std::lock_guard lock(mu_);
  loaded_.clear();
  for (auto& name : names) {
    JobSeries& s = job_locked(name);
    s.runs.try_emplace("done", 0);
    s.runs.try_emplace("failed", 0);
    loaded_.insert(std::move(name));
  }
}

void CronMetrics::set_store_healthy(bool up) {
  std::lock_guard lock(mu_);
  store_up_ = up;
}

void CronMetrics::reload(bool ok) {
  std::lock_guard lock(mu_);
  ++(ok ? reloads_ok_ : reloads_failed_);
  last_reload_ok_ = ok;
}

void CronMetrics::set_running(std::string_view job, int n) {
  std::lock_guard lock(mu_);
  job_locked(job).running = std::max(0, n);
}

void CronMetrics::add_running(std::string_view job, int delta) {
  std::lock_guard lock(mu_);
  auto& j = job_locked(job);
  j.running = std::max(0, j.running + delta);
}

std::string CronMetrics::render() const {
  std::string out;
  std::lock_guard lock(mu_);
  render_process_locked(out);
  render_counters_locked(out);
  render_gauges_locked(out);
  render_lateness_locked(out);
  return out;
}

void CronMetrics::render_process_locked(std::string& out) const {
  family(out, "build_info", "gauge", "heartlock's version; always 1.");
  sample(out, "build_info", label("version", version_), std::uint64_t{1});
  family(out, "jobs", "gauge", "Jobs in the crontab now loaded.");
  sample(out, "jobs", "", std::uint64_t{loaded_.size()});
  family(out, "store_up", "gauge", "1 while the lock store answers, else 0.");
  sample(out, "store_up", "", std::uint64_t{store_up_ ? 1U : 0U});
  family(out, "reloads_total", "counter", "Crontab loads and reloads, by result.");
  sample(out, "reloads_total", label("result", "failed"), reloads_failed_);
  sample(out, "reloads_total", label("result", "ok"), reloads_ok_);
  family(out, "last_reload_successful", "gauge", "1 if the last crontab (re)load succeeded.");
  if (last_reload_ok_) {
    sample(out, "last_reload_successful", "", std::uint64_t{*last_reload_ok_ ? 1U : 0U});
  }
}

void CronMetrics::render_counters_locked(std::string& out) const {
  family(out, "runs_total", "counter", "Runs this host finished, by outcome.");
  for (const auto& [job, s] : jobs_) {
    for (const auto& [outcome, n] : s.runs) {
      sample(out, "runs_total", label("job", job) + "," + label("outcome", outcome), n);
    }
  }
  family(out, "skipped_total", "counter", "Slots this host did not run, by reason.");
  for (const auto& [job, s] : jobs_) {
    for (const auto& [reason, n] : s.skipped) {
      sample(out, "skipped_total", label("job", job) + "," + label("reason", reason), n);
    }
  }
  // A job seen in events only (never loaded) has these series once it has something to count.
  family(out, "store_errors_total", "counter", "Lock store errors met for the job.");
  for (const auto& [job, s] : jobs_) {
    if (s.store_errors > 0 || loaded_.contains(job)) {
      sample(out, "store_errors_total", label("job", job), s.store_errors);
    }
  }
  family(out, "missed_slots_total", "counter", "Slots of the job that no host started.");
  for (const auto& [job, s] : jobs_) {
    if (s.missed_slots > 0 || loaded_.contains(job)) {
      sample(out, "missed_slots_total", label("job", job), s.missed_slots);
    }
  }
}

void CronMetrics::render_gauges_locked(std::string& out) const {
  // Only the loaded jobs: a job removed by a reload leaves no gauge behind.
  auto each_loaded = [&](auto&& fn) {
    for (const auto& [job, s] : jobs_) {
      if (loaded_.contains(job)) {
        fn(label("job", job), s);
      }
    }
  };
  family(out, "running", "gauge", "Runs of the job in progress on this host.");
  each_loaded([&](const std::string& l, const JobSeries& s) {
    sample(out, "running", l, std::uint64_t{static_cast<unsigned>(s.running)});
  });
  family(out, "last_run_duration_seconds", "gauge", "How long the last finished run took.");
  each_loaded([&](const std::string& l, const JobSeries& s) {
    if (s.last_run) {
      sample(out, "last_run_duration_seconds", l, s.last_run->duration_seconds);
    }
  });
  family(out, "last_run_timestamp_seconds", "gauge", "When the last run finished, Unix time.");
  each_loaded([&](const std::string& l, const JobSeries& s) {
    if (s.last_run) {
      sample(out, "last_run_timestamp_seconds", l, s.last_run->finished_seconds);
    }
  });
  family(out, "last_success_timestamp_seconds", "gauge",
         "When a run last finished done, Unix time.");
  each_loaded([&](const std::string& l, const JobSeries& s) {
    if (s.last_success_seconds) {
      sample(out, "last_success_timestamp_seconds", l, *s.last_success_seconds);
    }
  });
  family(out, "last_exit_code", "gauge",
         "Exit status of the last run as a shell reports it: the code, or 128+N for signal N.");
  each_loaded([&](const std::string& l, const JobSeries& s) {
    if (s.last_run && s.last_run->signal) {
      sample(out, "last_exit_code", l, static_cast<double>(128 + *s.last_run->signal));
    } else if (s.last_run && s.last_run->exit_code) {
      sample(out, "last_exit_code", l, static_cast<double>(*s.last_run->exit_code));
    }
  });
  family(out, "last_signal", "gauge", "The signal that ended the last run; 0 if it exited.");
  each_loaded([&](const std::string& l, const JobSeries& s) {
    if (s.last_run && (s.last_run->signal || s.last_run->exit_code)) {
      sample(out, "last_signal", l, static_cast<double>(s.last_run->signal.value_or(0)));
    }
  });
}

void CronMetrics::render_lateness_locked(std::string& out) const {
  family(out, "lateness_seconds", "histogram", "How late runs started after their slot.");
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < kLatenessBuckets.size(); ++i) {
    cumulative += lateness_counts_[i];
    sample(out, "lateness_seconds_bucket", label("le", format_value(kLatenessBuckets[i])),
           cumulative);
  }
  sample(out, "lateness_seconds_bucket", label("le", "+Inf"), lateness_count_);
  sample(out, "lateness_seconds_sum", "", lateness_sum_);
  sample(out, "lateness_seconds_count", "", lateness_count_);
}

}  // namespace heartlock::cli
