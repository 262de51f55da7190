// `heartlock cronlock` and the binary called as `cronlock`, against a real redis-server: exit
// codes, keys, config files, RESET, and mutual exclusion with a process that follows cronlock's
// own SETNX/GET/GETSET algorithm on the same key.
#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <gtest/gtest.h>

#include "../support/redis_server.h"
#include "../support/test_support.h"

namespace heartlock {
namespace {

using namespace std::chrono_literals;
using testing::CommandResult;
using testing::run_command;

class CronlockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_symlink(testing::heartlock_binary(), dir_.file("cronlock"));
  }

  std::map<std::string, std::string> env(std::map<std::string, std::string> extra = {}) {
    std::map<std::string, std::string> e = {
        {"CRONLOCK_HOST", "127.0.0.1"},
        {"CRONLOCK_PORT", std::to_string(server_.port())},
        {"CRONLOCK_GRACE", "0"},
        {"CRONLOCK_RECONNECT_ATTEMPTS", "0"},
    };
    for (auto& [k, v] : extra) {
      e[k] = v;
    }
    return e;
  }
  // Runs `cronlock ARGS...` through the symlink.
  CommandResult cronlock(std::vector<std::string> args,
                         std::map<std::string, std::string> extra = {}) {
    args.insert(args.begin(), dir_.file("cronlock"));
    return run_command(args, env(std::move(extra)));
  }
  std::string redis(std::vector<std::string> args) {
    args.insert(args.begin(), {"redis-cli", "-p", std::to_string(server_.port())});
    auto r = run_command(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    while (!r.out.empty() && r.out.back() == '\n') {
      r.out.pop_back();
    }
    return r.out;
  }
  static long long now() { return static_cast<long long>(std::time(nullptr)); }

  testing::TempDir dir_;
  testing::RedisServer server_;
};

TEST_F(CronlockTest, PassesTheCommandsExitCode) {
  EXPECT_EQ(cronlock({"true"}).exit_code, 0);
  EXPECT_EQ(cronlock({"sh", "-c", "exit 3"}).exit_code, 3);
  auto r =
      run_command({testing::heartlock_binary(), "cronlock", "--", "sh", "-c", "exit 4"}, env());
  EXPECT_EQ(r.exit_code, 4) << r.err;
}

TEST_F(CronlockTest, HeldIs200AndTheKeyIsCronlocks) {
  // `echo "sleep 2" | md5sum`, as cronlock computes it
  const std::string expected_md5 =
      run_command({"sh", "-c", "echo 'sleep 2' | md5sum"}).out.substr(0, 32);
  const std::string self = dir_.file("cronlock");
  auto e = env();
  auto holder = testing::Child::fork([self, e] {
    for (auto& [k, v] : e) {
      ::setenv(k.c_str(), v.c_str(), 1);
    }
    ::execl(self.c_str(), self.c_str(), "sleep", "2", static_cast<char*>(nullptr));
    return 127;
  });
  ASSERT_TRUE(testing::eventually([&] {
    return !redis({"GET", "cronlock." + expected_md5}).empty();
  }));
  // What cronlock would read: a deadline in epoch seconds, not in the past.
  long long deadline = std::stoll(redis({"GET", "cronlock." + expected_md5}));
  EXPECT_GE(deadline, now());
  EXPECT_GT(std::stoll(redis({"PTTL", "cronlock." + expected_md5})), 0) << "always a server ttl";
  auto busy = cronlock({"sleep", "2"}, {{"CRONLOCK_VERBOSE", "yes"}});
  EXPECT_EQ(busy.exit_code, 200);
  EXPECT_NE(busy.err.find("busy"), std::string::npos) << busy.err;
  EXPECT_EQ(holder.exit_code(), 0);
}

TEST_F(CronlockTest, AKeyCronlockHoldsIsRespectedUntilItsDeadline) {
  const std::string key = "cronlock.nightly";
  redis({"SET", key, std::to_string(now() + 100)});
  auto r = cronlock({"true"}, {{"CRONLOCK_KEY", "nightly"}, {"CRONLOCK_VERBOSE", "yes"}});
  EXPECT_EQ(r.exit_code, 200);
  EXPECT_NE(r.err.find("cronlock"), std::string::npos) << r.err;

  // Expired: taken over, and while heartlock holds it cronlock reads a future deadline.
  redis({"SET", key, std::to_string(now() - 5)});
  r = cronlock({"redis-cli", "-p", std::to_string(server_.port()), "GET", key},
               {{"CRONLOCK_KEY", "nightly"}});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GE(std::stoll(r.out), now());
  // GRACE=0: gone after the job.
  EXPECT_EQ(redis({"EXISTS", key}), "0");
}

TEST_F(CronlockTest, GraceLeavesADeadlineCronlockHonours) {
  auto r = cronlock({"true"}, {{"CRONLOCK_KEY", "g"}, {"CRONLOCK_GRACE", "30"}});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  long long deadline = std::stoll(redis({"GET", "cronlock.g"}));
  EXPECT_GE(deadline, now() + 28);
  EXPECT_LE(deadline, now() + 31);
  EXPECT_EQ(cronlock({"true"}, {{"CRONLOCK_KEY", "g"}}).exit_code, 200);
}

// The scripts hand Redis times and deadlines as strings they format themselves: every stored value
// must be the exact integer, and each key's server expiry exactly the instant the deadline ends.
// A width-limited format (Lua 5.1's '%d' is a C long, 32 bits on a 32-bit server) once stored a
// saturated PXAT, a key already expired: the acquire succeeded and nothing was held.
TEST_F(CronlockTest, StoredDeadlinesAndTimesAreExactIntegers) {
  const std::string key = "cronlock.exact";
  std::ofstream(dir_.file("read.redis"))
      << "MULTI\nGET " << key << "\nPEXPIRETIME " << key << "\nPEXPIRETIME " << key
      << ":heartlock\nHMGET " << key
      << ":heartlock deadline_s acquired_ms renewed_ms ttl_ms\nEXEC\n";
  const std::string read = "redis-cli -p " + std::to_string(server_.port()) + " --raw < " +
                           dir_.file("read.redis") + " | grep -v -x -e OK -e QUEUED";
  const long long before_ms = now() * 1000;
  auto held = cronlock({"sh", "-c", read}, {{"CRONLOCK_KEY", "exact"}, {"CRONLOCK_GRACE", "30"}});
  const long long after_ms = (now() + 1) * 1000;
  ASSERT_EQ(held.exit_code, 0) << held.err;
  std::istringstream lines(held.out);
  std::vector<std::string> v;
  for (std::string line; std::getline(lines, line);) {
    ASSERT_FALSE(line.empty() || line.find_first_not_of("0123456789") != std::string::npos)
        << "not a plain integer: '" << line << "' in\n"
        << held.out;
    v.push_back(line);
  }
  ASSERT_EQ(v.size(), 7u) << held.out;
  const long long deadline = std::stoll(v[0]);
  EXPECT_EQ(std::stoll(v[1]), (deadline + 1) * 1000) << "the key expires when cronlock frees it";
  EXPECT_EQ(std::stoll(v[2]), (deadline + 1) * 1000) << "the owner record expires with it";
  EXPECT_EQ(v[3], v[0]) << "the record names the deadline heartlock wrote";
  EXPECT_GE(std::stoll(v[4]), before_ms);
  EXPECT_LE(std::stoll(v[4]), after_ms);
  EXPECT_GE(std::stoll(v[5]), std::stoll(v[4]));
  EXPECT_EQ(deadline, (std::stoll(v[5]) + std::stoll(v[6])) / 1000) << held.out;

  // Released with GRACE: the deadline left and its expiry are exact too.
  const long long graced = std::stoll(redis({"GET", key}));
  EXPECT_GE(graced, now() + 28);
  EXPECT_LE(graced, now() + 31);
  EXPECT_EQ(std::stoll(redis({"PEXPIRETIME", key})), (graced + 1) * 1000);
  EXPECT_EQ(redis({"HGET", key + ":heartlock", "deadline_s"}), std::to_string(graced));
}

TEST_F(CronlockTest, TimeoutIs202AndStopsTheCommand) {
  auto r = cronlock({"sleep", "30"}, {{"CRONLOCK_TIMEOUT", "1"}});
  EXPECT_EQ(r.exit_code, 202) << r.err;
}

TEST_F(CronlockTest, ErrorsAre201WithAClearMessage) {
  auto bad = cronlock({"true"}, {{"CRONLOCK_GRACE", "forty"}});
  EXPECT_EQ(bad.exit_code, 201);
  EXPECT_NE(bad.err.find("CRONLOCK_GRACE='forty'"), std::string::npos) << bad.err;

  testing::RedisServer gone;
  std::string port = std::to_string(gone.port());
  gone.kill();
  auto down = cronlock({"true"}, {{"CRONLOCK_PORT", port}});
  EXPECT_EQ(down.exit_code, 201);
  EXPECT_NE(down.err.find("127.0.0.1:" + port), std::string::npos) << down.err;

  auto usage = cronlock({});
  EXPECT_EQ(usage.exit_code, 201);

  std::ofstream(dir_.file("bad.conf")) << "CRONLOCK_HOST=$(touch " << dir_.file("pwned") << ")\n";
  auto conf = cronlock({"true"}, {{"CRONLOCK_CONFIG", dir_.file("bad.conf")}});
  EXPECT_EQ(conf.exit_code, 201);
  EXPECT_NE(conf.err.find("line 1"), std::string::npos) << conf.err;
  EXPECT_FALSE(std::filesystem::exists(dir_.file("pwned")));

  auto missing = cronlock({"true"}, {{"CRONLOCK_CONFIG", dir_.file("nope.conf")}});
  EXPECT_EQ(missing.exit_code, 201);
  EXPECT_NE(missing.err.find("nope.conf"), std::string::npos) << missing.err;
}

// In cronlock's layout a lock name is a key, and heartlock keeps its own keys beside it
// (<key>:heartlock, <key>:heartlock:fence, ...). A name that is one of those keys once reset
// foo's fencing counter from 4 to 1; it is refused, and the counter keeps counting.
TEST_F(CronlockTest, ANameCannotBeAnotherLocksCounter) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(cronlock({"true"}, {{"CRONLOCK_KEY", "foo"}}).exit_code, 0);
  }
  EXPECT_EQ(redis({"GET", "cronlock.foo:heartlock:fence"}), "3");
  for (std::string bad : {"foo:heartlock:fence", "foo:heartlock", "x:heartlock:slot:1"}) {
    auto r = cronlock({"true"}, {{"CRONLOCK_KEY", bad}});
    EXPECT_EQ(r.exit_code, 201) << bad;
    EXPECT_NE(r.err.find(":heartlock"), std::string::npos) << r.err;
  }
  auto cli = run_command(
      {testing::heartlock_binary(), "run", "-b",
       "redis://127.0.0.1:" + std::to_string(server_.port()) + "?compat=cronlock&prefix=cronlock.",
       "-k", "foo:heartlock:fence", "--", "true"});
  EXPECT_EQ(cli.exit_code, 64) << cli.err;
  EXPECT_EQ(redis({"GET", "cronlock.foo:heartlock:fence"}), "3");
  ASSERT_EQ(cronlock({"sh", "-c", "echo $HEARTLOCK_TOKEN"}, {{"CRONLOCK_KEY", "foo"}}).out, "4\n");
}

TEST_F(CronlockTest, TheConfigFileIsRead) {
  std::ofstream(dir_.file("c.conf")) << "# settings\nCRONLOCK_KEY='from-file'\n"
                                     << "export CRONLOCK_GRACE=30\n";
  ASSERT_EQ(cronlock({"true"}, {{"CRONLOCK_CONFIG", dir_.file("c.conf")}}).exit_code, 0);
  EXPECT_NE(redis({"GET", "cronlock.from-file"}), "");
}

TEST_F(CronlockTest, ResetShowsTheOwnerAndRefusesALiveOneUnlessForced) {
  redis({"SET", "cronlock.r", std::to_string(now() + 100)});
  auto refused = cronlock({}, {{"CRONLOCK_KEY", "r"}, {"CRONLOCK_RESET", "yes"}});
  EXPECT_EQ(refused.exit_code, 201);
  EXPECT_NE(refused.out.find("held by cronlock"), std::string::npos) << refused.out;
  EXPECT_NE(refused.err.find("CRONLOCK_RESET=force"), std::string::npos) << refused.err;
  EXPECT_NE(redis({"GET", "cronlock.r"}), "");

  auto forced = cronlock({}, {{"CRONLOCK_KEY", "r"}, {"CRONLOCK_RESET", "force"}});
  EXPECT_EQ(forced.exit_code, 200) << forced.err;
  EXPECT_EQ(redis({"EXISTS", "cronlock.r"}), "0");

  auto nothing = cronlock({}, {{"CRONLOCK_KEY", "r"}, {"CRONLOCK_RESET", "yes"}});
  EXPECT_EQ(nothing.exit_code, 200);
  EXPECT_NE(nothing.out.find("nothing to release"), std::string::npos) << nothing.out;

  // A dead-but-graced heartlock lock (released, min_hold left) is not live: reset without force.
  ASSERT_EQ(cronlock({"true"}, {{"CRONLOCK_KEY", "r"}, {"CRONLOCK_GRACE", "60"}}).exit_code, 0);
  auto graced = cronlock({}, {{"CRONLOCK_KEY", "r"}, {"CRONLOCK_RESET", "yes"}});
  EXPECT_EQ(graced.exit_code, 200) << graced.err;
  EXPECT_NE(graced.out.find("pid"), std::string::npos) << graced.out;
  EXPECT_EQ(redis({"EXISTS", "cronlock.r"}), "0");
}

// Several heartlock cronlock loops and several loops of a process following cronlock's
// algorithm contend for one key; the critical section fails loudly if it is ever entered twice.
// The key frees at a second boundary and the quickest process wins it: a redis-cli loop beats
// an ASan-built heartlock every time on a loaded machine, so a loop that won rests past the
// next two boundaries, and each loop goes on past 10 s (up to 40 s) until its kind won twice.
TEST_F(CronlockTest, MutualExclusionWithCronlocksOwnAlgorithm) {
  const std::string peer = std::string(HEARTLOCK_SOURCE_DIR) + "/tests/support/cronlock_peer.sh";
  const std::string section =
      "mkdir \"$0/in\" 2>/dev/null || { echo overlap >> \"$0/violations\"; exit 0; }; "
      "echo \"$KIND\" >> \"$0/sections\"; sleep 0.3; rmdir \"$0/in\"";
  const std::string port = std::to_string(server_.port());
  auto loop = [&](const std::string& kind, const std::string& runner) {
    const std::string won =
        "$(cat " + dir_.file("sections") + " 2>/dev/null | grep -c '^" + kind + "$')";
    return "while [ $SECONDS -lt 10 ] || { [ " + won +
           " -lt 2 ] && [ $SECONDS -lt 40 ]; }; do "
           "if KIND=" +
           kind + " " + runner + " sh -c '" + section + "' " + dir_.path() +
           "; then sleep 2.2; else sleep 0.0$((RANDOM % 10)); fi; done";
  };
  const std::string heartlock_runner = "CRONLOCK_KEY=interop " + dir_.file("cronlock");
  const std::string peer_runner = peer + " " + port + " cronlock.interop 0 3";
  std::vector<testing::Child> loops;
  for (int i = 0; i < 2; ++i) {
    for (const auto& [kind, runner] :
         {std::pair{"heartlock", heartlock_runner}, std::pair{"cronlock", peer_runner}}) {
      std::string script = loop(kind, runner);
      auto e = env();
      loops.push_back(testing::Child::fork([script, e] {
        for (auto& [k, v] : e) {
          ::setenv(k.c_str(), v.c_str(), 1);
        }
        ::execlp("bash", "bash", "-c", script.c_str(), static_cast<char*>(nullptr));
        return 127;
      }));
    }
  }
  for (auto& l : loops) {
    EXPECT_EQ(l.exit_code(60s), 0);
  }
  std::ifstream sections(dir_.file("sections"));
  std::map<std::string, int> count;
  for (std::string line; std::getline(sections, line);) {
    ++count[line];
  }
  EXPECT_FALSE(std::filesystem::exists(dir_.file("violations"))) << "a section was entered twice";
  EXPECT_GT(count["heartlock"], 0);
  EXPECT_GT(count["cronlock"], 0);
  std::cout << "sections: heartlock " << count["heartlock"] << ", cronlock algorithm "
            << count["cronlock"] << "\n";
}

}  // namespace
}  // namespace heartlock
