#include "run_command.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include "heartlock/duration.h"

#include "exit_codes.h"
#include "job_key.h"
#include "stop_rule.h"
#include "supervisor.h"

namespace heartlock::cli {

CLI::App* add_run_command(CLI::App& app, RunArgs& a) {
  auto* run = app.add_subcommand(
      "run", "Acquire a lock, run COMMAND in its own process group while renewing, release.");
  // Everything from COMMAND on belongs to COMMAND, options included: `run sleep -n 1`.
  run->positionals_at_end();
  run->add_option("command", a.command, "COMMAND [ARGS...]; put -- before it when in doubt");
  run->add_option("-k,--key", a.key, "Lock name (default: derived from the command line)");
  run->add_flag("-n,--nonblock", a.nonblock, "Give up at once if the lock is held (default)");
  run->add_option("-w,--wait", a.wait, "Wait up to DURATION for the lock")->type_name("DURATION");
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

int run_job(const RunArgs& a, const CommonArgs& common, const std::vector<std::string>& command) {
  Events events = make_events(common);
  auto err = [&](int code) { return a.error_exit_code.value_or(code); };
  if (command.empty()) {
    events.error("missing COMMAND: heartlock run [options] [--] COMMAND [ARGS...]");
    return err(kExitUsage);
  }
  if (a.nonblock && !a.wait.empty()) {
    events.error("--nonblock and --wait contradict each other; give one");
    return err(kExitUsage);
  }
  LeaseOptions lease_options;
  std::optional<std::chrono::milliseconds> wait;
  std::optional<std::chrono::milliseconds> timeout;
  auto parse = [&](const std::string& text, std::string_view option,
                   std::chrono::milliseconds& into) {
    if (text.empty()) {
      return true;
    }
    auto d = duration_arg(text, option, events);
    if (d) {
      into = *d;
    }
    return d.has_value();
  };
  std::chrono::milliseconds wait_value{0};
  std::chrono::milliseconds timeout_value{0};
  if (!parse(a.ttl, "--ttl", lease_options.ttl) ||
      !parse(a.stale_after, "--stale-after", lease_options.stale_after) ||
      !parse(a.min_hold, "--min-hold", lease_options.min_hold) ||
      !parse(a.max_hold, "--max-hold", lease_options.max_hold) ||
      !parse(a.kill_grace, "--kill-grace", lease_options.kill_grace) ||
      !parse(a.wait, "--wait", wait_value) || !parse(a.timeout, "--timeout", timeout_value)) {
    return err(kExitUsage);
  }
  if (!a.wait.empty()) {
    wait = wait_value;
  }
  if (!a.timeout.empty()) {
    if (timeout_value.count() == 0) {
      events.error("--timeout must be longer than 0");
      return err(kExitUsage);
    }
    timeout = timeout_value;
  }
  HeartbeatMode mode = a.heartbeat == "explicit" ? HeartbeatMode::explicit_
                       : a.heartbeat == "output" ? HeartbeatMode::output
                                                 : HeartbeatMode::alive;
  if (mode != HeartbeatMode::alive && lease_options.stale_after.count() == 0) {
    events.error("--heartbeat " + a.heartbeat +
                 " needs --stale-after: without it a missing heartbeat would never count");
    return err(kExitUsage);
  }
  lease_options.kill_stale = a.kill_stale;
  lease_options.command = shell_quote(command);
  if (auto ok = validate(lease_options); !ok) {
    events.error(ok.error().message);
    return err(kExitUsage);
  }
  // The stop rule: COMMAND's group must be gone (TERM, KILL after the grace) before the lease can
  // expire, so the grace must fit into what the lease leaves once a renewal is late.
  if (a.kill_grace.empty()) {
    lease_options.kill_grace = std::min(kDefaultKillGrace, max_kill_grace(lease_options));
  } else if (lease_options.kill_grace > max_kill_grace(lease_options)) {
    events.error("--kill-grace " + format_duration(lease_options.kill_grace) +
                 " is too long for this lease: COMMAND must be gone before another holder can "
                 "have the lock; " +
                 explain_max_kill_grace(lease_options) + ". Shorten --kill-grace or lengthen " +
                 (lease_options.stale_after.count() > 0 ? "--stale-after/--ttl" : "--ttl"));
    return err(kExitUsage);
  }
  // An explicit but empty --key is a mistake (an unset variable in a crontab?), not a request
  // for the derived key.
  const std::string key = a.key ? *a.key : job_key(command);
  if (auto ok = validate_name(key); !ok) {
    events.error("--key: " + ok.error().message);
    return err(kExitUsage);
  }

  int code = 0;
  auto store = open_store(common, events, code);
  if (!store) {
    return err(code);
  }
  int lost_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (lost_fd < 0) {
    events.error("eventfd: " + std::system_category().message(errno));
    return err(kExitInternal);
  }
  lease_options.on_lost = [lost_fd](LostReason, std::string_view) {
    std::uint64_t one = 1;
    (void)!::write(lost_fd, &one, sizeof one);
  };
  auto acquired =
      wait ? store->acquire(key, lease_options, *wait) : store->try_acquire(key, lease_options);
  if (!acquired) {
    events.error("lock " + key + ": " + acquired.error().message);
    ::close(lost_fd);
    return err(exit_code_for(acquired.error()));
  }
  if (acquired->busy()) {
    const LockInfo& holder = acquired->holder();
    nlohmann::json fields = to_json(holder);
    fields["key"] = key;
    events.emit(LogLevel::info, "busy", "lock " + key + " is busy: " + describe_holder(holder),
                fields);
    ::close(lost_fd);
    return a.conflict_exit_code;
  }
  Lease& lease = acquired->lease();
  events.emit(LogLevel::debug, "acquired",
              "acquired lock " + key + " (token " + std::to_string(lease.token()) + ", " +
                  lease.location() + ")",
              {{"key", key}, {"token", lease.token()}, {"location", lease.location()}});

  SuperviseOptions supervise_options{
      .argv = command,
      .mode = mode,
      .timeout = timeout,
      .kill_grace = lease_options.kill_grace,
      .stop_margin = stop_margin(lease_options),
      .stale_after = lease_options.stale_after,
      .env = {"HEARTLOCK_KEY=" + key, "HEARTLOCK_TOKEN=" + std::to_string(lease.token()),
              "HEARTLOCK_OWNER=" + lease.owner(), "HEARTLOCK_BACKEND=" + store->url(),
              "HEARTLOCK_LOCATION=" + lease.location()},
  };
  Outcome outcome = supervise(lease, lost_fd, supervise_options, events);
  auto released = lease.release();
  ::close(lost_fd);
  int exit_code = outcome.kind == Outcome::Kind::lost ? err(outcome.exit_code)
                  : outcome.kind == Outcome::Kind::timed_out
                      ? a.timeout_exit_code.value_or(outcome.exit_code)
                      : outcome.exit_code;
  if (!released) {
    if (released.error().code == Errc::lost && outcome.kind != Outcome::Kind::lost) {
      events.emit(LogLevel::error, "lost",
                  released.error().message + "; the command may have overlapped another holder",
                  {{"key", key}});
      exit_code = err(kExitLost);
    } else if (released.error().code != Errc::lost) {
      events.emit(LogLevel::warn, "release", "release of " + key + ": " + released.error().message);
    }
  }
  events.emit(LogLevel::debug, "finished",
              "command finished; exit code " + std::to_string(exit_code),
              {{"key", key}, {"exit_code", exit_code}});
  return exit_code;
}

}  // namespace heartlock::cli
