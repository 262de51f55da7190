#include "cron_command.h"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <system_error>

#include "heartlock/duration.h"
#include "heartlock/text.h"

#include "cron_daemon.h"
#include "crontab.h"
#include "crontab_file.h"
#include "exit_codes.h"
#include "schedule_command.h"

namespace heartlock::cli {
namespace {

using std::chrono::sys_seconds;

constexpr int kFireTimes = 5;

void print_job(const CrontabJob& job, sys_seconds from, bool utc) {
  std::cout << "\n"
            << printable(job.name) << (job.named ? "" : "  (derived name)") << "\n"
            << "  line        " << job.line << "\n"
            << "  schedule    " << printable(job.expression) << "  (" << job.schedule.zone()
            << ")\n"
            << "  command     " << terminal_safe(job.command) << "\n";
  const char* label = "  env         ";
  for (const auto& [name, value] : job.env) {
    std::cout << label << name << "=" << terminal_safe(value) << "\n";
    label = "              ";
  }
  std::cout << "  options     " << format_options(job.options) << "\n"
            << "  definition  " << job.definition << "\n";
  label = "  next        ";
  sys_seconds t = from;
  for (int i = 0; i < kFireTimes; ++i) {
    auto next = job.schedule.next_after(t);
    if (!next) {
      break;
    }
    std::cout << label << format_fire(job.schedule, *next, utc) << "\n";
    label = "              ";
    t = *next;
  }
}

}  // namespace

CLI::App* add_cron_command(CLI::App& app, CronArgs& args) {
  CLI::App* cmd = app.add_subcommand(
      "cron",
      "Run a crontab, each slot once across every host sharing the store: heartlock cron "
      "[-b URL] FILE; check one: heartlock cron --check FILE");
  cmd->add_option("file", args.file, "The crontab (format: README, `heartlock cron`)")->required();
  cmd->add_flag("--check", args.check,
                "Validate FILE; print each job's name, schedule, command, options and next fire "
                "times");
  cmd->add_option("--from", args.from, "Fire times after this RFC 3339 time (default: now)");
  cmd->add_flag("--utc", args.utc, "Print fire times as RFC 3339 UTC");
  cmd->add_option("--metrics-listen", args.metrics_listen,
                  "Serve Prometheus metrics at http://HOST:PORT/metrics");
  cmd->add_option("--shutdown-grace", args.shutdown_grace,
                  "On SIGTERM/SIGINT, running jobs get this long to end before they are stopped");
  cmd->add_option("--workers", args.workers, "Jobs that may run at once")
      ->check(CLI::Range(1, 10000));
  return cmd;
}

int run_cron(const CronArgs& args, const CommonArgs& common) {
  if (!args.check) {
    auto grace = parse_duration(args.shutdown_grace);
    if (!grace) {
      std::cerr << program_name() << ": --shutdown-grace: " << grace.error().message << "\n";
      return kExitUsage;
    }
    return run_cron_daemon({.file = args.file,
                            .json_output = log_format(common) == LogFormat::json,
                            .shutdown_grace = *grace,
                            .workers = args.workers,
                            .metrics_listen = args.metrics_listen},
                           common);
  }
  sys_seconds from = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  if (!args.from.empty()) {
    auto t = parse_rfc3339(args.from);
    if (!t) {
      std::cerr << program_name() << ": --from \"" << printable(args.from)
                << "\": not an RFC 3339 time (2026-03-29T01:00:00Z, ...+02:00)\n";
      return kExitUsage;
    }
    from = *t;
  }
  auto crontab = load_crontab(args.file);
  if (!crontab) {
    for (const auto& e : crontab.error().errors) {
      std::cerr << e << "\n";
    }
    return crontab.error().exit_code;
  }
  const std::size_t n = crontab->jobs.size();
  std::cout << printable(args.file) << ": " << n << (n == 1 ? " job" : " jobs") << ", valid\n";
  for (const auto& job : crontab->jobs) {
    print_job(job, from, args.utc);
  }
  return kExitOk;
}

}  // namespace heartlock::cli
