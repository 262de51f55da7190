// The heartlock executable, run as a user would: exit codes, process groups, signals, output.
#include <signal.h>
#include <unistd.h>

#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "../../src/file/name_codec.h"
#include "../support/test_support.h"

namespace heartlock {
namespace {

using namespace std::chrono_literals;
using testing::Child;
using testing::CommandResult;
using testing::eventually;

class CliTest : public ::testing::Test {
 protected:
  CommandResult run(std::vector<std::string> args) {
    args.insert(args.begin(), testing::heartlock_binary());
    return testing::run_command(args, env());
  }
  std::map<std::string, std::string> env() const {
    return {{"HEARTLOCK_DIR", locks()}, {"HL", testing::heartlock_binary()}};
  }
  std::string locks() const { return dir_.path() + "/locks"; }
  std::string file(const std::string& name) const { return dir_.file(name); }

  // Starts `heartlock ARGS` in the background, in its own process group.
  Child start(std::vector<std::string> args) {
    args.insert(args.begin(), testing::heartlock_binary());
    auto vars = env();
    return Child::fork([args, vars]() -> int {
      ::setpgid(0, 0);
      for (const auto& [k, v] : vars) {
        ::setenv(k.c_str(), v.c_str(), 1);
      }
      std::vector<char*> argv;
      for (const auto& a : args) {
        argv.push_back(const_cast<char*>(a.c_str()));
      }
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      return 127;
    });
  }

  // Reads a pid a command wrote to `name`, waiting for it to appear.
  pid_t read_pid(const std::string& name) {
    pid_t pid = 0;
    eventually([&] {
      std::ifstream in(file(name));
      return static_cast<bool>(in >> pid) && pid > 0;
    });
    return pid;
  }

  testing::TempDir dir_;
};

TEST_F(CliTest, PassesTheCommandsExitStatus) {
  EXPECT_EQ(run({"run", "-k", "j", "--", "true"}).exit_code, 0);
  EXPECT_EQ(run({"run", "-k", "j", "--", "sh", "-c", "exit 3"}).exit_code, 3);
  EXPECT_EQ(run({"run", "-k", "j", "--", "sh", "-c", "kill -TERM $$"}).exit_code, 128 + SIGTERM);
  auto r = run({"run", "-k", "j", "--", "echo", "hello", "-n"});
  EXPECT_EQ(r.out, "hello -n\n");
}

TEST_F(CliTest, CommandNotFoundIs127) {
  auto r = run({"run", "--", "/no/such/program"});
  EXPECT_EQ(r.exit_code, 127);
  EXPECT_NE(r.err.find("cannot run"), std::string::npos) << r.err;
  std::ofstream(file("not-executable")) << "data\n";
  EXPECT_EQ(run({"run", "--", file("not-executable")}).exit_code, 126);
}

TEST_F(CliTest, BusyExits75OrTheConflictCode) {
  auto holder = start({"run", "-k", "job", "--", "sh", "-c", "touch " + file("go") + "; sleep 30"});
  ASSERT_TRUE(eventually([&] { return ::access(file("go").c_str(), F_OK) == 0; }));
  auto busy = run({"run", "-k", "job", "--", "true"});
  EXPECT_EQ(busy.exit_code, 75);
  EXPECT_NE(busy.err.find("busy"), std::string::npos) << busy.err;
  EXPECT_EQ(run({"run", "-k", "job", "-E", "9", "--", "true"}).exit_code, 9);
  EXPECT_EQ(run({"run", "-q", "-k", "job", "--", "true"}).err, "") << "-q silences busy";
  auto json = run({"--json", "run", "-k", "job", "--", "true"});
  auto event = nlohmann::json::parse(json.err.substr(0, json.err.find('\n')));
  EXPECT_EQ(event["event"], "busy");
  EXPECT_GT(event["holder"]["pid"].get<int>(), 0);
}

TEST_F(CliTest, UsageErrorsAre64WithOneClearLine) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"run", "--bogus", "--", "true"},
           {"run", "--ttl", "5q", "--", "true"},
           {"run", "--ttl", "30", "--", "true"},
           {"run", "-k", "x"},
           {"run", "--heartbeat", "explicit", "--", "true"},
           {"run", "--heartbeat", "sometimes", "--", "true"},
           {"run", "--ttl", "30s", "--stale-after", "10ms", "--", "true"},
           {"run", "--ttl", "3s", "--kill-grace", "5s", "--", "true"},
           {"run", "-n", "-w", "5s", "--", "true"},
           {"run", "-k", std::string(600, 'k'), "--", "true"},
           {"run", "-E", "300", "--", "true"},
           {"frobnicate"},
           {}}) {
    auto r = run(args);
    EXPECT_EQ(r.exit_code, 64) << ::testing::PrintToString(args) << r.err;
    EXPECT_FALSE(r.err.empty());
  }
}

TEST_F(CliTest, UnusableBackendIs69) {
  ASSERT_EQ(::symlink(dir_.path().c_str(), file("link").c_str()), 0);
  auto r = run({"run", "-b", "file://" + file("link"), "--", "true"});
  EXPECT_EQ(r.exit_code, 69);
  EXPECT_NE(r.err.find("symlink"), std::string::npos) << r.err;
  EXPECT_EQ(run({"run", "-b", "redis://127.0.0.1:1", "--", "true"}).exit_code, 69);
}

TEST_F(CliTest, CommandSeesItsLease) {
  auto r = run({"run", "-k", "job", "--", "sh", "-c",
                "echo $HEARTLOCK_KEY $HEARTLOCK_TOKEN; test -n \"$HEARTLOCK_OWNER\""});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "job 1\n");
}

TEST_F(CliTest, TimeoutStopsTheWholeProcessGroup) {
  auto r = run({"run", "--timeout", "300ms", "--kill-grace", "300ms", "--", "sh", "-c",
                "sleep 60 & echo $! > " + file("grandchild") + "; wait"});
  EXPECT_EQ(r.exit_code, 124) << r.err;
  pid_t grandchild = read_pid("grandchild");
  ASSERT_GT(grandchild, 0);
  EXPECT_TRUE(eventually([&] { return !testing::process_alive(grandchild); }));
}

TEST_F(CliTest, TimeoutEscalatesToKillForACommandThatIgnoresTerm) {
  auto r = run({"run", "--timeout", "200ms", "--kill-grace", "200ms", "--", "sh", "-c",
                "trap '' TERM; echo $$ > " + file("pid") + "; while :; do sleep 0.05; done"});
  EXPECT_EQ(r.exit_code, 124);
  pid_t pid = read_pid("pid");
  EXPECT_TRUE(eventually([&] { return !testing::process_alive(pid); }));
}

TEST_F(CliTest, MissingHeartbeatsLoseTheLeaseAndStopTheCommand) {
  auto r = run({"run", "--heartbeat", "explicit", "--ttl", "150ms", "--stale-after", "300ms",
                "--kill-grace", "50ms", "--", "sh", "-c",
                "echo $$ > " + file("pid") + "; exec sleep 60"});
  EXPECT_EQ(r.exit_code, 79) << r.err;
  EXPECT_NE(r.err.find("deadlocked"), std::string::npos) << r.err;
  EXPECT_FALSE(testing::process_alive(read_pid("pid")));
}

TEST_F(CliTest, ExplicitHeartbeatsKeepTheLease) {
  auto r = run({"run", "--heartbeat", "explicit", "--ttl", "150ms", "--stale-after", "400ms", "--",
                "sh", "-c",
                "for i in 1 2 3 4 5 6 7 8 9 10; do \"$HL\" heartbeat || exit 9; "
                "sleep 0.1; done"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST_F(CliTest, OutputLinesAreHeartbeatsAndPassThroughUnchanged) {
  auto r = run({"run", "--heartbeat", "output", "--ttl", "150ms", "--stale-after", "400ms", "--",
                "sh", "-c",
                "for i in 1 2 3 4 5 6 7 8; do echo tick $i; echo err $i >&2; "
                "sleep 0.1; done"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "tick 1\ntick 2\ntick 3\ntick 4\ntick 5\ntick 6\ntick 7\ntick 8\n");
  EXPECT_NE(r.err.find("err 8"), std::string::npos);
}

TEST_F(CliTest, HeartbeatOutsideRunIsAUsageError) { EXPECT_EQ(run({"heartbeat"}).exit_code, 64); }

TEST_F(CliTest, KilledWrapperTakesItsCommandAlong) {
  auto wrapper = start(
      {"run", "-k", "job", "--", "sh", "-c", "sleep 60 & echo $! > " + file("pid") + "; wait"});
  pid_t grandchild = read_pid("pid");
  ASSERT_GT(grandchild, 0);
  wrapper.signal(SIGKILL);
  EXPECT_TRUE(eventually([&] { return !testing::process_alive(grandchild); }))
      << "the command must not outlive the wrapper that held its lock";
}

TEST_F(CliTest, TermToTheWrapperReachesTheCommand) {
  auto wrapper =
      start({"run", "-k", "job", "--", "sh", "-c",
             "trap 'exit 7' TERM; echo $$ > " + file("pid") + "; while :; do sleep 0.05; done"});
  read_pid("pid");
  wrapper.signal(SIGTERM);
  EXPECT_EQ(wrapper.exit_code(), 7);
}

// The stop rule does not depend on the wrapper being scheduled: with the wrapper stopped
// (SIGSTOP), the watchdog kills COMMAND's group at the lease's deadline, before the next run can
// get the lock.
TEST_F(CliTest, StoppedWrapperCannotKeepItsCommandRunningPastTheDeadline) {
  const std::string lines = file("holder.lines");
  auto first = start(
      {"run", "-k", "job", "--ttl", "2s", "--", "sh", "-c",
       "echo $$ > " + file("pid") + "; while :; do date +%s%N >> " + lines + "; sleep 0.02; done"});
  read_pid("pid");
  first.signal(SIGSTOP);
  CommandResult second;
  ASSERT_TRUE(eventually([&] {
    second = run({"run", "-k", "job", "--", "sh", "-c", "date +%s%N > " + file("second.start")});
    return second.exit_code != 75;
  }));
  EXPECT_EQ(second.exit_code, 0) << second.err;
  long long started = 0;
  std::ifstream(file("second.start")) >> started;
  long long last = 0;
  std::ifstream in(lines);
  for (long long v = 0; in >> v;) {
    last = std::max(last, v);
  }
  EXPECT_GT(started, 0);
  EXPECT_LT(last, started) << "the stopped wrapper's command wrote " << (last - started) / 1'000'000
                           << "ms after the next run started";
  first.signal(SIGCONT);
  EXPECT_EQ(first.exit_code(), 79);
}

TEST_F(CliTest, StoppedWrapperIsTakenOverAndStopsItsCommandWhenResumed) {
  auto first = start({"run", "-k", "job", "--ttl", "200ms", "--", "sh", "-c",
                      "echo $$ > " + file("pid") + "; exec sleep 60"});
  pid_t command = read_pid("pid");
  first.signal(SIGSTOP);
  CommandResult second;
  ASSERT_TRUE(eventually([&] {
    second = run({"run", "-k", "job", "--", "true"});
    return second.exit_code != 75;
  }));
  EXPECT_EQ(second.exit_code, 0) << second.err;
  first.signal(SIGCONT);
  EXPECT_EQ(first.exit_code(), 79);
  EXPECT_FALSE(testing::process_alive(command));
}

TEST_F(CliTest, StatusShowsHoldersAndReleaseIsFenced) {
  // A short ttl: a broken holder learns of it at its next renewal (every ttl/3).
  auto holder = start({"run", "-k", "nightly", "--ttl", "300ms", "--", "sh", "-c",
                       "touch " + file("go") + "; exec sleep 60"});
  ASSERT_TRUE(eventually([&] { return ::access(file("go").c_str(), F_OK) == 0; }));
  auto status = run({"status"});
  EXPECT_EQ(status.exit_code, 0);
  EXPECT_NE(status.out.find("nightly"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("held"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find(locks() + "/nightly.lock"), std::string::npos) << status.out;
  auto json = nlohmann::json::parse(run({"status", "--json", "nightly"}).out);
  EXPECT_EQ(json["state"], "held");
  EXPECT_EQ(json["holder"]["token"], 1);

  auto refused = run({"release", "nightly"});
  EXPECT_EQ(refused.exit_code, 75) << refused.out << refused.err;
  auto forced = run({"release", "--force", "nightly"});
  EXPECT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_EQ(holder.exit_code(), 79) << "the broken holder learns it lost and stops";
  EXPECT_EQ(run({"release", "nightly"}).exit_code, 0);
}

TEST_F(CliTest, WaitGetsTheLockWhenTheHolderFinishes) {
  auto holder =
      start({"run", "-k", "job", "--", "sh", "-c", "touch " + file("go") + "; sleep 0.3"});
  ASSERT_TRUE(eventually([&] { return ::access(file("go").c_str(), F_OK) == 0; }));
  auto waited = run({"run", "-k", "job", "-w", "30s", "--", "true"});
  EXPECT_EQ(waited.exit_code, 0) << waited.err;
  EXPECT_EQ(holder.exit_code(), 0);
}

TEST_F(CliTest, MinHoldBlocksTheNextRun) {
  EXPECT_EQ(run({"run", "-k", "job", "--min-hold", "30s", "--", "true"}).exit_code, 0);
  auto r = run({"run", "-k", "job", "--", "true"});
  EXPECT_EQ(r.exit_code, 75);
  EXPECT_NE(r.err.find("min_hold"), std::string::npos) << r.err;
}

TEST_F(CliTest, FlockInteropFromTheCli) {
  auto holder = start({"run", "-k", "job", "--", "sh", "-c", "touch " + file("go") + "; sleep 30"});
  ASSERT_TRUE(eventually([&] { return ::access(file("go").c_str(), F_OK) == 0; }));
  auto r = testing::run_command({"flock", "-n", locks() + "/job.lock", "true"});
  EXPECT_EQ(r.exit_code, 1);
}

}  // namespace
}  // namespace heartlock
