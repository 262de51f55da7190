// `heartlock metrics`' exposition and file writing (cli/lock_metrics.h), checked strictly.
#include "../../cli/lock_metrics.h"

#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "../../cli/cron_metrics.h"
#include "../support/prometheus_check.h"
#include "../support/test_support.h"

namespace heartlock::cli {
namespace {

using namespace std::chrono_literals;
using testing::HasErrc;
using testing::IsOk;

const std::chrono::system_clock::time_point kNow{1'700'000'000s};

LockInfo held(std::string name) {
  Holder h{.owner = "web-1:42:abc", .host = "web-1", .pid = 42, .token = 7, .since = kNow - 90s};
  h.heartbeat_age = 1500ms;
  return LockInfo{.name = std::move(name), .state = LockState::held, .holder = std::move(h)};
}

std::string exposition_problems(const std::string& text) {
  std::string out;
  for (const std::string& p : testing::parse_exposition(text).problems) {
    out += p + "\n";
  }
  return out;
}

TEST(LockMetricsTest, RendersASmallCaseExactly) {
  LockInfo free_lock{.name = "a/free", .state = LockState::free, .holder = held("").holder};
  LockInfo foreign{.name = "by-flock", .state = LockState::held, .holder = Holder{.pid = 99}};
  foreign.holder->foreign = true;
  LockInfo dead = held("gone");
  dead.state = LockState::dead;
  const std::vector<LockInfo> locks = {held("nightly"), free_lock, foreign, dead};
  EXPECT_EQ(render_lock_metrics(&locks, "file:///run/lock/heartlock", kNow),
            R"(# HELP heartlock_store_up 1 if the lock store answered, else 0.
# TYPE heartlock_store_up gauge
heartlock_store_up{backend="file:///run/lock/heartlock"} 1
# HELP heartlock_locks Locks reported.
# TYPE heartlock_locks gauge
heartlock_locks{backend="file:///run/lock/heartlock"} 4
# HELP heartlock_lock_state Always 1; the state label is the lock's state, host and pid its holder's.
# TYPE heartlock_lock_state gauge
heartlock_lock_state{name="a/free",backend="file:///run/lock/heartlock",state="free"} 1
heartlock_lock_state{name="by-flock",backend="file:///run/lock/heartlock",state="held",pid="99"} 1
heartlock_lock_state{name="gone",backend="file:///run/lock/heartlock",state="dead",host="web-1",pid="42"} 1
heartlock_lock_state{name="nightly",backend="file:///run/lock/heartlock",state="held",host="web-1",pid="42"} 1
# HELP heartlock_lock_holder_age_seconds How long the holder has had the lock.
# TYPE heartlock_lock_holder_age_seconds gauge
heartlock_lock_holder_age_seconds{name="nightly",backend="file:///run/lock/heartlock"} 90
# HELP heartlock_lock_heartbeat_age_seconds Age of the holder's last heartbeat.
# TYPE heartlock_lock_heartbeat_age_seconds gauge
heartlock_lock_heartbeat_age_seconds{name="nightly",backend="file:///run/lock/heartlock"} 1.5
# HELP heartlock_lock_token Fencing token of the lock's current or last holder.
# TYPE heartlock_lock_token gauge
heartlock_lock_token{name="a/free",backend="file:///run/lock/heartlock"} 7
heartlock_lock_token{name="gone",backend="file:///run/lock/heartlock"} 7
heartlock_lock_token{name="nightly",backend="file:///run/lock/heartlock"} 7
)");
}

TEST(LockMetricsTest, AStoreThatDidNotAnswerIsStoreUpZeroAndNothingElse) {
  const std::string text = render_lock_metrics(nullptr, "redis://127.0.0.1:6379", kNow);
  EXPECT_EQ(text, R"(# HELP heartlock_store_up 1 if the lock store answered, else 0.
# TYPE heartlock_store_up gauge
heartlock_store_up{backend="redis://127.0.0.1:6379"} 0
)");
  EXPECT_EQ(exposition_problems(text), "");
}

// Names found on a server (written by another tool) and hosts from holder records may hold any
// bytes: each must come back from the labels as it was (invalid UTF-8 as U+FFFD), and the
// exposition stay valid.
TEST(LockMetricsTest, HostileNamesStayInsideTheirLabel) {
  const std::vector<std::string> names = {"say \"hi\"",         "back\\slash\\", "two\nlines",
                                          "} 1\nfake_metric 2", "# HELP x y",    "bad\xff utf8\xc3",
                                          "tab\tand\rcr",       "ünïcode ✓",     "x\",evil=\"1"};
  std::vector<LockInfo> locks;
  for (const std::string& name : names) {
    locks.push_back(held(name));
    locks.back().holder->host = name;  // hosts come from records, as hostile as names
  }
  const std::string text = render_lock_metrics(&locks, "file:///x", kNow);
  const auto parsed = testing::parse_exposition(text);
  EXPECT_EQ(exposition_problems(text), "") << text;
  EXPECT_EQ(parsed.find("fake_metric").size(), 0U);
  for (std::string name : names) {
    if (name.starts_with("bad")) {
      name = "bad\xef\xbf\xbd utf8\xef\xbf\xbd";
    }
    EXPECT_EQ(parsed.find("heartlock_lock_state", {{"name", name}, {"host", name}}).size(), 1U)
        << name;
    EXPECT_EQ(parsed.find("heartlock_lock_token", {{"name", name}}).size(), 1U) << name;
  }
  for (const auto& s : parsed.find("heartlock_lock_state")) {
    EXPECT_FALSE(s.labels.contains("evil"));
  }
}

TEST(LockMetricsTest, ANameAskedForTwiceIsOneSeries) {
  const std::vector<LockInfo> locks = {held("b"), held("a"), held("b")};
  const std::string text = render_lock_metrics(&locks, "file:///x", kNow);
  EXPECT_EQ(exposition_problems(text), "") << text;
  EXPECT_EQ(testing::parse_exposition(text).find("heartlock_lock_state").size(), 2U);
  EXPECT_NE(text.find("heartlock_locks{backend=\"file:///x\"} 2\n"), std::string::npos);
}

// The checker itself: it passes the cron daemon's exposition and catches what it should.
TEST(LockMetricsTest, TheStrictCheckerKnowsGoodFromBad) {
  CronMetrics cron("1", [] { return kNow; });
  cron.set_jobs({"j"});
  cron.lateness("j", 20ms);
  EXPECT_EQ(exposition_problems(cron.render()), "");
  const std::string head = "# HELP m h\n# TYPE m gauge\n";
  EXPECT_EQ(exposition_problems(head + "m{a=\"1\"} 1\n"), "");
  for (const std::string bad :
       {"m{a=\"1\"} 1", "m{a=\"\\x\"} 1\n", "m{a=\"1\",a=\"2\"} 1\n", "m{a=\"1\"} one\n",
        "m{a=\"1\"} 1 17000\n", "m{__a=\"1\"} 1\n", "m{a=\"1\"} 1\nm{a=\"1\"} 2\n", "n 1\n",
        "m 1\n\n", "m{a=\"\xff\"} 1\n", "m{a=\"1} 1\n", "m 1\n# TYPE m gauge\n"}) {
    EXPECT_NE(exposition_problems(head + bad), "") << bad;
  }
}

TEST(WriteFileAtomicallyTest, ReplacesTheFileWholeWithTheUmasksMode) {
  testing::TempDir dir;
  const std::string path = dir.file("heartlock.prom");
  ASSERT_THAT(write_file_atomically(path, "old\n"), IsOk());
  const mode_t old_mask = ::umask(022);
  auto written = write_file_atomically(path, "new\n");
  ::umask(old_mask);
  ASSERT_THAT(written, IsOk());
  std::ifstream in(path);
  std::stringstream content;
  content << in.rdbuf();
  EXPECT_EQ(content.str(), "new\n");
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644U);
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    files.push_back(entry.path().filename().string());
  }
  EXPECT_EQ(files, std::vector<std::string>{"heartlock.prom"});  // no temporary file left
}

TEST(WriteFileAtomicallyTest, AMissingDirectoryIsAnErrorNamingThePath) {
  testing::TempDir dir;
  const std::string path = dir.file("no/such/dir/heartlock.prom");
  auto written = write_file_atomically(path, "x\n");
  ASSERT_THAT(written, HasErrc(Errc::unavailable));
  EXPECT_NE(written.error().message.find(path), std::string::npos) << written.error().message;
}

}  // namespace
}  // namespace heartlock::cli
