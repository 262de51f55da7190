#include "cron_job.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <system_error>
#include <utility>
#include <variant>
#include <vector>

#include "heartlock/duration.h"

#include "exec/fd.h"
#include "exec/supervisor.h"
#include "ledger_text.h"
#include "stop_rule.h"

namespace heartlock::cli {
namespace {

using std::chrono::milliseconds;
using std::chrono::sys_seconds;
using Clock = std::chrono::system_clock;

// Missed slots recorded by one run at most (the latest ones); the log line counts them all.
constexpr std::size_t kMaxMissedRecorded = 100;
// Slots looked at when counting missed ones, at most: an every-second job down for a day.
constexpr std::size_t kMaxMissedScanned = 100000;
// How often a job checks the ledger for other hosts running another definition of it.
constexpr std::chrono::seconds kDefinitionCheckEvery{60};

// The job's lease, as its concurrency policy takes it. Busy: another run of the job holds it.
Result<Acquired> take_lease(const CrontabJob& job, Store& store, const LeaseOptions& options) {
  switch (job.options.concurrency) {
    case Concurrency::forbid:
      return store.try_acquire(job.name, options);
    case Concurrency::replace: {
      auto got = store.try_acquire(job.name, options);
      if (got && got->busy()) {
        // not_owner: it changed hands meanwhile; the second try tells.
        (void)store.break_lease(got->holder());
        got = store.try_acquire(job.name, options);
      }
      return got;
    }
    case Concurrency::allow:
      break;
  }
  Result<Acquired> got = fail(Errc::internal, "no lease tried");
  for (int i = 1; i <= kAllowedRuns; ++i) {
    got = store.try_acquire(job.name + "@run" + std::to_string(i), options);
    if (!got || got->acquired()) {
      break;
    }
  }
  return got;
}

// Checks, at most every kDefinitionCheckEvery, whether the ledger shows runs of another definition
// of the job (another host's crontab differs); warns once per definition seen.
class DefinitionWatch {
 public:
  void check(const CrontabJob& job, CronContext& ctx) {
    {
      std::lock_guard lock(mu_);
      const auto now = std::chrono::steady_clock::now();
      if (checked_ && now - *checked_ < kDefinitionCheckEvery) {
        return;
      }
      checked_ = now;
    }
    auto records = run_history(ctx.store, job.name, 5);
    if (!records) {
      return;  // the run's own outcome tells about a store that does not answer
    }
    for (const RunRecord& r : *records) {
      if (r.definition.empty() || r.definition == job.definition) {
        continue;
      }
      std::lock_guard lock(mu_);
      if (warned_.insert(r.definition).second) {
        ctx.events.emit(LogLevel::warn, "definition_mismatch",
                        "job " + job.name + ": " + r.host + " ran slot " + rfc3339(r.slot) +
                            " with another definition (" + r.definition +
                            ") than this crontab's (" + job.definition +
                            "): the hosts' crontabs differ; each slot still runs once, with "
                            "whichever definition claims it",
                        {{"job", job.name},
                         {"definition", job.definition},
                         {"other_definition", r.definition},
                         {"other_host", r.host}});
      }
    }
  }

 private:
  std::mutex mu_;
  std::optional<std::chrono::steady_clock::time_point> checked_;  // guarded by mu_
  std::set<std::string> warned_;                                  // guarded by mu_
};

// One run of one slot, from the lease to the ledger's last entry.
class CronRun {
 public:
  CronRun(const CrontabJob& job, CronContext& ctx, const ScheduledRun& run)
      : job_(job), ctx_(ctx), run_(run) {}

  RunOutcome operator()();

 private:
  RunOutcome skip_busy(const LockInfo& holder) const;
  bool stopping() const;
  void record_missed(sys_seconds last);
  exec::Outcome attempt(Lease& lease, const LeaseOptions& options, int n);
  RunOutcome outcome_of(const exec::Outcome& out, RunRecord& record) const;
  bool back_off(int attempt, Lease& lease) const;
  void write(const RunRecord& record) const;
  RunRecord base_record() const;

  const CrontabJob& job_;
  CronContext& ctx_;
  const ScheduledRun& run_;
  exec::Fd lost_fd_;
};

RunRecord CronRun::base_record() const {
  return RunRecord{.job = job_.name,
                   .slot = run_.slot,
                   .host = ctx_.host,
                   .pid = ::getpid(),
                   .definition = job_.definition};
}

void CronRun::write(const RunRecord& record) const {
  if (auto ok = record_run(ctx_.store, record); !ok) {
    ctx_.events.emit(LogLevel::warn, "ledger",
                     "job " + job_.name + ": the ledger entry of slot " + rfc3339(run_.slot) +
                         " was not written: " + ok.error().message,
                     {{"job", job_.name}});
  }
}

// Counts a run in the daemon's running total and the job's gauge while it lives.
class RunningGuard {
 public:
  RunningGuard(CronContext& ctx, const std::string& job) : ctx_(ctx), job_(job) {
    if (ctx_.running != nullptr) {
      ++*ctx_.running;
    }
  }
  RunningGuard(const RunningGuard&) = delete;
  RunningGuard& operator=(const RunningGuard&) = delete;
  ~RunningGuard() {
    if (ctx_.running != nullptr) {
      --*ctx_.running;
    }
    if (gauge_ && ctx_.metrics != nullptr) {
      ctx_.metrics->add_running(job_, -1);
    }
  }
  // COMMAND starts: the job's running gauge counts it from here.
  void started() {
    if (!gauge_ && ctx_.metrics != nullptr) {
      ctx_.metrics->add_running(job_, 1);
    }
    gauge_ = true;
  }

 private:
  CronContext& ctx_;
  const std::string& job_;
  bool gauge_ = false;
};

// The order: the slot first (under once_per_slot's claim lease: the latest slot anybody claimed,
// the slots nobody ran before this one recorded as missed, then this slot's record), the job's
// lock after -- so only the host that won the slot ever takes (or, with replace, breaks) the lock.
RunOutcome CronRun::operator()() {
  RunningGuard running(ctx_, job_.name);  // from here: a stopping daemon waits for this run
  if (stopping()) {
    return RunOutcome::skip("the daemon is stopping");
  }
  if (job_.options.once_per_slot) {
    // Under the claim lease nobody else decides this job's slots: if the latest claimed slot is
    // older than this one, this one is ours, and the ones between were run by nobody.
    if (auto last = ctx_.store.last_slot(job_.name); last && *last && **last < run_.slot) {
      record_missed(**last);
    }
  }
  if (run_.on_start) {
    if (auto instead = run_.on_start()) {
      return *std::move(instead);
    }
  }
  lost_fd_ = exec::Fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  LeaseOptions options{.ttl = job_.options.ttl,
                       .stale_after = job_.options.stale_after,
                       .command = job_.command,
                       .slot = run_.slot,
                       .kill_grace = job_.options.kill_grace};
  options.on_lost = [fd = lost_fd_.get()](LostReason, std::string_view) {
    std::uint64_t one = 1;
    (void)!::write(fd, &one, sizeof one);
  };
  RunRecord record = base_record();
  auto got = take_lease(job_, ctx_.store, options);
  if (!got || got->busy()) {
    // The slot is ours and will not run: the ledger says why.
    RunOutcome outcome = !got ? RunOutcome::store("lock " + job_.name + ": " + got.error().message)
                              : skip_busy(got->holder());
    record.state = !got ? RunState::failed : RunState::skipped;
    record.detail = outcome.detail;
    write(record);
    return outcome;
  }
  Lease lease = std::move(*got).lease();
  record.started = Clock::now();
  record.lateness = std::chrono::duration_cast<milliseconds>(*record.started - run_.slot);
  record.token = lease.token();
  record.attempts = 1;
  write(record);
  running.started();
  if (ctx_.metrics != nullptr) {
    ctx_.metrics->lateness(job_.name, record.lateness);
  }
  RunOutcome outcome;
  try {
    for (int n = 1;; ++n) {
      record.attempts = n;
      lease.heartbeat();  // the wait before it was ours, not a stall of COMMAND
      const exec::Outcome out = attempt(lease, options, n);
      outcome = outcome_of(out, record);
      if (outcome.status == RunStatus::done || out.kind == exec::Outcome::Kind::lost ||
          n > job_.options.retries || stopping() || !back_off(n, lease)) {
        break;
      }
    }
  } catch (const std::exception& e) {
    outcome = RunOutcome::failure(std::string("internal error: ") + e.what());
    record.state = RunState::failed;
    record.detail = outcome.detail;
  }
  if (auto released = lease.release();
      !released && released.error().code == Errc::lost && outcome.status == RunStatus::done) {
    outcome = RunOutcome::failure(released.error().message + "; the command may have overlapped");
    record.state = RunState::failed;
    record.detail = outcome.detail;
  }
  record.ended = Clock::now();
  write(record);
  if (ctx_.metrics != nullptr) {
    ctx_.metrics->run_finished(
        job_.name, to_string(record.state),
        std::chrono::duration_cast<milliseconds>(*record.ended - *record.started), record.exit_code,
        record.signal);
  }
  return outcome;
}

RunOutcome CronRun::skip_busy(const LockInfo& holder) const {
  const std::string who = holder.holder ? holder.holder->owner : std::string("another run");
  return RunOutcome::skip("slot " + rfc3339(run_.slot) + " of " + job_.name +
                          ": the previous run still holds lock " + holder.name + " (" + who + ")");
}

bool CronRun::stopping() const {
  return (ctx_.draining != nullptr && ctx_.draining->load()) || ctx_.kill.stop_requested();
}

void CronRun::record_missed(sys_seconds last) {
  std::vector<sys_seconds> gap;
  std::size_t count = 0;
  const auto oldest_kept = std::chrono::floor<std::chrono::seconds>(Clock::now()) -
                           kDefaultSlotRetention + std::chrono::hours(1);
  for (auto s = job_.schedule.next_after(last); s && *s < run_.slot && count < kMaxMissedScanned;
       s = job_.schedule.next_after(*s)) {
    if (*s < oldest_kept) {
      continue;
    }
    ++count;
    gap.push_back(*s);
    if (gap.size() > kMaxMissedRecorded) {
      gap.erase(gap.begin());
    }
  }
  std::uint64_t recorded = 0;
  for (sys_seconds s : gap) {
    auto claim = ctx_.store.claim_slot(job_.name, s);
    if (!claim || !claim->won) {
      continue;  // ran after all (a late host), or the store did not answer: not ours to record
    }
    RunRecord record = base_record();
    record.slot = s;
    record.state = RunState::missed;
    record.detail = "no host claimed it by " + rfc3339(run_.slot);
    write(record);
    ++recorded;
  }
  if (count == 0) {
    return;
  }
  ctx_.events.emit(LogLevel::warn, "missed",
                   "job " + job_.name + ": " + std::to_string(count) + " slot(s) nobody ran, " +
                       rfc3339(gap.front()) + " .. " + rfc3339(gap.back()) + "; " +
                       std::to_string(recorded) + " recorded as missed in the ledger",
                   {{"job", job_.name}, {"slots", count}, {"recorded", recorded}});
  if (ctx_.metrics != nullptr) {
    ctx_.metrics->missed(job_.name, count);
  }
}

exec::Outcome CronRun::attempt(Lease& lease, const LeaseOptions& options, int n) {
  if (ctx_.kill.stop_requested()) {
    // Stopped before COMMAND ran: as if killed by the stop the daemon would have sent.
    return exec::Outcome{.kind = exec::Outcome::Kind::signaled, .signal = SIGTERM};
  }
  OutputRelay relay(ctx_.output, job_.name, run_.slot);
  std::vector<std::string> env;
  std::string shell = "/bin/sh";
  for (const auto& [name, value] : job_.env) {
    if (name == "SHELL" && !value.empty()) {
      shell = value;  // as cron: the crontab's SHELL runs the command
    }
    env.push_back(name + "=" + value);
  }
  env.insert(
      env.end(),
      {"HEARTLOCK_JOB=" + job_.name, "HEARTLOCK_SLOT=" + rfc3339(run_.slot),
       "HEARTLOCK_TOKEN=" + std::to_string(lease.token()), "HEARTLOCK_ATTEMPT=" + std::to_string(n),
       "HEARTLOCK_KEY=" + lease.name(), "HEARTLOCK_OWNER=" + lease.owner(),
       "HEARTLOCK_BACKEND=" + ctx_.store.url(), "HEARTLOCK_LOCATION=" + lease.location()});
  const int out_fd = relay.stdout_fd() >= 0 ? relay.stdout_fd() : STDOUT_FILENO;
  const int err_fd = relay.stderr_fd() >= 0 ? relay.stderr_fd() : STDERR_FILENO;
  Events& events = ctx_.events;
  exec::Supervisor job(
      lease,
      exec::JobSpec{.argv = {shell, "-c", job_.command},
                    .mode = job_.options.heartbeat,
                    .timeout = job_.options.timeout,
                    .kill_grace = options.kill_grace,
                    .stop_margin = stop_margin(options),
                    .stale_after = options.stale_after,
                    .env = std::move(env),
                    .output_fd = out_fd,
                    .error_fd = err_fd,
                    .child_stdout = out_fd,
                    .child_stderr = err_fd,
                    .child_stdin = ctx_.null_stdin},
      [&events, name = job_.name](const exec::JobEvent& e) {
        nlohmann::json fields = {{"job", name}};
        for (const auto& [key, value] : e.fields) {
          std::visit([&, k = key](const auto& v) { fields[std::string(k)] = v; }, value);
        }
        events.emit(e.level, e.name, "job " + name + ": " + e.text, std::move(fields));
      });
  std::stop_callback on_kill(ctx_.kill, [&job] { job.stop(); });
  exec::Outcome out = job.run(lost_fd_.get());
  relay.finish();
  return out;
}

RunOutcome CronRun::outcome_of(const exec::Outcome& out, RunRecord& record) const {
  record.exit_code.reset();
  record.signal.reset();
  std::string why;
  switch (out.kind) {
    case exec::Outcome::Kind::exited:
      record.exit_code = out.code;
      if (out.code != 0) {
        why = "exit status " + std::to_string(out.code);
      }
      break;
    case exec::Outcome::Kind::signaled:
      record.signal = out.signal;
      why = "killed by " + signal_name(out.signal);
      break;
    case exec::Outcome::Kind::timed_out:
      why = "timed out after " + format_duration(*job_.options.timeout);
      break;
    case exec::Outcome::Kind::lost:
      why = "the lease was lost; the command was stopped";
      break;
    case exec::Outcome::Kind::spawn_failed:
      why = "cannot run the shell: " + std::system_category().message(out.error);
      break;
  }
  record.state = why.empty() ? RunState::done : RunState::failed;
  record.detail = why;
  return why.empty() ? RunOutcome::ok() : RunOutcome::failure(why);
}

// Waits before attempt n + 1: 1 s, 2 s, 4 s ... at most 1 min, never past the next slot,
// heartbeating the lease meanwhile (a wait is no stall). False: no retry (the next slot comes
// first, or the run is asked to stop or the daemon stops).
bool CronRun::back_off(int attempt, Lease& lease) const {
  const milliseconds wait = std::min<milliseconds>(
      std::chrono::seconds(1) * (1LL << std::min(attempt - 1, 6)), std::chrono::minutes(1));
  if (run_.clock == nullptr) {
    return false;
  }
  const auto until = run_.clock->now() + wait;
  if (auto next = job_.schedule.next_after(run_.slot); next && until >= *next) {
    return false;
  }
  const milliseconds slice = job_.options.stale_after.count() > 0
                                 ? std::max(milliseconds(10), job_.options.stale_after / 4)
                                 : wait;
  while (run_.clock->now() < until) {
    lease.heartbeat();
    if (!run_.clock->sleep_until(std::min(until, run_.clock->now() + slice), run_.stop) ||
        stopping() || lease.lost()) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string rfc3339(sys_seconds t) {
  return utc_text(std::chrono::sys_time<std::chrono::milliseconds>(t));
}

JobOptions cron_job_options(std::shared_ptr<const CrontabJob> shared, CronContext& ctx) {
  auto watch = std::make_shared<DefinitionWatch>();
  const CrontabJob& job = *shared;
  JobFn fn = [shared, &ctx](const ScheduledRun& run) { return CronRun(*shared, ctx, run)(); };
  if (job.options.once_per_slot) {
    fn = wrap::once_per_slot(ctx.store)(std::move(fn));
  }
  if (job.options.jitter.count() > 0) {
    fn = wrap::jitter(job.options.jitter)(std::move(fn));
  }
  fn = wrap::recover(ctx.events.sink())(std::move(fn));
  // Outermost: a stopping daemon starts nothing (and claims nothing: another host may run it);
  // and every outcome may show another host's definition of the job.
  fn = [fn = std::move(fn), shared, &ctx, watch](const ScheduledRun& run) {
    if (ctx.draining != nullptr && ctx.draining->load()) {
      return RunOutcome::skip("the daemon is stopping");  // before jitter and the claim's wait
    }
    RunOutcome outcome = fn(run);
    if (shared->options.once_per_slot && outcome.status != RunStatus::store_error) {
      watch->check(*shared, ctx);
    }
    return outcome;
  };
  return JobOptions{.name = job.name,
                    .schedule = job.schedule,
                    .run = std::move(fn),
                    .missed = {.policy = job.options.missed,
                               .grace = job.options.grace,
                               .max_runs = job.options.max_runs,
                               .store = job.options.once_per_slot ? &ctx.store : nullptr}};
}

}  // namespace heartlock::cli
