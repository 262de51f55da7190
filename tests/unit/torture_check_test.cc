// The torture log verifier must catch each kind of violation and accept fenced stale writes.
#include "torture_check.h"

#include <sstream>

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace heartlock::tools
