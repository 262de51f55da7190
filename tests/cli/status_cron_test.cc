// The cron section of `heartlock status`, run as a user would, over a file store whose run ledger
// is seeded with record_run.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "heartlock/heartlock.h"

#include "../support/test_support.h"

namespace heartlock {
namespace {

using namespace std::chrono_literals;
using testing::CommandResult;
using testing::IsOk;

// 2026-03-29T01:00:00Z: fixed slots make the text checkable; the records are written with a
// retention long enough to keep them.
constexpr std::chrono::sys_seconds kSlot{std::chrono::sys_days{std::chrono::year{2026} / 3 / 29} +
                                         1h};
constexpr std::chrono::seconds kKeep{100LL * 365 * 24 * 3600};
constexpr const char* kDefA = "0123456789abcdef";
constexpr const char* kDefB = "fedcba9876543210";

class StatusCronTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = Store::open("file://" + locks());
    ASSERT_THAT(store, IsOk());
    store_ = std::move(*store);
  }

  CommandResult run(std::vector<std::string> args) {
    args.insert(args.begin(), testing::heartlock_binary());
    return testing::run_command(args, {{"HEARTLOCK_DIR", locks()}});
  }
  std::string locks() const { return dir_.path() + "/locks"; }

  void seed(const RunRecord& r) { ASSERT_THAT(record_run(*store_, r, kKeep), IsOk()); }
  static RunRecord done(std::string job, std::chrono::sys_seconds slot, std::string host,
                        std::string definition) {
    RunRecord r{.job = std::move(job), .slot = slot, .state = RunState::done};
    r.host = std::move(host);
    r.pid = 4242;
    r.started = RunRecord::time_point(slot + 1250ms);
    r.ended = RunRecord::time_point(slot + 91250ms);
    r.exit_code = 0;
    r.lateness = 1250ms;
    r.attempts = 1;
    r.definition = std::move(definition);
    return r;
  }
  // A running entry of this process, fenced by `lease`'s token.
  static RunRecord running(std::string job, std::chrono::sys_seconds slot, const Lease& lease) {
    RunRecord r{.job = std::move(job), .slot = slot, .state = RunState::running};
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    r.host = host;
    r.pid = ::getpid();
    r.started = RunRecord::time_point(slot);
    r.token = lease.token();
    r.definition = kDefA;
    return r;
  }

  std::string crontab(const std::string& text) {
    const std::string path = dir_.path() + "/crontab";
    std::ofstream(path) << text;
    return path;
  }

  // The line of `text` that starts with `prefix`, or "".
  static std::string line_of(const std::string& text, const std::string& prefix) {
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
      if (line.starts_with(prefix)) {
        return line;
      }
    }
    return "";
  }

  // The cron section's row of `job` (the lock table above it may have a row of that name too).
  static std::string cron_row(const std::string& text, const std::string& job) {
    const auto section = text.find("\nCRON JOB");
    return section == std::string::npos ? "" : line_of(text.substr(section + 1), job + " ");
  }

  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(StatusCronTest, NoLedgerEntriesLeaveTheOutputAsItWas) {
  ASSERT_EQ(run({"run", "-k", "plain", "--", "true"}).exit_code, 0);
  auto r = run({"status"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("plain"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("CRON JOB"), std::string::npos) << r.out;
  auto all = nlohmann::json::parse(run({"status", "--json"}).out);
  ASSERT_TRUE(all.is_array()) << all.dump();
  EXPECT_EQ(all.size(), 1U);
  auto one = nlohmann::json::parse(run({"status", "--json", "plain"}).out);
  EXPECT_EQ(one["name"], "plain");
  EXPECT_FALSE(one.contains("cron"));
}

TEST_F(StatusCronTest, ShowsTheLastRunOfEachJob) {
  seed(done("backup", kSlot, "web-1", kDefA));
  RunRecord failed = done("backup", kSlot + 1h, "web-2", kDefA);
  failed.state = RunState::failed;
  failed.exit_code.reset();
  failed.signal = 9;
  seed(failed);
  seed(done("report", kSlot, "web-1", kDefB));
  auto r = run({"status"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("no locks in"), std::string::npos) << r.out;
  const std::string header = line_of(r.out, "CRON JOB");
  for (const char* column : {"LAST SLOT", "STATE", "HOST:PID", "EXIT", "DURATION", "RUNNING"}) {
    EXPECT_NE(header.find(column), std::string::npos) << column << " in " << header;
  }
  EXPECT_EQ(header.find("NEXT SLOT"), std::string::npos) << "only with --crontab";
  const std::string backup = cron_row(r.out, "backup");
  for (const char* cell : {"2026-03-29T02:00:00Z", "failed", "web-2:4242", "SIGKILL", "1m30s"}) {
    EXPECT_NE(backup.find(cell), std::string::npos) << cell << " in " << backup;
  }
  const std::string report = cron_row(r.out, "report");
  for (const char* cell : {"2026-03-29T01:00:00Z", "done", "web-1:4242", " 0 "}) {
    EXPECT_NE(report.find(cell), std::string::npos) << cell << " in " << report;
  }
  EXPECT_EQ(r.out.find("different versions"), std::string::npos) << "one definition per job";
}

TEST_F(StatusCronTest, WarnsWhenHostsRunDifferentDefinitions) {
  seed(done("backup", kSlot, "web-1", kDefA));
  seed(done("backup", kSlot + 1h, "web-3", kDefB));
  seed(done("backup", kSlot + 2h, "web-2", kDefA));
  seed(done("report", kSlot, "web-3", kDefB));
  auto r = run({"status"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string warning = line_of(r.out, "warning: job backup");
  EXPECT_NE(warning.find("hosts run different versions of this job"), std::string::npos) << r.out;
  EXPECT_NE(warning.find(std::string("definition ") + kDefA + " on web-1, web-2"),
            std::string::npos)
      << warning;
  EXPECT_NE(warning.find(std::string("definition ") + kDefB + " on web-3"), std::string::npos)
      << warning;
  EXPECT_EQ(line_of(r.out, "warning: job report"), "");

  // Without --cron the JSON stays the array of locks that scripts read.
  EXPECT_TRUE(nlohmann::json::parse(run({"status", "--json"}).out).is_array());
  auto j = nlohmann::json::parse(run({"status", "--cron", "--json"}).out);
  ASSERT_TRUE(j["cron"].is_array()) << j.dump();
  ASSERT_EQ(j["cron"].size(), 2U);
  const auto& backup = j["cron"][0];
  EXPECT_EQ(backup["job"], "backup");
  EXPECT_EQ(backup["mixed_definitions"], true);
  ASSERT_EQ(backup["definitions"].size(), 2U);
  EXPECT_EQ(backup["definitions"][0]["definition"], kDefA);  // newest first
  EXPECT_EQ(backup["definitions"][0]["hosts"], nlohmann::json({"web-1", "web-2"}));
  EXPECT_EQ(backup["definitions"][0]["latest_slot"], "2026-03-29T03:00:00Z");
  EXPECT_EQ(backup["definitions"][1]["hosts"], nlohmann::json({"web-3"}));
  EXPECT_EQ(j["cron"][1]["mixed_definitions"], false);
}

TEST_F(StatusCronTest, ARunInProgressHoldsItsLock) {
  auto forbid = store_->try_acquire("backup", {.ttl = 30s});
  ASSERT_TRUE(forbid && forbid->acquired());
  Lease backup_lease = std::move(*forbid).lease();
  seed(running("backup", kSlot, backup_lease));
  // concurrency=allow: the run holds JOB@runN.
  auto allow = store_->try_acquire("poll@run2", {.ttl = 30s});
  ASSERT_TRUE(allow && allow->acquired());
  Lease poll_lease = std::move(*allow).lease();
  seed(running("poll", kSlot, poll_lease));
  // Its host died mid-run: the entry says running, nobody holds the lease.
  RunRecord orphan = running("report", kSlot, backup_lease);
  orphan.pid = 1;
  seed(orphan);

  auto r = run({"status"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(cron_row(r.out, "backup").find("running"), std::string::npos) << r.out;
  EXPECT_TRUE(cron_row(r.out, "backup").ends_with("yes")) << r.out;
  EXPECT_TRUE(cron_row(r.out, "poll").ends_with("yes")) << r.out;
  EXPECT_TRUE(cron_row(r.out, "report").ends_with("no: lease not held")) << r.out;

  auto j = nlohmann::json::parse(run({"status", "--cron", "--json"}).out);
  ASSERT_EQ(j["cron"].size(), 3U) << j.dump();
  EXPECT_EQ(j["cron"][0]["in_progress"], true);
  EXPECT_EQ(j["cron"][0]["running"][0]["lock"], "backup");
  EXPECT_EQ(j["cron"][0]["running"][0]["lock_state"], "held");
  EXPECT_EQ(j["cron"][1]["running"][0]["lock"], "poll@run2");
  EXPECT_EQ(j["cron"][2]["in_progress"], false);
  EXPECT_EQ(j["cron"][2]["stale_running"], true);
  // One lock asked for: it is inspected, not listed.
  auto one = nlohmann::json::parse(run({"status", "--cron", "--json", "poll"}).out);
  EXPECT_EQ(one["state"], "free");
  ASSERT_EQ(one["cron"].size(), 1U) << one.dump();
  EXPECT_EQ(one["cron"][0]["in_progress"], true);

  ASSERT_THAT(backup_lease.release(), IsOk());
  auto after = nlohmann::json::parse(run({"status", "--cron", "--json"}).out);
  EXPECT_EQ(after["cron"][0]["in_progress"], false);
  EXPECT_EQ(after["cron"][0]["stale_running"], true);
}

TEST_F(StatusCronTest, ACrontabAddsNextSlotsAndComparesDefinitions) {
  const std::string tab = crontab(
      "CRON_TZ=UTC\n"
      "# heartlock: name=backup\n"
      "0 2 * * * /usr/local/bin/backup\n"
      "# heartlock: name=fresh\n"
      "*/5 * * * * /usr/local/bin/fresh\n");
  seed(done("backup", kSlot, "web-1", kDefA));
  seed(done("retired", kSlot, "web-1", kDefA));
  auto first = run({"status", "--json", "--crontab", tab});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  auto j = nlohmann::json::parse(first.out);
  ASSERT_EQ(j["cron"].size(), 3U) << j.dump();
  const auto& backup = j["cron"][0];
  EXPECT_EQ(backup["job"], "backup");
  EXPECT_EQ(backup["crontab"], "differs");
  const std::string def = backup["crontab_definition"].get<std::string>();
  EXPECT_EQ(def.size(), 16U);
  // The next 02:00 UTC after now.
  const auto now = std::chrono::system_clock::now();
  auto next = std::chrono::floor<std::chrono::days>(now) + 2h;
  if (next <= now) {
    next += std::chrono::days(1);
  }
  const std::chrono::year_month_day day(std::chrono::floor<std::chrono::days>(next));
  char want[32];
  std::snprintf(want, sizeof want, "%04d-%02u-%02uT02:00:00Z", static_cast<int>(day.year()),
                static_cast<unsigned>(day.month()), static_cast<unsigned>(day.day()));
  EXPECT_EQ(backup["next_slot"], want);
  EXPECT_EQ(j["cron"][1]["job"], "fresh");
  EXPECT_EQ(j["cron"][1]["crontab"], "no runs");
  EXPECT_TRUE(j["cron"][1]["last_run"].is_null());
  EXPECT_FALSE(j["cron"][1]["next_slot"].is_null());
  EXPECT_EQ(j["cron"][2]["crontab"], "not in file");
  EXPECT_TRUE(j["cron"][2]["next_slot"].is_null());

  // The hosts now run the file's definition.
  seed(done("backup", kSlot + 24h, "web-1", def));
  auto r = run({"status", "--crontab", tab});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string header = line_of(r.out, "CRON JOB");
  EXPECT_NE(header.find("NEXT SLOT"), std::string::npos) << header;
  EXPECT_NE(header.find("CRONTAB"), std::string::npos) << header;
  EXPECT_TRUE(cron_row(r.out, "backup").ends_with("same")) << r.out;
  EXPECT_TRUE(cron_row(r.out, "fresh").ends_with("no runs")) << r.out;
  EXPECT_TRUE(cron_row(r.out, "retired").ends_with("not in file")) << r.out;
  // Two definitions among backup's recent entries: the fencing warning too.
  EXPECT_NE(line_of(r.out, "warning: job backup").find(def), std::string::npos) << r.out;
}

TEST_F(StatusCronTest, JsonWithoutCrontabHasEveryKey) {
  seed(done("backup", kSlot, "web-1", kDefA));
  auto r = run({"--json", "status", "--cron"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_TRUE(j.is_object()) << j.dump();
  EXPECT_TRUE(j["locks"].is_array());
  ASSERT_EQ(j["cron"].size(), 1U);
  const auto& c = j["cron"][0];
  for (const char* key :
       {"job", "last_run", "in_progress", "running", "stale_running", "mixed_definitions",
        "definitions", "next_slot", "crontab", "crontab_definition"}) {
    EXPECT_TRUE(c.contains(key)) << key;
  }
  EXPECT_EQ(c["last_run"]["slot"], "2026-03-29T01:00:00Z");
  EXPECT_EQ(c["last_run"]["state"], "done");
  EXPECT_EQ(c["last_run"]["duration_ms"], 90000);
  EXPECT_TRUE(c["next_slot"].is_null());
  EXPECT_TRUE(c["crontab"].is_null());
}

TEST_F(StatusCronTest, AnUnreadableEntryIsShownNotFatal) {
  ASSERT_THAT(store_->put_run_record("backup", kSlot, "garbage\x1b]0;evil\x07", kKeep), IsOk());
  auto r = run({"status"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(cron_row(r.out, "backup").find("failed"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos);
}

TEST_F(StatusCronTest, ABadCrontabIsAUsageError) {
  EXPECT_EQ(run({"status", "--crontab", dir_.path() + "/nonexistent"}).exit_code, 66);
  auto bad = run({"status", "--crontab", crontab("not a crontab line\n")});
  EXPECT_EQ(bad.exit_code, 64);
  EXPECT_NE(bad.err.find("crontab:1:"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace heartlock
