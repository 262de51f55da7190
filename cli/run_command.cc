#include "run_command.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <stop_token>

#include "heartlock/duration.h"
#include "heartlock/job_key.h"

#include "exec/supervisor.h"
#include "exit_codes.h"
#include "signals.h"
#include "stop_rule.h"

namespace heartlock::cli {

CLI::App* add_run_command(CLI::App& app, RunArgs& a) {
  auto* run = app.add_subcommand(
      "run", "Acquire a lock, run COMMAND in its own process group while renewing, release.");
  // Everything from COMMAND on belongs to COMMAND, options included: `run sleep -n 1`.
  run->positionals_at_end();
  run->add_option("command", a.command, "COMMAND [ARGS...]; put -- before it when in doubt");
  run->add_option("-c,--command", a.shell_command,
                  "Run LINE through /bin/sh -c, as flock -c does (instead of COMMAND [ARGS...])")
      ->type_name("LINE");
  run->add_option("-k,--key", a.key, "Lock name (default: derived from the command line)");
  run->add_flag("-n,--nonblock", a.nonblock, "Give up at once if the lock is held (default)");
  run->add_option("-w,--wait", a.wait,
                  "Wait up to DURATION for the lock ('forever': no limit, as flock(1) without -w)")
      ->type_name("DURATION");
  run->add_option("--ttl", a.ttl, "A lease not renewed for this long is dead (default 30s)")
      ->type_name("DURATION");
  run->add_option("--stale-after", a.stale_after,
                  "Treat the holder as deadlocked after DURATION without a heartbeat")
      ->type_name("DURATION");
  run->add_option("--min-hold", a.min_hold, "Keep the lock at least DURATION after acquiring")
      ->type_name("DURATION");
  run->add_option("--max-hold", a.max_hold, "End the lease after DURATION whatever happens")
      ->type_name("DURATION");
  run->add_option("--timeout", a.timeout,
                  "Stop COMMAND's process group after DURATION (TERM, then KILL) and exit 124")
      ->type_name("DURATION");
  run->add_option("--kill-grace", a.kill_grace,
                  "Time between TERM and KILL (default 5s, or less when the lease needs it: "
                  "COMMAND must be gone before another holder can have the lock)")
      ->type_name("DURATION");
  run->add_flag("--kill-stale", a.kill_stale,
                "Kill a deadlocked holder's process (TERM, then KILL) before taking over");
  run->add_option("-E,--conflict-exit-code", a.conflict_exit_code,
                  "Exit code when the lock is held (default 75)")
      ->check(CLI::Range(0, 255));
  run->add_option("--heartbeat", a.heartbeat,
                  "alive: while COMMAND lives; explicit: `heartlock heartbeat` calls; output: "
                  "each line COMMAND prints")
      ->check(CLI::IsMember({"alive", "explicit", "output"}));
  return run;
}

namespace {

std::string_view heartbeat_name(exec::HeartbeatMode mode) {
  switch (mode) {
    case exec::HeartbeatMode::alive:
      return "alive";
    case exec::HeartbeatMode::explicit_:
      return "explicit";
    case exec::HeartbeatMode::output:
      return "output";
  }
  return "alive";
}

// The lease's options for `command`, checked; nullopt (the error told) for a usage error.
std::optional<LeaseOptions> lease_options_for(const RunSettings& s,
                                              const std::vector<std::string>& command,
                                              Events& events) {
  LeaseOptions lease_options = s.lease;
  if (s.heartbeat != exec::HeartbeatMode::alive && lease_options.stale_after.count() == 0) {
    events.error("--heartbeat " + std::string(heartbeat_name(s.heartbeat)) +
                 " needs --stale-after: without it a missing heartbeat would never count");
    return std::nullopt;
  }
  lease_options.command = shell_quote(command);
  if (s.kill_grace) {
    lease_options.kill_grace = *s.kill_grace;
  }
  if (auto ok = validate(lease_options); !ok) {
    events.error(ok.error().message);
    return std::nullopt;
  }
  // The stop rule: COMMAND's group must be gone (TERM, KILL after the grace) before the lease can
  // expire, so the grace must fit into what the lease leaves once a renewal is late.
  if (!s.kill_grace) {
    lease_options.kill_grace = std::min(kDefaultKillGrace, max_kill_grace(lease_options));
  } else if (lease_options.kill_grace > max_kill_grace(lease_options)) {
    events.error("--kill-grace " + format_duration(lease_options.kill_grace) +
                 " is too long for this lease: COMMAND must be gone before another holder can "
                 "have the lock; " +
                 explain_max_kill_grace(lease_options) + ". Shorten --kill-grace or lengthen " +
                 (lease_options.stale_after.count() > 0 ? "--stale-after/--ttl" : "--ttl") +
                 " (--ttl is " + format_duration(LeaseOptions{}.ttl) + " unless given)");
    return std::nullopt;
  }
  return lease_options;
}

// What `heartlock run` exits with for a job that ran (or failed to start).
int exit_code_for(const exec::Outcome& outcome, const RunSettings& s) {
  switch (outcome.kind) {
    case exec::Outcome::Kind::exited:
      return outcome.code;
    case exec::Outcome::Kind::signaled:
      return 128 + outcome.signal;
    case exec::Outcome::Kind::timed_out:
      return s.timeout_exit_code.value_or(kExitTimeout);
    case exec::Outcome::Kind::lost:
      return s.error_exit_code.value_or(kExitLost);
    case exec::Outcome::Kind::spawn_failed:
      return outcome.error == ENOENT ? kExitNotFound : kExitCannotExecute;
  }
  return kExitInternal;
}

// The supervisor's events as the CLI's.
exec::JobEventSink event_sink(Events& events) {
  return [&events](const exec::JobEvent& e) {
    nlohmann::json fields = nlohmann::json::object();
    for (const auto& [name, value] : e.fields) {
      std::visit([&, n = name](const auto& v) { fields[std::string(n)] = v; }, value);
    }
    events.emit(e.level, e.name, e.text, std::move(fields));
  };
}

// Runs `command` under the held `lease` until it ends; returns how it ended.
exec::Outcome supervise(Lease& lease, int lost_fd, const RunSettings& s,
                        const LeaseOptions& lease_options, const std::string& backend,
                        const std::vector<std::string>& command, Events& events) {
  // No PR_SET_CHILD_SUBREAPER any more: it made orphans of COMMAND our children so that waitpid(-1)
  // reaped them and "is anything of the group left?" was not fooled by zombies. The supervisor
  // waits for exactly its own child now and its group checks ignore zombies (process_group.h);
  // as a subreaper that reaps nobody else we would keep every orphan of a long job as a zombie.
  // The job's poll loop reads the signals to pass on (those that came while the lock was being
  // taken, too): no forwarding thread for a process that runs one job.
  const exec::Fd signals = forwarded_signal_fd();
  exec::Supervisor job(
      lease,
      exec::JobSpec{
          .argv = command,
          .mode = s.heartbeat,
          .timeout = s.timeout,
          .kill_grace = lease_options.kill_grace,
          .stop_margin = stop_margin(lease_options),
          .stale_after = lease_options.stale_after,
          .env = {"HEARTLOCK_KEY=" + lease.name(),
                  "HEARTLOCK_TOKEN=" + std::to_string(lease.token()),
                  "HEARTLOCK_OWNER=" + lease.owner(), "HEARTLOCK_BACKEND=" + backend,
                  "HEARTLOCK_LOCATION=" + lease.location()},
          .foreground = true,
          .signal_fd = signals.get(),
      },
      event_sink(events));
  exec::Outcome outcome = job.run(lost_fd);
  if (outcome.kind == exec::Outcome::Kind::spawn_failed) {
    events.error("cannot run '" + command[0] +
                 "': " + std::system_category().message(outcome.error));
  }
  return outcome;
}

// Supervises the job, releases the lease; returns the exit code.
int finish_job(Lease& lease, int lost_fd, const RunSettings& s, const LeaseOptions& lease_options,
               const std::string& backend, const std::vector<std::string>& command,
               Events& events) {
  const std::string key = lease.name();
  const exec::Outcome outcome =
      supervise(lease, lost_fd, s, lease_options, backend, command, events);
  auto released = lease.release();
  int exit_code = exit_code_for(outcome, s);
  if (!released) {
    if (released.error().code == Errc::lost && outcome.kind != exec::Outcome::Kind::lost) {
      events.emit(LogLevel::error, "lost",
                  released.error().message + "; the command may have overlapped another holder",
                  {{"key", key}});
      exit_code = s.error_exit_code.value_or(kExitLost);
    } else if (released.error().code != Errc::lost) {
      events.emit(LogLevel::warn, "release", "release of " + key + ": " + released.error().message);
    }
  }
  events.emit(LogLevel::debug, "finished",
              "command finished; exit code " + std::to_string(exit_code),
              {{"key", key}, {"exit_code", exit_code}});
  return exit_code;
}

// The command line to run: COMMAND [ARGS...], or `/bin/sh -c LINE` for -c LINE; nullopt (told)
// when both are given or LINE is empty. The derived key is job_key of what this returns, so
// `-c LINE` and `-- /bin/sh -c LINE` are the same job, and the same LINE always gives the same
// key.
std::optional<std::vector<std::string>> command_line(const RunArgs& a,
                                                     const std::vector<std::string>& command,
                                                     Events& events) {
  if (!a.shell_command) {
    return command;
  }
  if (!command.empty()) {
    events.error("-c LINE and COMMAND [ARGS...] contradict each other; give one");
    return std::nullopt;
  }
  // Like an empty --key: an empty line is a mistake (an unset variable?), not a no-op job.
  if (a.shell_command->empty()) {
    events.error("-c: empty command line");
    return std::nullopt;
  }
  return std::vector<std::string>{"/bin/sh", "-c", *a.shell_command};
}

}  // namespace

int run_job(const RunArgs& a, const CommonArgs& common, const std::vector<std::string>& command) {
  Events events = make_events(common);
  auto err = [&](int code) { return a.error_exit_code.value_or(code); };
  const auto argv = command_line(a, command, events);
  if (!argv) {
    return err(kExitUsage);
  }
  if (argv->empty()) {
    events.error("missing COMMAND: heartlock run [options] [--] COMMAND [ARGS...], or -c LINE");
    return err(kExitUsage);
  }
  if (a.nonblock && !a.wait.empty()) {
    events.error("--nonblock and --wait contradict each other; give one");
    return err(kExitUsage);
  }
  RunSettings s{.key = a.key,
                .conflict_exit_code = a.conflict_exit_code,
                .error_exit_code = a.error_exit_code,
                .timeout_exit_code = a.timeout_exit_code};
  auto parse = [&](const std::string& text, std::string_view option,
                   std::optional<std::chrono::milliseconds>& into) {
    if (text.empty()) {
      return true;
    }
    auto d = duration_arg(text, option, events);
    if (d) {
      into = *d;
    }
    return d.has_value();
  };
  auto parse_wait = [&](const std::string& text, std::optional<std::chrono::milliseconds>& into) {
    if (text == "forever") {
      into = kWaitForever;
      return true;
    }
    return parse(text, "--wait", into);
  };
  std::optional<std::chrono::milliseconds> ttl, stale_after, min_hold, max_hold;
  if (!parse(a.ttl, "--ttl", ttl) || !parse(a.stale_after, "--stale-after", stale_after) ||
      !parse(a.min_hold, "--min-hold", min_hold) || !parse(a.max_hold, "--max-hold", max_hold) ||
      !parse(a.kill_grace, "--kill-grace", s.kill_grace) || !parse_wait(a.wait, s.wait) ||
      !parse(a.timeout, "--timeout", s.timeout)) {
    return err(kExitUsage);
  }
  if (s.timeout && s.timeout->count() == 0) {
    events.error("--timeout must be longer than 0");
    return err(kExitUsage);
  }
  s.lease.ttl = ttl.value_or(s.lease.ttl);
  s.lease.stale_after = stale_after.value_or(s.lease.stale_after);
  s.lease.min_hold = min_hold.value_or(s.lease.min_hold);
  s.lease.max_hold = max_hold.value_or(s.lease.max_hold);
  s.lease.kill_stale = a.kill_stale;
  s.heartbeat = a.heartbeat == "explicit" ? exec::HeartbeatMode::explicit_
                : a.heartbeat == "output" ? exec::HeartbeatMode::output
                                          : exec::HeartbeatMode::alive;
  return run_job(s, common, *argv);
}

int run_job(const RunSettings& s, const CommonArgs& common,
            const std::vector<std::string>& command) {
  Events events = make_events(common);
  auto err = [&](int code) { return s.error_exit_code.value_or(code); };
  if (command.empty()) {
    events.error("missing COMMAND: heartlock run [options] [--] COMMAND [ARGS...]");
    return err(kExitUsage);
  }
  std::optional<LeaseOptions> lease_options = lease_options_for(s, command, events);
  if (!lease_options) {
    return err(kExitUsage);
  }
  // An explicit but empty --key is a mistake (an unset variable in a crontab?), not a request
  // for the derived key.
  const std::string key = s.key ? *s.key : job_key(command);
  if (auto ok = validate_name(key); !ok) {
    events.error("--key: " + ok.error().message);
    return err(kExitUsage);
  }

  int code = 0;
  // One acquisition, released right before the process exits: nothing to keep for a next one.
  auto store = open_store(common, events, code, /*short_lived=*/true);
  if (!store) {
    return err(code);
  }
  exec::Fd lost_fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (lost_fd.get() < 0) {
    events.error("eventfd: " + std::system_category().message(errno));
    return err(kExitInternal);
  }
  lease_options->on_lost = [fd = lost_fd.get()](LostReason, std::string_view) {
    std::uint64_t one = 1;
    (void)!::write(fd, &one, sizeof one);
  };
  // SIGTERM, SIGINT, SIGHUP or SIGQUIT while waiting ends the wait: the command is not started
  // (as flock(1) dies by the signal), whatever the lock does next.
  std::stop_source cancel;
  std::atomic<int> cancelled_by{0};
  auto acquired = [&] {
    if (!s.wait) {
      return store->try_acquire(key, *lease_options);
    }
    SignalForwarder on_signal([&](int sig) {
      int none = 0;
      cancelled_by.compare_exchange_strong(none, sig);
      cancel.request_stop();
    });
    return store->acquire(key, *lease_options, *s.wait, cancel.get_token());
  }();
  if (const int sig = cancelled_by.load(); sig != 0) {
    if (acquired && acquired->acquired()) {
      (void)acquired->lease().release();
    }
    events.emit(LogLevel::info, "cancelled",
                "got signal " + std::to_string(sig) + " while waiting for lock " + key +
                    "; the command was not started",
                {{"key", key}, {"signal", sig}});
    return 128 + sig;
  }
  if (!acquired) {
    events.error("lock " + key + ": " + acquired.error().message);
    return err(exit_code_for(acquired.error()));
  }
  if (acquired->busy()) {
    // Busy without --wait is the expected answer for a job lock: silent at default verbosity, as
    // `flock -n` is, so that cron does not mail it; -v says who holds it, --json carries it.
    if (s.wait || common.verbose || common.json) {
      const LockInfo& holder = acquired->holder();
      nlohmann::json fields = to_json(holder);
      fields["key"] = key;
      events.emit(LogLevel::info, "busy", "lock " + key + " is busy: " + describe_holder(holder),
                  fields);
    }
    return s.conflict_exit_code;
  }
  Lease& lease = acquired->lease();
  events.emit(LogLevel::debug, "acquired",
              "acquired lock " + key + " (token " + std::to_string(lease.token()) + ", " +
                  lease.location() + ")",
              {{"key", key}, {"token", lease.token()}, {"location", lease.location()}});
  return finish_job(lease, lost_fd.get(), s, *lease_options, store->url(), command, events);
}

}  // namespace heartlock::cli
