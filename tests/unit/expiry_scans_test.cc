// ExpiryScans (src/file/expiry_scans.h): when a file store write scans for expired files, with
// the wall clock given as plain epoch seconds.
#include "../../src/file/expiry_scans.h"

#include <string>

#include <gtest/gtest.h>

namespace heartlock::detail {
namespace {

constexpr long long kRetention = 1600;  // grace: 100
constexpr long long kStart = 1'000'000;

class ExpiryScansTest : public ::testing::Test {
 protected:
  // One write at `now`: true if it scanned; the scan leaves `oldest` (ExpiryScans::kNone: none).
  bool write(long long now, long long oldest, long long slot) {
    const bool due = scans_.scan_due("k", now, now - kRetention, kRetention);
    if (due) {
      scans_.scanned("k", now, oldest);
    }
    scans_.added("k", slot);
    return due;
  }

  ExpiryScans scans_;
};

TEST_F(ExpiryScansTest, AKnownPrefixIsScannedOnlyOnceAGraceHasPassed) {
  EXPECT_TRUE(write(kStart, kStart - 10, kStart));
  EXPECT_FALSE(write(kStart + 1, kStart - 10, kStart + 1));
  EXPECT_FALSE(write(kStart + 99, kStart - 10, kStart + 99));
  EXPECT_TRUE(write(kStart + 100, kStart - 10, kStart + 100)) << "retention/16 since the scan";
}

TEST_F(ExpiryScansTest, AKnownExpiredFileIsScannedForAtOnce) {
  // A scan that left an expired file (the ledger removes at most 64 per write): the next write,
  // well within the grace, scans again.
  ASSERT_TRUE(write(kStart, kStart - kRetention - 200, kStart));
  EXPECT_TRUE(write(kStart + 1, kStart, kStart + 1));  // this scan removes it
  EXPECT_FALSE(write(kStart + 2, kStart, kStart + 2));
}

TEST_F(ExpiryScansTest, AForeignFileIsFoundByTheFirstWriteAfterRetentionAndGrace) {
  // A daily job: each write comes long after the grace, so each one scans.
  ASSERT_TRUE(write(kStart, kStart, kStart));
  EXPECT_TRUE(write(kStart + 86'400, kStart, kStart + 86'400));
}

TEST_F(ExpiryScansTest, EverySixtyFourthWriteScansWithinTheGrace) {
  ASSERT_TRUE(write(kStart, kStart, kStart));
  for (int i = 1; i < ExpiryScans::kRescanEvery; ++i) {
    ASSERT_FALSE(write(kStart, kStart, kStart)) << i;
  }
  EXPECT_TRUE(write(kStart, kStart, kStart));
}

TEST_F(ExpiryScansTest, AFileAddedDuringAScanIsNotForgotten) {
  // Another thread writes a file while a scan runs, and the scan's readdir misses it: the scan
  // reports an empty directory, but the prefix is kept with that file as its oldest.
  ASSERT_TRUE(scans_.scan_due("k", kStart, kStart - kRetention, kRetention));
  scans_.added("k", kStart - 1000);
  scans_.scanned("k", kStart, ExpiryScans::kNone);
  EXPECT_FALSE(scans_.scan_due("k", kStart + 1, kStart + 1 - kRetention, kRetention))
      << "known, and nothing expired";
}

TEST_F(ExpiryScansTest, OverlappingScansKeepWhatWasAddedSinceTheFirstBegan) {
  ASSERT_TRUE(scans_.scan_due("k", kStart, kStart - kRetention, kRetention));  // scan A
  scans_.added("k", kStart - kRetention - 200);  // missed by A; written with a longer retention
  ASSERT_TRUE(scans_.scan_due("k", kStart, kStart - kRetention, kRetention));  // scan B
  scans_.scanned("k", kStart, kStart - kRetention - 200);  // B saw it, and ends first
  scans_.scanned("k", kStart, kStart);                     // A ends, without it
  EXPECT_TRUE(scans_.scan_due("k", kStart + 1, kStart + 1 - kRetention, kRetention))
      << "the expired file added during A is known";
}

TEST_F(ExpiryScansTest, AFailedScanIsRetriedByTheNextWrite) {
  ASSERT_TRUE(scans_.scan_due("k", kStart, kStart - kRetention, kRetention));
  scans_.scanned("k", kStart, std::nullopt);
  EXPECT_TRUE(scans_.scan_due("k", kStart, kStart - kRetention, kRetention));
}

TEST_F(ExpiryScansTest, APrefixWithNothingLeftIsForgotten) {
  ASSERT_TRUE(write(kStart, ExpiryScans::kNone, kStart));
  // Forgotten (the file the write added was not counted): the next write scans once more, and
  // then knows the prefix.
  EXPECT_TRUE(write(kStart, kStart, kStart));
  EXPECT_FALSE(write(kStart, kStart, kStart));
}

TEST_F(ExpiryScansTest, ManyPrefixesAreForgottenPastTheCap) {
  for (std::size_t i = 0; i < ExpiryScans::kMaxEntries; ++i) {
    const std::string key = "job" + std::to_string(i);
    ASSERT_TRUE(scans_.scan_due(key, kStart, kStart - kRetention, kRetention));
    scans_.scanned(key, kStart, kStart);
  }
  EXPECT_FALSE(scans_.scan_due("job0", kStart, kStart - kRetention, kRetention));
  ASSERT_TRUE(scans_.scan_due("one more", kStart, kStart - kRetention, kRetention));
  EXPECT_TRUE(scans_.scan_due("job1", kStart, kStart - kRetention, kRetention)) << "cleared";
}

}  // namespace
}  // namespace heartlock::detail
