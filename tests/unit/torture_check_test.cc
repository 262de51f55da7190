// The torture log verifier must catch each kind of violation and accept fenced stale writes.
#include "torture_check.h"

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "../support/test_support.h"
#include "fenced_resource.h"

namespace heartlock::tools {
namespace {

Verdict check(const std::string& text) {
  std::istringstream in(text);
  return check_log(in);
}

TEST(TortureCheckTest, CleanHandoversPass) {
  auto v = check("enter 1 10\nexit 1 10\nenter 2 11\nexit 2 11\n");
  EXPECT_EQ(v.sections, 2u);
  EXPECT_EQ(v.violations, 0u);
}

TEST(TortureCheckTest, OverlapWithALiveHolderIsAViolation) {
  EXPECT_EQ(check("enter 1 10\nenter 2 11\nexit 2 11\nexit 1 10\n").violations, 2u);
}

TEST(TortureCheckTest, TakeoverOfAStoppedHolderIsFencedNotAViolation) {
  auto v = check("enter 1 10\nstop 10\nenter 2 11\ncont 10\nexit 1 10\nexit 2 11\n");
  EXPECT_EQ(v.violations, 0u);
  EXPECT_EQ(v.fenced, 1u);
}

TEST(TortureCheckTest, EntryWrittenJustAfterStopIsLoggedCountsAsPaused) {
  // The driver logs "stop" before the signal lands; the worker may still enter.
  auto v = check("stop 10\nenter 1 10\nenter 2 11\nexit 2 11\ncont 10\nexit 1 10\n");
  EXPECT_EQ(v.violations, 0u);
  EXPECT_EQ(v.fenced, 1u);
}

TEST(TortureCheckTest, AfterContTheWorkerIsLiveAgain) {
  EXPECT_EQ(check("stop 10\ncont 10\nenter 1 10\nenter 2 11\n").violations, 1u);
}

TEST(TortureCheckTest, TakeoverOfAKilledHolderIsFine) {
  EXPECT_EQ(check("enter 1 10\nkill 10\nenter 2 11\nexit 2 11\n").violations, 0u);
}

TEST(TortureCheckTest, DuplicateOrDecreasingTokensAreViolations) {
  EXPECT_EQ(check("enter 5 10\nexit 5 10\nenter 5 11\nexit 5 11\n").violations, 1u);
  EXPECT_GE(check("enter 5 10\nexit 5 10\nenter 4 11\nexit 4 11\n").violations, 1u);
}

TEST(TortureCheckTest, StaleWriteByAWorkerNeverStoppedIsAViolation) {
  EXPECT_EQ(check("enter 1 10\nkill 10\nenter 2 11\nexit 1 12\n").violations, 1u);
}

// The fenced resource's own lines: "KIND TOKEN PID held|lost accepted|rejected".
TEST(TortureCheckTest, ResourceLinesCleanRunPasses) {
  auto v = check(
      "enter 1 10 held accepted\nwrite 1 10 held accepted\nexit 1 10 held accepted\n"
      "enter 2 11 held accepted\nexit 2 11 held accepted\n");
  EXPECT_EQ(v.sections, 2u);
  EXPECT_EQ(v.writes, 5u);
  EXPECT_EQ(v.violations, 0u);
  EXPECT_EQ(v.lost_updates, 0u);
}

TEST(TortureCheckTest, StaleWriteAcceptedIsALostUpdate) {
  // A resource that does not check tokens: the stopped holder's write lands after the new one's.
  auto v = check(
      "enter 1 10 held accepted\nstop 10\nenter 2 11 held accepted\ncont 10\n"
      "write 1 10 held accepted\nexit 1 10 held accepted\n");
  EXPECT_EQ(v.lost_updates, 2u);
  EXPECT_EQ(v.violations, 0u);
}

TEST(TortureCheckTest, StaleWriteRejectedFromAStoppedHolderIsFenced) {
  auto v = check(
      "enter 1 10 held accepted\nstop 10\nenter 2 11 held accepted\ncont 10\n"
      "write 1 10 held rejected\nexit 1 10 lost rejected\n");
  EXPECT_EQ(v.fenced, 2u);
  EXPECT_EQ(v.violations, 0u);
  EXPECT_EQ(v.lost_updates, 0u);
}

TEST(TortureCheckTest, AStoppedWrapperIsNoExcuseForItsCommand) {
  // CLI mode: the wrapper was stopped, COMMAND was not; the watchdog should have killed it.
  auto v = check(
      "enter 1 10 held accepted\nwstop 10\nenter 2 11 held accepted\n"
      "write 1 10 held rejected\n");
  EXPECT_EQ(v.wrapper_stops, 1u);
  EXPECT_EQ(v.violations, 2u);  // 10 was inside when 11 entered, and wrote on
}

TEST(TortureCheckTest, AWorkerGoneIsNotInside) {
  auto v = check("enter 1 10 held accepted\ngone 10\nenter 2 11 held accepted\n");
  EXPECT_EQ(v.violations, 0u);
}

TEST(TortureCheckTest, ResourceRejectingTheCurrentTokenIsAViolation) {
  EXPECT_EQ(check("enter 1 10 held accepted\nwrite 1 10 held rejected\n").violations, 1u);
}

TEST(TortureCheckTest, ServerFaultsAreCounted) {
  auto v = check(
      "restart\nserver_stop\nserver_cont\nterminate\nnode_down\nnode_up\njump 0 +2h\n"
      "failover\n");
  EXPECT_EQ(v.violations, 0u);
  EXPECT_EQ(v.restarts, 1u);
  EXPECT_EQ(v.server_stops, 1u);
  EXPECT_EQ(v.terminations, 1u);
  EXPECT_EQ(v.node_downs, 1u);
  EXPECT_EQ(v.clock_jumps, 1u);
  EXPECT_EQ(v.failovers, 1u);
}

// The real resource process: rejects a token below the highest it accepted, and logs both.
Verdict through_resource(bool check_tokens) {
  testing::TempDir dir;
  const std::string log_path = dir.file("log");
  int log = ::open(log_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  EXPECT_GE(log, 0);
  FencedResource resource;
  EXPECT_TRUE(resource.start(dir.file("sock"), log, check_tokens));
  ResourceClient a;
  ResourceClient b;
  EXPECT_TRUE(a.connect(dir.file("sock")));
  EXPECT_TRUE(b.connect(dir.file("sock")));
  EXPECT_TRUE(a.write("enter", 1, 10, true));
  EXPECT_TRUE(b.write("enter", 2, 11, true));
  EXPECT_EQ(a.write("write", 1, 10, true), !check_tokens);  // the deliberately stale write
  EXPECT_TRUE(b.write("exit", 2, 11, true));
  resource.stop();
  ::close(log);
  std::ifstream in(log_path);
  return check_log(in);
}

TEST(FencedResourceTest, RejectsAStaleWriteAndTheCheckerSeesItFenced) {
  auto v = through_resource(true);
  EXPECT_EQ(v.fenced, 1u);
  EXPECT_EQ(v.lost_updates, 0u);
  EXPECT_GE(v.violations, 1u) << "10 was never stopped: its stale write is a violation";
}

TEST(FencedResourceTest, WithoutTokenChecksTheCheckerSeesALostUpdate) {
  auto v = through_resource(false);
  EXPECT_EQ(v.fenced, 0u);
  EXPECT_EQ(v.lost_updates, 1u);
}

}  // namespace
}  // namespace heartlock::tools
