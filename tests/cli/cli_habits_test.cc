// What flock(1) and cronlock users expect of the heartlock executable (issue 13): `-c LINE`,
// `-V`, suggestions for mistyped subcommands and options, decimal durations, and a busy lock
// that is silent unless asked.
#include <signal.h>
#include <unistd.h>

#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "../support/test_support.h"

namespace heartlock {
namespace {

using namespace std::chrono_literals;
using testing::Child;
using testing::CommandResult;
using testing::eventually;

class CliHabitsTest : public ::testing::Test {
 protected:
  CommandResult run(std::vector<std::string> args) {
    args.insert(args.begin(), testing::heartlock_binary());
    return testing::run_command(args, env());
  }
  std::map<std::string, std::string> env() const { return {{"HEARTLOCK_DIR", locks()}}; }
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

  // Starts a holder of lock "job" and waits until its command runs.
  Child start_holder() {
    auto holder =
        start({"run", "-k", "job", "--", "sh", "-c", "touch " + file("go") + "; sleep 30"});
    EXPECT_TRUE(eventually([&] { return ::access(file("go").c_str(), F_OK) == 0; }));
    return holder;
  }

  testing::TempDir dir_;
};

TEST_F(CliHabitsTest, DashCRunsTheLineThroughTheShell) {
  auto r = run({"run", "-c", "echo a; echo b | tr b c"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "a\nc\n");
  EXPECT_EQ(run({"run", "--command", "exit 3"}).exit_code, 3);
  EXPECT_EQ(run({"run", "-k", "j", "-c", "kill -TERM $$"}).exit_code, 128 + SIGTERM);
}

// Started by a program that ignores SIGCHLD (SIG_IGN survives exec), the kernel would reap
// COMMAND on its own: its exit status lost, and a supervisor waiting for it polled for ever (found
// by review: 100 % CPU, deaf to SIGTERM, the lock held). The CLI resets SIGCHLD first.
TEST_F(CliHabitsTest, ACallerThatIgnoresSigchldStillGetsTheExitStatus) {
  const std::string script =
      "import os, signal, sys\n"
      "signal.signal(signal.SIGCHLD, signal.SIG_IGN)\n"
      "os.execv(sys.argv[1], sys.argv[1:])\n";
  auto r = testing::run_command({"python3", "-c", script, testing::heartlock_binary(), "run", "-k",
                                 "sigchld", "--", "sh", "-c", "exit 3"},
                                env(), 20s);
  EXPECT_EQ(r.exit_code, 3) << r.err;
}

TEST_F(CliHabitsTest, DashCAndACommandContradict) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"run", "-c", "true", "--", "true"}, {"run", "-c", "true", "echo", "x"}}) {
    auto r = run(args);
    EXPECT_EQ(r.exit_code, 64) << ::testing::PrintToString(args);
    EXPECT_NE(r.err.find("contradict"), std::string::npos) << r.err;
  }
  auto empty = run({"run", "-c", ""});
  EXPECT_EQ(empty.exit_code, 64);
  EXPECT_NE(empty.err.find("empty"), std::string::npos) << empty.err;
}

TEST_F(CliHabitsTest, TheSameLineGivesTheSameKeyAsShDashC) {
  const std::string line = "echo $HEARTLOCK_KEY";
  auto first = run({"run", "-c", line});
  auto second = run({"run", "-c", line});
  auto spelled_out = run({"run", "--", "/bin/sh", "-c", line});
  auto other = run({"run", "-c", line + " "});
  EXPECT_EQ(first.out.rfind("run.sh.", 0), 0u) << first.out;
  EXPECT_EQ(first.out, second.out);
  EXPECT_EQ(first.out, spelled_out.out) << "-c LINE is /bin/sh -c LINE";
  EXPECT_NE(first.out, other.out);
}

TEST_F(CliHabitsTest, DashCLinesExcludeEachOther) {
  const std::string line = "touch " + file("go") + "; sleep 30";
  auto holder = start({"run", "-c", line});
  ASSERT_TRUE(eventually([&] { return ::access(file("go").c_str(), F_OK) == 0; }));
  EXPECT_EQ(run({"run", "-c", line}).exit_code, 75);
}

// `-V` and `--version` alone are answered before CLI11 parses (cli/main.cc); with another option
// before them CLI11's version flag answers: both must print the same.
TEST_F(CliHabitsTest, CapitalVPrintsTheVersion) {
  auto v = run({"-V"});
  auto version = run({"--version"});
  auto through_cli11 = run({"-q", "--version"});
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_FALSE(v.out.empty());
  EXPECT_EQ(v.out, version.out);
  EXPECT_EQ(through_cli11.exit_code, 0);
  EXPECT_EQ(through_cli11.out, version.out);
  EXPECT_EQ(run({"-q", "-V"}).out, version.out);
  EXPECT_EQ(version.err, through_cli11.err);
}

TEST_F(CliHabitsTest, AMistypedSubcommandGetsASuggestion) {
  auto r = run({"stauts"});
  EXPECT_EQ(r.exit_code, 64);
  EXPECT_EQ(r.err, "heartlock: unknown command 'stauts'; did you mean 'status'?\n");
  auto after_options = run({"-b", locks(), "-v", "relaese", "x"});
  EXPECT_EQ(after_options.exit_code, 64);
  EXPECT_NE(after_options.err.find("did you mean 'release'?"), std::string::npos)
      << after_options.err;
  auto far = run({"frobnicate"});
  EXPECT_EQ(far.exit_code, 64);
  EXPECT_NE(far.err.find("unknown command 'frobnicate'"), std::string::npos) << far.err;
  EXPECT_EQ(far.err.find("did you mean"), std::string::npos) << far.err;
}

TEST_F(CliHabitsTest, AMistypedLongOptionGetsASuggestion) {
  auto r = run({"run", "-k", "j", "--tll", "5s", "--", "true"});
  EXPECT_EQ(r.exit_code, 64);
  EXPECT_NE(r.err.find("unknown option '--tll' for 'run'; did you mean '--ttl'?"),
            std::string::npos)
      << r.err;
  auto global = run({"status", "--jsn"});
  EXPECT_EQ(global.exit_code, 64);
  EXPECT_NE(global.err.find("did you mean '--json'?"), std::string::npos) << global.err;
}

TEST_F(CliHabitsTest, DurationsMayHaveDecimals) {
  auto r = run({"run", "-k", "j", "--ttl", "2.5s", "--timeout", "0.5m", "--", "true"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto sub_ms = run({"run", "-k", "j", "--ttl", "1.5ms", "--", "true"});
  EXPECT_EQ(sub_ms.exit_code, 64);
  EXPECT_NE(sub_ms.err.find("finer than a millisecond"), std::string::npos) << sub_ms.err;
}

TEST_F(CliHabitsTest, ABareNumberGetsAHint) {
  auto r = run({"run", "-k", "j", "--ttl", "90", "--", "true"});
  EXPECT_EQ(r.exit_code, 64);
  EXPECT_NE(r.err.find("--ttl: invalid duration '90': missing unit: write 90s or 90ms"),
            std::string::npos)
      << r.err;
}

TEST_F(CliHabitsTest, BusyIsSilentByDefaultAndVerboseSaysWhoHoldsIt) {
  auto holder = start_holder();
  auto busy = run({"run", "-k", "job", "--", "true"});
  EXPECT_EQ(busy.exit_code, 75);
  EXPECT_EQ(busy.err, "") << "silent, as flock -n is";
  auto verbose = run({"run", "-v", "-k", "job", "--", "true"});
  EXPECT_EQ(verbose.exit_code, 75);
  EXPECT_NE(verbose.err.find("lock job is busy: held by pid"), std::string::npos) << verbose.err;
  auto waited = run({"run", "-w", "50ms", "-k", "job", "--", "true"});
  EXPECT_EQ(waited.exit_code, 75);
  EXPECT_NE(waited.err.find("busy"), std::string::npos) << "after --wait: said, as before";
}

}  // namespace
}  // namespace heartlock
