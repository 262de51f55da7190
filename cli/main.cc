// The heartlock executable: parses the command line and hands over to one subcommand.
#include <iostream>

#include <CLI/CLI.hpp>

#include "heartlock/version.h"

#include "admin_commands.h"
#include "argv_secrets.h"
#include "cron_command.h"
#include "cronlock_command.h"
#include "exit_codes.h"
#include "run_command.h"
#include "schedule_command.h"
#include "signals.h"
#include "suggest.h"

namespace {

constexpr const char* kFooter =
    R"(Backends: file:///dir or a directory (default: $HEARTLOCK_DIR, /run/lock/heartlock,
$XDG_RUNTIME_DIR/heartlock or /tmp/heartlock-UID). Set with -b or HEARTLOCK_BACKEND.
Durations: 500ms, 30s, 1.5s, 5m, 2h, 1d, or sums such as 1h30m (to the millisecond).

Exit codes of `heartlock run`: COMMAND's own status when it ran (128+N if signal N ended it);
  75  the lock is held by someone else (change with -E)
  79  the lease was lost while COMMAND ran; COMMAND's process group was stopped
  124 --timeout expired; COMMAND's process group was stopped
  126 COMMAND could not be executed; 127 COMMAND was not found
  64  usage error (bad option, duration, name, missing COMMAND)
  69  backend unavailable, permission denied, or another lock error
  70  internal error
`heartlock cron --check FILE`: 0 valid, 64 invalid (FILE:LINE: what, on stderr), 66 unreadable.
`heartlock cronlock` (and the binary called as `cronlock`) exits as cronlock does: COMMAND's
status, 200 not acquired (or reset done), 201 error, 202 CRONLOCK_TIMEOUT expired.)";

// The program's name without its directory.
std::string_view program_name(const char* argv0) {
  std::string_view name = argv0 != nullptr ? argv0 : "";
  auto slash = name.rfind('/');
  return slash == std::string_view::npos ? name : name.substr(slash + 1);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace heartlock::cli;
  // Before any thread exists (the keepalive thread inherits the mask): `heartlock run` reads
  // these through a signalfd and passes them on to COMMAND (signals.h).
  block_supervised_signals();

  // Installed as `cronlock` (or `golock`): a drop-in, where every argument is the command.
  if (auto self = program_name(argv[0]); self == "cronlock" || self == "golock") {
    CronlockArgs args{.key_style = self == "golock" ? KeyStyle::golock : KeyStyle::cronlock,
                      .command = std::vector<std::string>(argv + 1, argv + argc)};
    try {
      return run_cronlock(args);
    } catch (const std::exception& e) {
      std::cerr << "cronlock: internal error: " << e.what() << "\n";
      return kCronlockError;
    }
  }

  // `heartlock --version` alone, before the CLI11 tree of every subcommand is built: it prints
  // what CLI11's version flag prints, without its start-up cost (docs/benchmarks.md).
  if (argc == 2 &&
      (std::string_view(argv[1]) == "--version" || std::string_view(argv[1]) == "-V")) {
    std::cout << heartlock::kVersion << std::endl;
    return 0;
  }

  CLI::App app{
      "heartlock: run jobs once, never twice at the same time; leases with heartbeats "
      "and fencing tokens"};
  app.footer(kFooter);
  app.require_subcommand(1);
  app.fallthrough();
  app.set_version_flag("-V,--version", std::string(heartlock::kVersion));
  CommonArgs common;
  app.add_option("-b,--backend", common.backend, "Backend URL (default: $HEARTLOCK_BACKEND)");
  app.add_flag("-q,--quiet", common.quiet, "Print errors only");
  app.add_flag("-v,--verbose", common.verbose, "Print what happens");
  app.add_flag("--json", common.json, "Events (run) or output (status, history) as JSON");

  RunArgs run_args;
  CLI::App* run = add_run_command(app, run_args);

  StatusArgs status_args;
  CLI::App* status = app.add_subcommand(
      "status", "Show the state of one lock or of all locks, and the cron jobs in the run ledger");
  status->add_option("name", status_args.name, "Lock name (default: every lock)");
  status->add_option("--crontab", status_args.crontab,
                     "Also show each job's next slot, and jobs whose definition in FILE is not "
                     "the one the hosts ran last");
  status->add_flag("--cron", status_args.cron,
                   "With --json: an object {\"locks\": [...], \"cron\": [...]} with the cron "
                   "jobs, instead of the array of locks");

  std::string release_name;
  bool force = false;
  CLI::App* release = app.add_subcommand(
      "release", "End a lock's lease (fenced by the token shown); a live holder needs --force");
  release->add_option("name", release_name, "Lock name")->required();
  release->add_flag("--force", force, "Also break the lease of a healthy, live holder");

  std::string history_job;
  std::size_t history_limit = 20;
  CLI::App* history = app.add_subcommand(
      "history",
      "Show the run ledger: the latest runs of scheduled jobs, cluster-wide, newest first");
  history->add_option("job", history_job, "Job name (default: every job)");
  history->add_option("-n", history_limit, "Show at most N entries")
      ->default_val(20)
      ->check(CLI::Range(0, 1000000));

  CronlockArgs cronlock_args;
  CLI::App* cronlock = app.add_subcommand(
      "cronlock",
      "Run COMMAND the way cronlock would (CRONLOCK_* variables, its keys and exit "
      "codes 200/201/202), on heartlock leases; for a rolling migration");
  cronlock->positionals_at_end();
  cronlock->add_option("command", cronlock_args.command, "COMMAND [ARGS...]");
  cronlock->add_flag(
      "--golock-key", [&](std::int64_t) { cronlock_args.key_style = KeyStyle::golock; },
      "Hash the command as golock does (no trailing newline)");
  cronlock->add_flag("--force", cronlock_args.force,
                     "With CRONLOCK_RESET=yes: also remove a live holder's lock");

  CLI::App* heartbeat = app.add_subcommand(
      "heartbeat", "From inside COMMAND: tell the heartlock wrapper the job makes progress");

  ScheduleArgs schedule_args;
  CLI::App* schedule = add_schedule_command(app, schedule_args);

  CronArgs cron_args;
  CLI::App* cron = add_cron_command(app, cron_args);

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help, --version
  } catch (const CLI::ParseError& e) {
    const auto mistyped = explain_parse_error(app, std::vector<std::string>(argv + 1, argv + argc));
    std::cerr << "heartlock: "
              << mistyped.value_or(std::string(e.what()) + " (see heartlock --help)") << "\n";
    return kExitUsage;
  }
  hide_backend_passwords(argc, argv);
  try {
    if (run->parsed()) {
      return run_job(run_args, common, run_args.command);
    }
    if (status->parsed()) {
      return show_status(status_args, common);
    }
    if (release->parsed()) {
      return release_lock(release_name, force, common);
    }
    if (history->parsed()) {
      return show_history(history_job, history_limit, common);
    }
    if (cronlock->parsed()) {
      return run_cronlock(cronlock_args);
    }
    if (heartbeat->parsed()) {
      return send_heartbeat(common);
    }
    if (schedule->parsed()) {
      return show_schedule(schedule_args);
    }
    if (cron->parsed()) {
      return run_cron(cron_args, common);
    }
  } catch (const std::exception& e) {
    std::cerr << "heartlock: internal error: " << e.what() << "\n";
    return kExitInternal;
  }
  return kExitUsage;
}
