#include "cron_command.h"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <system_error>

#include "heartlock/text.h"

#include "crontab.h"
#include "exit_codes.h"
#include "schedule_command.h"

namespace heartlock::cli {
namespace {

using std::chrono::sys_seconds;

// A crontab is a few KiB; this bound keeps a wrong argument (/dev/zero, a log) from filling
// memory.
constexpr std::size_t kMaxFileBytes = 1 << 20;
constexpr int kFireTimes = 5;

// The file's bytes, or the exit code after telling why not.
std::optional<std::string> read_file(const std::string& path, int& exit_code) {
  auto fail = [&](const std::string& why, int code) {
    std::cerr << "heartlock: " << printable(path) << ": " << why << "\n";
    exit_code = code;
    return std::nullopt;
  };
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) {
    return fail("cannot read: " + std::system_category().message(errno), kExitNoInput);
  }
  std::string text;
  char buf[65536];
  while (text.size() <= kMaxFileBytes) {
    const std::size_t n = std::fread(buf, 1, sizeof buf, f.get());
    text.append(buf, n);
    if (n < sizeof buf) {
      break;
    }
  }
  if (std::ferror(f.get())) {
    return fail("cannot read: " + std::system_category().message(errno), kExitNoInput);
  }
  if (text.size() > kMaxFileBytes) {
    return fail("larger than 1 MiB: not a crontab", kExitUsage);
  }
  return text;
}

// Text from the file (a command, a value, a message quoting it), safe for the terminal
// (printable()) but with its backslashes as they are: `grep 'a\.b'` or the advice "write \%"
// would read wrong with them doubled, and a backslash cannot move the cursor.
std::string terminal_safe(std::string_view message) {
  std::string out;
  for (auto slash = message.find('\\'); slash != std::string_view::npos;
       slash = message.find('\\')) {
    out += printable(message.substr(0, slash)) + '\\';
    message.remove_prefix(slash + 1);
  }
  return out + printable(message);
}

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
  CLI::App* cmd =
      app.add_subcommand("cron", "Check a crontab for heartlock: heartlock cron --check FILE");
  cmd->add_option("file", args.file, "The crontab (format: README, `heartlock cron`)")->required();
  cmd->add_flag("--check", args.check,
                "Validate FILE; print each job's name, schedule, command, options and next fire "
                "times");
  cmd->add_option("--from", args.from, "Fire times after this RFC 3339 time (default: now)");
  cmd->add_flag("--utc", args.utc, "Print fire times as RFC 3339 UTC");
  return cmd;
}

int run_cron(const CronArgs& args) {
  if (!args.check) {
    std::cerr << "heartlock: cron: only `heartlock cron --check FILE` exists so far (running a "
                 "crontab is not built yet)\n";
    return kExitUsage;
  }
  sys_seconds from = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  if (!args.from.empty()) {
    auto t = parse_rfc3339(args.from);
    if (!t) {
      std::cerr << "heartlock: --from \"" << printable(args.from)
                << "\": not an RFC 3339 time (2026-03-29T01:00:00Z, ...+02:00)\n";
      return kExitUsage;
    }
    from = *t;
  }
  int code = kExitOk;
  auto text = read_file(args.file, code);
  if (!text) {
    return code;
  }
  auto crontab = parse_crontab(*text);
  if (!crontab) {
    for (const auto& e : crontab.error().errors) {
      std::cerr << printable(args.file);
      if (e.line != 0) {
        std::cerr << ":" << e.line;
      }
      std::cerr << ": " << terminal_safe(e.message) << "\n";
    }
    return crontab.error().code == Errc::invalid_argument ? kExitUsage : kExitUnavailable;
  }
  const std::size_t n = crontab->jobs.size();
  std::cout << printable(args.file) << ": " << n << (n == 1 ? " job" : " jobs") << ", valid\n";
  for (const auto& job : crontab->jobs) {
    print_job(job, from, args.utc);
  }
  return kExitOk;
}

}  // namespace heartlock::cli
