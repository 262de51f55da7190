// `heartlock history`, run as a user would, over a file store seeded with record_run.
#include <chrono>
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

// 2026-03-29T01:00:00Z: an hour before now would do, but a fixed slot makes the text checkable;
// the records are written with a retention long enough to keep it.
constexpr std::chrono::sys_seconds kSlot{std::chrono::sys_days{std::chrono::year{2026} / 3 / 29} +
                                         1h};
constexpr std::chrono::seconds kKeep{100LL * 365 * 24 * 3600};

class HistoryCliTest : public ::testing::Test {
 protected:
  CommandResult run(std::vector<std::string> args) {
    args.insert(args.begin(), testing::heartlock_binary());
    return testing::run_command(args, {{"HEARTLOCK_DIR", locks()}});
  }
  std::string locks() const { return dir_.path() + "/locks"; }

  void seed(const RunRecord& r) {
    auto store = Store::open("file://" + locks());
    ASSERT_THAT(store, IsOk());
    ASSERT_THAT(record_run(**store, r, kKeep), IsOk());
  }
  static RunRecord done(std::string job, std::chrono::sys_seconds slot) {
    RunRecord r{.job = std::move(job), .slot = slot, .state = RunState::done};
    r.host = "web-1";
    r.pid = 4242;
    r.started = RunRecord::time_point(slot + 1250ms);
    r.ended = RunRecord::time_point(slot + 91250ms);
    r.exit_code = 0;
    r.lateness = 1250ms;
    r.attempts = 1;
    r.definition = "0123456789abcdef0123";
    return r;
  }

  // The lines of `text`.
  static std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
      out.push_back(line);
    }
    return out;
  }

  testing::TempDir dir_;
};

TEST_F(HistoryCliTest, AnEmptyLedgerSaysSo) {
  auto r = run({"history"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("no runs recorded"), std::string::npos) << r.out;
  auto j = run({"history", "--json"});
  EXPECT_EQ(j.exit_code, 0) << j.err;
  EXPECT_EQ(nlohmann::json::parse(j.out), nlohmann::json::array());
}

TEST_F(HistoryCliTest, ATableOfEveryJobNewestFirst) {
  seed(done("backup", kSlot));
  RunRecord failed{.job = "report", .slot = kSlot + 1h, .state = RunState::failed};
  failed.host = "web-2";
  failed.pid = 7;
  failed.started = RunRecord::time_point(kSlot + 1h);
  failed.ended = RunRecord::time_point(kSlot + 1h + 5s);
  failed.signal = 9;
  failed.attempts = 3;
  failed.detail = "killed\x1b]0;evil\x07";
  seed(failed);
  auto r = run({"history"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto out = lines(r.out);
  ASSERT_EQ(out.size(), 3U) << r.out;
  EXPECT_TRUE(out[0].starts_with("JOB")) << out[0];
  for (const char* column : {"SLOT", "STATE", "HOST:PID", "STARTED", "DURATION", "EXIT", "LATE",
                             "TRIES", "DEFINITION", "DETAIL"}) {
    EXPECT_NE(out[0].find(column), std::string::npos) << column;
  }
  EXPECT_TRUE(out[1].starts_with("report")) << out[1];
  for (const char* cell : {"2026-03-29T02:00:00Z", "failed", "web-2:7", "5s", "SIGKILL", " 3 "}) {
    EXPECT_NE(out[1].find(cell), std::string::npos) << cell << " in " << out[1];
  }
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << "escape sequences are escaped";
  EXPECT_TRUE(out[2].starts_with("backup")) << out[2];
  for (const char* cell : {"2026-03-29T01:00:00Z", "done", "web-1:4242", "2026-03-29T01:00:01.250Z",
                           "1m30s", "1.2s", "0123456789abcdef "}) {
    EXPECT_NE(out[2].find(cell), std::string::npos) << cell << " in " << out[2];
  }
}

TEST_F(HistoryCliTest, OneJobAndALimit) {
  for (int i = 0; i < 5; ++i) {
    seed(done("backup", kSlot + std::chrono::minutes(i)));
    seed(done("other", kSlot + std::chrono::minutes(i)));
  }
  auto r = run({"history", "backup", "-n", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto out = lines(r.out);
  ASSERT_EQ(out.size(), 3U) << r.out;
  EXPECT_NE(out[1].find("backup  2026-03-29T01:04:00Z"), std::string::npos) << out[1];
  EXPECT_NE(out[2].find("backup  2026-03-29T01:03:00Z"), std::string::npos) << out[2];
  // The default limit is 20.
  for (int i = 5; i < 25; ++i) {
    seed(done("backup", kSlot + std::chrono::minutes(i)));
  }
  EXPECT_EQ(lines(run({"history"}).out).size(), 21U);
}

TEST_F(HistoryCliTest, JsonIsOneArrayWithEveryField) {
  RunRecord r = done("backup", kSlot);
  r.token = 17;
  seed(r);
  RunRecord running{.job = "backup", .slot = kSlot + 1h, .state = RunState::running};
  running.started = RunRecord::time_point(kSlot + 1h);
  seed(running);
  auto out = run({"history", "--json"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  auto j = nlohmann::json::parse(out.out);
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 2U);
  EXPECT_EQ(j[0]["state"], "running");
  EXPECT_TRUE(j[0]["ended"].is_null());
  EXPECT_TRUE(j[0]["duration_ms"].is_null());
  EXPECT_TRUE(j[0]["exit_code"].is_null());
  EXPECT_TRUE(j[0]["signal"].is_null());
  const auto& d = j[1];
  EXPECT_EQ(d["job"], "backup");
  EXPECT_EQ(d["slot"], "2026-03-29T01:00:00Z");
  EXPECT_EQ(d["state"], "done");
  EXPECT_EQ(d["host"], "web-1");
  EXPECT_EQ(d["pid"], 4242);
  EXPECT_EQ(d["started"], "2026-03-29T01:00:01.250Z");
  EXPECT_EQ(d["ended"], "2026-03-29T01:01:31.250Z");
  EXPECT_EQ(d["duration_ms"], 90000);
  EXPECT_EQ(d["exit_code"], 0);
  EXPECT_TRUE(d["signal"].is_null());
  EXPECT_TRUE(d["signal_name"].is_null());
  EXPECT_EQ(d["lateness_ms"], 1250);
  EXPECT_EQ(d["attempts"], 1);
  EXPECT_EQ(d["token"], 17);
  EXPECT_EQ(d["definition"], "0123456789abcdef0123");
  EXPECT_EQ(d["detail"], "");
}

TEST_F(HistoryCliTest, AnUnreadableEntryIsShownAsFailed) {
  auto store = Store::open("file://" + locks());
  ASSERT_THAT(store, IsOk());
  ASSERT_THAT((*store)->put_run_record("backup", kSlot, "garbage", kKeep), IsOk());
  auto r = run({"history", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j.size(), 1U);
  EXPECT_EQ(j[0]["state"], "failed");
  EXPECT_NE(j[0]["detail"].get<std::string>().find("unreadable"), std::string::npos);
}

TEST_F(HistoryCliTest, ErrorsUseTheUsualExitCodes) {
  auto bad_name = run({"history", std::string(kMaxNameLength + 1, 'j')});
  EXPECT_EQ(bad_name.exit_code, 64) << bad_name.err;
  auto bad_limit = run({"history", "-n", "many"});
  EXPECT_EQ(bad_limit.exit_code, 64) << bad_limit.err;
  // Nothing listens on port 1: a backend without a ledger says so, one with a ledger cannot be
  // reached; 69 either way.
  auto unavailable = run({"-b", "redis://127.0.0.1:1", "history"});
  EXPECT_EQ(unavailable.exit_code, 69) << unavailable.err;
  EXPECT_NE(unavailable.err.find("127.0.0.1:1"), std::string::npos) << unavailable.err;
}

}  // namespace
}  // namespace heartlock
