// `heartlock metrics`, run as a cron line would, over a file store: the exposition is strictly
// valid, -o replaces the file whole, and errors have their exit codes.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "heartlock/heartlock.h"

#include "../support/prometheus_check.h"
#include "../support/test_support.h"

namespace heartlock {
namespace {

using testing::CommandResult;
using testing::IsAcquired;

class MetricsCliTest : public ::testing::Test {
 protected:
  CommandResult run(std::vector<std::string> args) {
    args.insert(args.begin(), {testing::heartlock_binary(), "-b", url()});
    return testing::run_command(args);
  }
  std::string url() const { return "file://" + dir_.path() + "/locks"; }

  static std::string problems(const std::string& text) {
    std::string out;
    for (const std::string& p : testing::parse_exposition(text).problems) {
      out += p + "\n";
    }
    return out;
  }

  testing::TempDir dir_;
};

TEST_F(MetricsCliTest, AHeldLockWithAHostileNameIsOneValidSeries) {
  auto store = testing::open_store(url());
  ASSERT_NE(store, nullptr);
  // The store refuses control characters and invalid UTF-8 in a name it writes (the unit test
  // covers names found on a server); quotes, backslashes and braces it takes.
  const std::string name = "we\"ird\\name} 1 ✓";
  auto acquired = store->try_acquire(name, {});
  ASSERT_THAT(acquired, IsAcquired());
  auto r = run({"metrics"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(problems(r.out), "") << r.out;
  const auto parsed = testing::parse_exposition(r.out);
  const std::string pid = std::to_string(::getpid());
  const auto state = parsed.find("heartlock_lock_state", {{"name", name}});
  ASSERT_EQ(state.size(), 1U) << r.out;
  EXPECT_EQ(state[0].labels.at("state"), "held");
  EXPECT_EQ(state[0].labels.at("pid"), pid);
  EXPECT_EQ(state[0].labels.at("backend"), url());
  const auto token = parsed.find("heartlock_lock_token", {{"name", name}});
  ASSERT_EQ(token.size(), 1U);
  EXPECT_EQ(token[0].value, static_cast<double>(acquired->lease().token()));
  EXPECT_EQ(parsed.find("heartlock_lock_holder_age_seconds", {{"name", name}}).size(), 1U);
  EXPECT_EQ(parsed.find("heartlock_store_up")[0].value, 1);
}

TEST_F(MetricsCliTest, NamedLocksOnlyAndAFreeOneHasNoHolder) {
  auto r = run({"metrics", "never-taken", "other"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(problems(r.out), "") << r.out;
  const auto parsed = testing::parse_exposition(r.out);
  const auto state = parsed.find("heartlock_lock_state");
  ASSERT_EQ(state.size(), 2U) << r.out;
  EXPECT_EQ(state[0].labels.at("name"), "never-taken");
  EXPECT_EQ(state[0].labels.at("state"), "free");
  EXPECT_FALSE(state[0].labels.contains("pid"));
  EXPECT_EQ(parsed.find("heartlock_lock_token").size(), 0U);
}

TEST_F(MetricsCliTest, OutputFileIsReplacedWholeAndReadable) {
  const std::string path = dir_.file("heartlock.prom");
  {
    std::ofstream old(path);
    old << "stale content, not an exposition\n";
  }
  const mode_t mask = ::umask(022);  // as cron's usual one; the file's mode follows it
  auto r = run({"metrics", "-o", path});
  ::umask(mask);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "");
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(problems(text.str()), "") << text.str();
  EXPECT_NE(text.str().find("heartlock_store_up{"), std::string::npos);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_NE(st.st_mode & S_IROTH, 0U) << "node_exporter runs as another user";
  for (const auto& entry : std::filesystem::directory_iterator(dir_.path())) {
    EXPECT_TRUE(entry.path().filename() == "heartlock.prom" || entry.path().filename() == "locks")
        << entry.path() << " left behind";
  }
}

TEST_F(MetricsCliTest, ExitCodes) {
  auto unwritable = run({"metrics", "-o", dir_.file("missing/heartlock.prom")});
  EXPECT_EQ(unwritable.exit_code, 73) << unwritable.err;
  EXPECT_NE(unwritable.err.find("missing/heartlock.prom"), std::string::npos) << unwritable.err;
  auto bad_name = run({"metrics", std::string(kMaxNameLength + 1, 'x')});
  EXPECT_EQ(bad_name.exit_code, 64) << bad_name.err;
  EXPECT_EQ(bad_name.out, "");
}

}  // namespace
}  // namespace heartlock
