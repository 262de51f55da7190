// The crontab format of `heartlock cron` (cli/crontab.h).
#include "../../cli/crontab.h"

#include <algorithm>
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "heartlock/store.h"

namespace heartlock::cli {
namespace {

using namespace std::chrono_literals;

Crontab parse_ok(std::string_view text) {
  auto c = parse_crontab(text);
  if (!c) {
    std::string all;
    for (const auto& e : c.error().errors) {
      all += std::to_string(e.line) + ": " + e.message + "\n";
    }
    ADD_FAILURE() << "unexpected errors:\n" << all;
    return {};
  }
  return *c;
}

std::vector<CrontabError> errors_of(std::string_view text) {
  auto c = parse_crontab(text);
  EXPECT_FALSE(c.has_value()) << "accepted:\n" << text;
  if (c) {
    return {};
  }
  EXPECT_EQ(c.error().code, Errc::invalid_argument);
  return c.error().errors;
}

// Whether some error is on `line` and contains `what`.
::testing::AssertionResult has_error(const std::vector<CrontabError>& errors, std::size_t line,
                                     std::string_view what) {
  std::string all;
  for (const auto& e : errors) {
    if (e.line == line && e.message.find(what) != std::string::npos) {
      return ::testing::AssertionSuccess();
    }
    all += std::to_string(e.line) + ": " + e.message + "\n";
  }
  return ::testing::AssertionFailure()
         << "no error on line " << line << " with \"" << what << "\" in:\n"
         << all;
}

const CrontabJob* find(const Crontab& c, std::string_view name) {
  auto it = std::ranges::find(c.jobs, name, &CrontabJob::name);
  return it == c.jobs.end() ? nullptr : &*it;
}

TEST(CrontabTest, ReadsFiveAndSixFieldsAndMacros) {
  auto c = parse_ok(
      "# a comment\n"
      "\n"
      "CRON_TZ=UTC\n"
      "30 2 * * *   /usr/bin/backup --all  \n"
      "*/10 * * * * MON-FRI probe\n"
      "\t@daily report > /tmp/out 2>&1\n"
      "@every 90s poll\n"
      "0 0 1 * * echo '* *'\n");
  ASSERT_EQ(c.jobs.size(), 5u);
  EXPECT_EQ(c.jobs[0].expression, "30 2 * * *");
  EXPECT_EQ(c.jobs[0].command, "/usr/bin/backup --all");
  EXPECT_EQ(c.jobs[0].line, 4u);
  EXPECT_EQ(c.jobs[1].expression, "*/10 * * * * MON-FRI");
  EXPECT_EQ(c.jobs[1].command, "probe");
  EXPECT_EQ(c.jobs[2].expression, "@daily");
  EXPECT_EQ(c.jobs[2].command, "report > /tmp/out 2>&1");
  EXPECT_EQ(c.jobs[3].expression, "@every 90s");
  EXPECT_EQ(c.jobs[3].command, "poll");
  EXPECT_EQ(c.jobs[4].expression, "0 0 1 * *");
  EXPECT_EQ(c.jobs[4].command, "echo '* *'");
  const auto t = std::chrono::sys_days{std::chrono::year{2026} / 1 / 1};
  EXPECT_EQ(c.jobs[0].schedule.next_after(t), t + 2h + 30min);
}

TEST(CrontabTest, SixthWordIsADayOfWeekFieldOnlyWhenItCouldBeOne) {
  auto c = parse_ok("CRON_TZ=UTC\n0 0 2 * * sun,3#2 a\n0 2 * * * backup.sh\n0 0 2 * * 5L b\n");
  ASSERT_EQ(c.jobs.size(), 3u);
  EXPECT_EQ(c.jobs[0].expression, "0 0 2 * * sun,3#2");
  EXPECT_EQ(c.jobs[1].expression, "0 2 * * *");
  EXPECT_EQ(c.jobs[1].command, "backup.sh");
  EXPECT_EQ(c.jobs[2].expression, "0 0 2 * * 5L");
  EXPECT_TRUE(has_error(errors_of("0 0 2 * * 1\n"), 1, "no command"));
}

TEST(CrontabTest, DefaultsAreTheEffectiveValues) {
  auto c = parse_ok("@hourly true\n");
  ASSERT_EQ(c.jobs.size(), 1u);
  const CrontabOptions& o = c.jobs[0].options;
  EXPECT_EQ(o.ttl, 30s);
  EXPECT_FALSE(o.timeout);
  EXPECT_EQ(o.kill_grace, 5s);
  EXPECT_EQ(o.stale_after, 0ms);
  EXPECT_EQ(o.heartbeat, exec::HeartbeatMode::alive);
  EXPECT_EQ(o.concurrency, Concurrency::forbid);
  EXPECT_EQ(o.missed, MissedPolicy::skip);
  EXPECT_EQ(o.grace, 60s);
  EXPECT_EQ(o.max_runs, 10u);
  EXPECT_EQ(o.jitter, 0ms);
  EXPECT_EQ(o.retries, 0);
  EXPECT_TRUE(o.once_per_slot);
  EXPECT_EQ(format_options(o),
            "ttl=30s timeout=none kill-grace=5s stale-after=none heartbeat=alive "
            "concurrency=forbid missed=skip grace=1m max-runs=10 jitter=0s retries=0 "
            "once-per-slot=yes");
  // A short ttl lowers the default kill grace, as `heartlock run` does.
  auto short_ttl = parse_ok("# heartlock: ttl=3s\n@hourly true\n");
  EXPECT_LT(short_ttl.jobs[0].options.kill_grace, 3s);
}

TEST(CrontabTest, EveryDirectiveKeyIsRead) {
  auto c = parse_ok(
      "# heartlock: name=backup ttl=1m timeout=1h kill-grace=10s stale-after=5m\n"
      "#heartlock: heartbeat=explicit concurrency=replace missed=run-all grace=10m\n"
      "  # heartlock: max-runs=5 jitter=30s retries=3 once-per-slot=no\n"
      "0 2 * * * backup\n");
  ASSERT_EQ(c.jobs.size(), 1u);
  const CrontabJob& j = c.jobs[0];
  EXPECT_EQ(j.name, "backup");
  EXPECT_TRUE(j.named);
  EXPECT_EQ(j.line, 4u);
  const CrontabOptions& o = j.options;
  EXPECT_EQ(o.ttl, 1min);
  EXPECT_EQ(o.timeout, 1h);
  EXPECT_EQ(o.kill_grace, 10s);
  EXPECT_EQ(o.stale_after, 5min);
  EXPECT_EQ(o.heartbeat, exec::HeartbeatMode::explicit_);
  EXPECT_EQ(o.concurrency, Concurrency::replace);
  EXPECT_EQ(o.missed, MissedPolicy::run_all);
  EXPECT_EQ(o.grace, 10min);
  EXPECT_EQ(o.max_runs, 5u);
  EXPECT_EQ(o.jitter, 30s);
  EXPECT_EQ(o.retries, 3);
  EXPECT_FALSE(o.once_per_slot);
  // The printed options are a directive that gives the same options back.
  auto again = parse_ok("# heartlock: " + format_options(o) + "\n0 2 * * * backup\n");
  EXPECT_EQ(format_options(again.jobs[0].options), format_options(o));
  // A directive applies to its job only.
  auto two = parse_ok("# heartlock: concurrency=allow\n@daily a\n@daily b\n");
  EXPECT_EQ(two.jobs[0].options.concurrency, Concurrency::allow);
  EXPECT_EQ(two.jobs[1].options.concurrency, Concurrency::forbid);
}

TEST(CrontabTest, EnvironmentAppliesToTheJobsAfterIt) {
  auto c = parse_ok(
      "@daily a\n"
      "MAILTO=ops@example.com\n"
      "PATH = /usr/bin:/bin  \n"
      "@daily b\n"
      "MAILTO=\"\"\n"
      "GREETING='hello  world'\n"
      "QUOTE=\"it's\"\n"
      "@daily c\n");
  ASSERT_EQ(c.jobs.size(), 3u);
  using Env = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(c.jobs[0].env, Env{});
  EXPECT_EQ(c.jobs[1].env, (Env{{"MAILTO", "ops@example.com"}, {"PATH", "/usr/bin:/bin"}}));
  EXPECT_EQ(c.jobs[2].env, (Env{{"MAILTO", ""},
                                {"PATH", "/usr/bin:/bin"},
                                {"GREETING", "hello  world"},
                                {"QUOTE", "it's"}}));
}

TEST(CrontabTest, CronTzSetsTheZoneOfTheJobsAfterIt) {
  auto c = parse_ok(
      "CRON_TZ=UTC\n"
      "@daily a\n"
      "CRON_TZ=Europe/Berlin\n"
      "30 2 * * * b\n"
      "CRON_TZ = \"Asia/Kolkata\"\n"
      "@daily c\n");
  ASSERT_EQ(c.jobs.size(), 3u);
  EXPECT_EQ(c.jobs[0].schedule.zone(), "UTC");
  EXPECT_EQ(c.jobs[1].schedule.zone(), "Europe/Berlin");
  EXPECT_EQ(c.jobs[2].schedule.zone(), "Asia/Kolkata");
  EXPECT_TRUE(c.jobs[1].env.empty()) << "CRON_TZ is not passed to the command";
  // 2026-03-29: Berlin skips 02:00-03:00; the fixed-time job fires at 03:00 CEST = 01:00Z.
  const auto day = std::chrono::sys_days{std::chrono::year{2026} / 3 / 29};
  EXPECT_EQ(c.jobs[1].schedule.next_after(day), day + 1h);
}

TEST(CrontabTest, DefaultNamesStayWhenLinesMoveOrJobsAreAdded) {
  auto before = parse_ok("@daily /usr/bin/backup --all\n*/5 * * * * probe\n");
  auto after = parse_ok(
      "# new\n@hourly other\nMAILTO=x\n*/5 * * * * probe\nCRON_TZ=UTC\n"
      "@daily   /usr/bin/backup --all\n");
  ASSERT_EQ(before.jobs.size(), 2u);
  ASSERT_EQ(after.jobs.size(), 3u);
  EXPECT_EQ(before.jobs[0].name, after.jobs[2].name);
  EXPECT_EQ(before.jobs[1].name, after.jobs[1].name);
  EXPECT_EQ(before.jobs[0].name.rfind("cron.backup.", 0), 0u) << before.jobs[0].name;
  EXPECT_FALSE(before.jobs[0].named);
  EXPECT_TRUE(validate_name(before.jobs[0].name).has_value());
  EXPECT_EQ(before.jobs[0].name, default_job_name("@daily", "/usr/bin/backup --all"));
  // Schedule and command both count, with their boundary.
  EXPECT_NE(default_job_name("@daily", "a"), default_job_name("@hourly", "a"));
  EXPECT_NE(default_job_name("@daily", "a"), default_job_name("@daily", "b"));
  EXPECT_NE(default_job_name("0 1 * * *", "2 a"), default_job_name("0 1 * *", "* 2 a"));
}

TEST(CrontabTest, DefinitionCoversZoneEnvCommandAndOptions) {
  const std::string job = "@daily backup\n";
  auto base = parse_ok("CRON_TZ=UTC\nA=1\n" + job);
  EXPECT_EQ(base.jobs[0].definition.size(), 16u);
  EXPECT_EQ(parse_ok("# moved\nCRON_TZ=UTC\nA=1\n@hourly x\n" + job).jobs[1].definition,
            base.jobs[0].definition);
  for (const std::string& changed :
       {"CRON_TZ=Europe/Berlin\nA=1\n" + job, "CRON_TZ=UTC\nA=2\n" + job,
        std::string("CRON_TZ=UTC\nA=1\n@daily backup -v\n"),
        "CRON_TZ=UTC\nA=1\n# heartlock: timeout=1h\n" + job,
        "CRON_TZ=UTC\nA=1\n# heartlock: timeout=1h1ms\n" + job}) {
    auto c = parse_ok(changed);
    ASSERT_EQ(c.jobs.size(), 1u);
    EXPECT_NE(c.jobs[0].definition, base.jobs[0].definition) << changed;
  }
}

TEST(CrontabTest, PercentMustBeEscaped) {
  auto c = parse_ok("@daily date +\\%Y-\\%m-\\%d > /tmp/day\n");
  EXPECT_EQ(c.jobs[0].command, "date +%Y-%m-%d > /tmp/day");
  EXPECT_TRUE(has_error(errors_of("@daily mail -s hi ops%body\n"), 1, "unescaped %"));
}

TEST(CrontabTest, ErrorsNameTheirLine) {
  EXPECT_TRUE(has_error(errors_of("\n0 22-2 * * * x\n"), 2, "hour field \"22-2\""));
  EXPECT_TRUE(has_error(errors_of("@reboot x\n"), 1, "@reboot"));
  EXPECT_TRUE(has_error(errors_of("# heartlock: color=red\n@daily x\n"), 1, "unknown key"));
  EXPECT_TRUE(has_error(errors_of("# heartlock: ttl=10\n@daily x\n"), 1, "ttl: invalid duration"));
  EXPECT_TRUE(has_error(errors_of("# heartlock: timeout\n@daily x\n"), 1, "not key=value"));
  EXPECT_TRUE(has_error(errors_of("# heartlock: missed=all\n@daily x\n"), 1, "run-once"));
  EXPECT_TRUE(has_error(errors_of("# heartlock: grace=1500ms\n@daily x\n"), 1, "whole seconds"));
  EXPECT_TRUE(has_error(errors_of("# heartlock: max-runs=0\n@daily x\n"), 1, "whole number"));
  EXPECT_TRUE(has_error(errors_of("# heartlock: retries=2x\n@daily x\n"), 1, "whole number"));
  EXPECT_TRUE(has_error(errors_of("# heartlock: name=a\n# heartlock: name=b\n@daily x\n"), 2,
                        "given twice"));
  EXPECT_TRUE(
      has_error(errors_of("\n# heartlock: heartbeat=output\n@daily x\n"), 2, "needs stale-after"));
  EXPECT_TRUE(has_error(errors_of("# heartlock: ttl=10s\n# heartlock: kill-grace=20s\n@daily x\n"),
                        2, "kill-grace=20s is too long"));
  EXPECT_TRUE(has_error(errors_of("# heartlock: ttl=1ms\n@daily x\n"), 1, "ttl"));
  EXPECT_TRUE(has_error(errors_of("# heartlock: jitter=400d\n@daily x\n"), 1, "jitter: longer"));
  EXPECT_TRUE(has_error(errors_of("0 2 * *\n"), 1, "too few fields"));
  EXPECT_TRUE(has_error(errors_of("@daily\n"), 1, "no command"));
  EXPECT_TRUE(has_error(errors_of("@every 90s\n"), 1, "no command"));
  EXPECT_TRUE(has_error(errors_of("A=\"open\n"), 1, "unterminated"));
  EXPECT_TRUE(has_error(errors_of("A='x' y\n"), 1, "after the closing quote"));
  EXPECT_TRUE(has_error(errors_of("@daily x\r\n"), 1, "carriage return"));
  EXPECT_TRUE(has_error(errors_of(std::string_view("@daily x\0y\n", 11)), 1, "NUL"));
}

TEST(CrontabTest, ADirectiveMustBeDirectlyAboveAJob) {
  EXPECT_TRUE(
      has_error(errors_of("# heartlock: name=a\n\n@daily x\n"), 1, "not followed by a job"));
  EXPECT_TRUE(has_error(errors_of("# heartlock: name=a\n# note\n@daily x\n"), 1, "not followed"));
  EXPECT_TRUE(has_error(errors_of("# heartlock: name=a\nA=1\n@daily x\n"), 1, "not followed"));
  EXPECT_TRUE(has_error(errors_of("@daily x\n\n# heartlock: name=a"), 3, "not followed"));
}

TEST(CrontabTest, NamesAreUniqueInAFile) {
  EXPECT_TRUE(
      has_error(errors_of("# heartlock: name=a\n@daily x\n# heartlock: name=a\n@hourly y\n"), 4,
                "\"a\" is already used on line 2"));
  EXPECT_TRUE(has_error(errors_of("@daily x\nA=1\n@daily   x\n"), 3, "give one of them a name="));
  parse_ok("@daily x\n# heartlock: name=x2\n@daily x\n");
}

TEST(CrontabTest, TimeZoneErrors) {
  auto errors = errors_of("CRON_TZ=Mars/Base\n@daily x\n0 25 * * * y\n");
  EXPECT_TRUE(has_error(errors, 1, "Mars/Base"));
  EXPECT_TRUE(has_error(errors, 3, "hour")) << "the schedule is still checked";
  EXPECT_EQ(errors.size(), 2u);
  EXPECT_TRUE(has_error(errors_of("CRON_TZ=UTC 0 2 * * * x\n"), 1, "line of its own"));
}

TEST(CrontabTest, CollectsEveryErrorInLineOrder) {
  auto errors = errors_of(
      "@daily ok\n"
      "0 99 * * * x\n"
      "# heartlock: bogus=1 ttl=zz\n"
      "@daily y\n"
      "bad line\n"
      "# heartlock: name=z\n");
  ASSERT_EQ(errors.size(), 5u);
  EXPECT_TRUE(has_error(errors, 2, "hour field \"99\""));
  EXPECT_TRUE(has_error(errors, 3, "unknown key \"bogus\""));
  EXPECT_TRUE(has_error(errors, 3, "ttl"));
  EXPECT_TRUE(has_error(errors, 5, "too few fields"));
  EXPECT_TRUE(has_error(errors, 6, "not followed"));
  EXPECT_TRUE(std::ranges::is_sorted(errors, {}, &CrontabError::line));
}

TEST(CrontabTest, ManyErrorsAreCapped) {
  std::string text;
  for (std::size_t i = 0; i < kMaxCrontabErrors + 50; ++i) {
    text += "x\n";
  }
  auto errors = errors_of(text);
  EXPECT_EQ(errors.size(), kMaxCrontabErrors + 1);
  EXPECT_EQ(errors.back().line, 0u);
}

TEST(CrontabTest, EmptyFileHasNoJobs) {
  EXPECT_TRUE(parse_ok("").jobs.empty());
  EXPECT_TRUE(parse_ok("# nothing\n\nMAILTO=x\n").jobs.empty());
  EXPECT_EQ(find(parse_ok("# heartlock: name=n\n@daily x"), "n")->command, "x");
}

}  // namespace
}  // namespace heartlock::cli
