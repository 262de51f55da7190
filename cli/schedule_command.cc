#include "schedule_command.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string_view>

#include "heartlock/cron.h"

#include "events.h"
#include "exit_codes.h"

namespace heartlock::cli {
namespace {

using std::chrono::seconds;
using std::chrono::sys_seconds;

// Reads `n` digits at `at`, or nullopt.
std::optional<int> digits(std::string_view s, std::size_t at, std::size_t n) {
  if (at + n > s.size()) {
    return std::nullopt;
  }
  int value = 0;
  for (std::size_t i = at; i < at + n; ++i) {
    if (s[i] < '0' || s[i] > '9') {
      return std::nullopt;
    }
    value = value * 10 + (s[i] - '0');
  }
  return value;
}

// 2026-03-29T03:00:00 (no zone).
std::string civil(sys_seconds t) {
  const auto day = std::chrono::floor<std::chrono::days>(t);
  const std::chrono::year_month_day ymd{day};
  const std::chrono::hh_mm_ss hms{t - day};
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02ld:%02ld:%02ld", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<long>(hms.hours().count()), static_cast<long>(hms.minutes().count()),
                static_cast<long>(hms.seconds().count()));
  return buf;
}

}  // namespace

// Fractions of a second are ignored: fire times are whole seconds, and "strictly after" holds
// for the truncated time.
std::optional<sys_seconds> parse_rfc3339(std::string_view s) {
  auto y = digits(s, 0, 4);
  auto mo = digits(s, 5, 2);
  auto d = digits(s, 8, 2);
  auto h = digits(s, 11, 2);
  auto mi = digits(s, 14, 2);
  auto se = digits(s, 17, 2);
  if (!y || !mo || !d || !h || !mi || !se || s[4] != '-' || s[7] != '-' ||
      (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' || s[16] != ':' || *h > 23 ||
      *mi > 59 || *se > 60) {
    return std::nullopt;
  }
  const std::chrono::year_month_day ymd{std::chrono::year{*y}, std::chrono::month(*mo),
                                        std::chrono::day(*d)};
  if (!ymd.ok()) {
    return std::nullopt;
  }
  std::size_t at = 19;
  if (at < s.size() && s[at] == '.') {
    for (++at; at < s.size() && s[at] >= '0' && s[at] <= '9'; ++at) {
    }
  }
  seconds offset{0};
  if (at + 1 == s.size() && (s[at] == 'Z' || s[at] == 'z')) {
    offset = seconds{0};
  } else if (at + 6 == s.size() && (s[at] == '+' || s[at] == '-') && s[at + 3] == ':') {
    auto oh = digits(s, at + 1, 2);
    auto om = digits(s, at + 4, 2);
    if (!oh || !om || *oh > 23 || *om > 59) {
      return std::nullopt;
    }
    offset = seconds{(*oh * 3600 + *om * 60) * (s[at] == '-' ? -1 : 1)};
  } else {
    return std::nullopt;
  }
  return sys_seconds{std::chrono::sys_days{ymd}} + std::chrono::hours{*h} +
         std::chrono::minutes{*mi} + seconds{*se} - offset;
}

std::string format_fire(const CronSchedule& schedule, sys_seconds t, bool utc) {
  if (utc) {
    return civil(t) + "Z";
  }
  const ZoneOffset zo = schedule.offset_at(t);
  const long off = static_cast<long>(zo.utc_offset.count());
  char buf[48];
  std::snprintf(buf, sizeof buf, "%c%02ld:%02ld", off < 0 ? '-' : '+', std::abs(off) / 3600,
                std::abs(off) / 60 % 60);
  return civil(t + zo.utc_offset) + buf + " " + zo.abbreviation;
}

CLI::App* add_schedule_command(CLI::App& app, ScheduleArgs& args) {
  CLI::App* cmd = app.add_subcommand(
      "schedule", "Print the next fire times of a cron expression (DST rules: see README)");
  cmd->add_option("expression", args.expression,
                  "Cron expression: 5 fields, 6 with seconds first, @daily, @every 90s...")
      ->required();
  cmd->add_option("--tz", args.tz, "Time zone (default: the system's; or CRON_TZ=Zone prefix)");
  cmd->add_option("--from", args.from, "Start after this RFC 3339 time (default: now)");
  cmd->add_option("-n", args.count, "How many fire times (default 5)")
      ->check(CLI::Range(1, 100000));
  cmd->add_flag("--utc", args.utc, "Print RFC 3339 UTC times");
  return cmd;
}

int show_schedule(const ScheduleArgs& args) {
  auto schedule = CronSchedule::parse(args.expression, args.tz);
  if (!schedule) {
    std::cerr << program_name() << ": " << schedule.error().message << "\n";
    // invalid_argument: the expression or zone; anything else: the tz library or database.
    return schedule.error().code == Errc::invalid_argument ? kExitUsage : kExitUnavailable;
  }
  sys_seconds t = std::chrono::floor<seconds>(std::chrono::system_clock::now());
  if (!args.from.empty()) {
    auto from = parse_rfc3339(args.from);
    if (!from) {
      std::cerr << program_name() << ": --from \"" << args.from
                << "\": not an RFC 3339 time (2026-03-29T01:00:00Z, ...+02:00)\n";
      return kExitUsage;
    }
    t = *from;
  }
  for (int i = 0; i < args.count; ++i) {
    auto next = schedule->next_after(t);
    if (!next) {
      break;
    }
    std::cout << format_fire(*schedule, *next, args.utc) << "\n";
    t = *next;
  }
  return kExitOk;
}

}  // namespace heartlock::cli
