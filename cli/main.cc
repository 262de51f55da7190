// The heartlock executable: parses the command line and hands over to one subcommand.
#include <iostream>

#include <CLI/CLI.hpp>

#include "heartlock/version.h"

#include "admin_commands.h"
#include "argv_secrets.h"
#include "cron_command.h"
#include "cronlock_command.h"
#include "events.h"
#include "exit_codes.h"
#include "help.h"
#include "lock_metrics.h"
#include "run_command.h"
#include "schedule_command.h"
#include "signals.h"
#include "suggest.h"

int main(int argc, char** argv) {
  using namespace heartlock::cli;
  // Before any thread exists (the keepalive thread inherits the mask): `heartlock run` reads
  // these through a signalfd and passes them on to COMMAND (signals.h).
  block_supervised_signals();
  set_program_name(argc > 0 ? argv[0] : "heartlock");

  // Installed as `cronlock` (or `golock`): a drop-in, where every argument is the command.
  if (const std::string& self = program_name(); self == "cronlock" || self == "golock") {
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
  app.require_subcommand(1);
  app.fallthrough();
  app.set_version_flag("-V,--version", std::string(heartlock::kVersion));
  CommonArgs common;
  app.add_option("-b,--backend", common.backend, "Backend URL (default: $HEARTLOCK_BACKEND)");
  app.add_flag("-q,--quiet", common.quiet, "Print errors only");
  app.add_flag("-v,--verbose", common.verbose, "Print what happens");
  app.add_flag("--json", common.json,
               "Same as --log-format json, and status and history print JSON on stdout");
  app.add_option("--log-format", common.log_format,
                 "Events (and cron's job output lines): text, or json (one object per line)")
      ->check(CLI::IsMember({"text", "json"}));
  app.add_flag("--syslog", common.syslog, "Events to syslog(3) (errors to stderr as well)");
  app.add_option("--syslog-facility", common.syslog_facility,
                 "The facility for --syslog: user (default), daemon, cron, local0..local7")
      ->check([](const std::string& name) {
        return syslog_facility(name) ? std::string() : "not a syslog facility: " + name;
      });

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
  CLI::Option* watch =
      status->add_flag("--watch", status_args.watch,
                       "Redraw the status on the terminal every --interval until q or Ctrl-C");
  status
      ->add_option("--interval", status_args.interval,
                   "With --watch: time between redraws (default 2s, at least 100ms)")
      ->needs(watch);

  MetricsArgs metrics_args;
  CLI::App* metrics = app.add_subcommand(
      "metrics",
      "Print every lock's state, holder and heartbeat age and token as Prometheus text (for "
      "node_exporter's textfile collector)");
  metrics->add_option("name", metrics_args.names, "Lock names (default: every lock)");
  metrics->add_option("-o,--output", metrics_args.output,
                      "Write to FILE atomically (a temporary file renamed over it), not stdout");

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

  install_help(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help, --version
  } catch (const CLI::ParseError& e) {
    const auto mistyped = explain_parse_error(app, std::vector<std::string>(argv + 1, argv + argc));
    std::cerr << program_name() << ": "
              << mistyped.value_or(std::string(e.what()) + " (see " + program_name() + " --help)")
              << "\n";
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
    if (metrics->parsed()) {
      return show_metrics(metrics_args, common);
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
    std::cerr << program_name() << ": internal error: " << e.what() << "\n";
    return kExitInternal;
  }
  return kExitUsage;
}
