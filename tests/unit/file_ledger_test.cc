// The file backend's run ledger (src/file/run_ledger.cc): its files, their cleanup, and files it
// did not write -- corrupt, oversize, symlinks, FIFOs -- which are reported or skipped, never
// followed, blocked on or crashed over.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "heartlock/heartlock.h"

#include "../support/test_support.h"

namespace heartlock {
namespace {

using namespace std::chrono_literals;
using std::chrono::sys_seconds;
using testing::IsOk;

class FileLedgerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = Store::open("file://" + dir_.path());
    ASSERT_THAT(store, IsOk());
    store_ = std::move(*store);
  }

  static sys_seconds now() {
    return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  }
  std::string entry_path(const std::string& job, sys_seconds slot) const {
    return dir_.file(job + "@" + std::to_string(slot.time_since_epoch().count()) + ".run");
  }
  void write_file(const std::string& path, const std::string& content) {
    std::ofstream(path, std::ios::binary) << content;
  }
  std::size_t entries(std::string_view job) {
    auto r = store_->run_records(job, 1000);
    EXPECT_THAT(r, IsOk());
    return r ? r->size() : 0;
  }

  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(FileLedgerTest, AnEntryIsOneFileBesideTheLocksAndSlots) {
  const sys_seconds slot = now();
  ASSERT_THAT(store_->put_run_record("nightly", slot, "data"), IsOk());
  struct stat st {};
  ASSERT_EQ(::lstat(entry_path("nightly", slot).c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600U);
  // Not a lock, not a claimed slot.
  EXPECT_TRUE(store_->list()->empty());
  EXPECT_EQ(*store_->last_slot("nightly"), std::nullopt);
  ASSERT_TRUE(store_->claim_slot("nightly", slot)->won);
  EXPECT_EQ(entries("nightly"), 1U);
}

TEST_F(FileLedgerTest, AWriteRemovesTheJobsEntriesPastItsRetention) {
  ASSERT_THAT(store_->put_run_record("nightly", now() - 100s, "old", 1h), IsOk());
  ASSERT_THAT(store_->put_run_record("other", now() - 100s, "other", 1h), IsOk());
  ASSERT_EQ(entries("nightly"), 1U);
  ASSERT_THAT(store_->put_run_record("nightly", now(), "new", 10s), IsOk());
  EXPECT_EQ(entries("nightly"), 1U);
  EXPECT_EQ(store_->run_records("nightly", 10)->front().data, "new");
  EXPECT_EQ(entries("other"), 1U) << "another job's entries keep their own retention";
}

TEST_F(FileLedgerTest, OneWriteRemovesABoundedNumberOfOldEntries) {
  const sys_seconds old = now() - 1000s;
  for (int i = 0; i < 100; ++i) {
    write_file(entry_path("nightly", old + std::chrono::seconds(i)), std::string("nightly\0x", 9));
  }
  // One slot for both writes: two now()s a second apart would leave two fresh entries.
  const sys_seconds slot = now();
  ASSERT_THAT(store_->put_run_record("nightly", slot, "new", 10s), IsOk());
  const std::size_t left = entries("nightly");
  EXPECT_LT(left, 101U);
  EXPECT_GT(left, 1U);
  ASSERT_THAT(store_->put_run_record("nightly", slot, "new", 10s), IsOk());
  EXPECT_EQ(entries("nightly"), 1U);
}

// A write scans the directory only when an expired file may be there (src/file/expiry_scans.h):
// one it knows of, or, every 64 writes or retention/16 of wall time, one another process wrote.
TEST_F(FileLedgerTest, AnOldEntryAnotherProcessWroteIsRemovedWithinSixtyFourWrites) {
  const sys_seconds base = now();
  // The first write finds the directory empty; the second scans once more and learns of the first.
  ASSERT_THAT(store_->put_run_record("nightly", base, "first", 1h), IsOk());
  ASSERT_THAT(store_->put_run_record("nightly", base, "first", 1h), IsOk());
  const std::string foreign = entry_path("nightly", base - 2h);
  write_file(foreign, std::string("nightly\0x", 9));
  for (int i = 0; i < 63; ++i) {
    ASSERT_THAT(store_->put_run_record("nightly", base - std::chrono::seconds(i), "d", 1h), IsOk());
  }
  struct stat kept {};
  ASSERT_EQ(::lstat(foreign.c_str(), &kept), 0) << "63 writes within the grace: no scan yet";
  ASSERT_THAT(store_->put_run_record("nightly", base - 63s, "d", 1h), IsOk());
  struct stat st {};
  EXPECT_NE(::lstat(foreign.c_str(), &st), 0) << "expired, and found by a rescan";
  EXPECT_EQ(entries("nightly"), 64U);
}

TEST_F(FileLedgerTest, ACorruptFileIsReportedAsItsText) {
  const sys_seconds slot = now();
  write_file(entry_path("nightly", slot), "garbage without a name");
  auto texts = store_->run_records("", 10);
  ASSERT_THAT(texts, IsOk());
  ASSERT_EQ(texts->size(), 1U);
  EXPECT_EQ((*texts)[0].job, "nightly");
  EXPECT_EQ((*texts)[0].slot, slot);
  EXPECT_EQ((*texts)[0].data, "garbage without a name");
  auto history = run_history(*store_, "nightly", 10);
  ASSERT_THAT(history, IsOk());
  ASSERT_EQ(history->size(), 1U);
  EXPECT_EQ((*history)[0].state, RunState::failed);
}

TEST_F(FileLedgerTest, AFileNamingAnotherJobIsNotTakenAtItsWord) {
  write_file(entry_path("nightly", now()), std::string("hourly\0{\"state\":\"done\"}", 24));
  auto texts = store_->run_records("", 10);
  ASSERT_THAT(texts, IsOk());
  ASSERT_EQ(texts->size(), 1U);
  EXPECT_EQ((*texts)[0].job, "nightly");
  EXPECT_TRUE(store_->run_records("hourly", 10)->empty());
}

TEST_F(FileLedgerTest, AnOversizeFileIsReadOnlyInPartAndRefused) {
  write_file(entry_path("nightly", now()), std::string("nightly\0", 8) + std::string(1 << 20, 'x'));
  auto texts = store_->run_records("nightly", 10);
  ASSERT_THAT(texts, IsOk());
  ASSERT_EQ(texts->size(), 1U);
  EXPECT_LE((*texts)[0].data.size(), kMaxRunRecordBytes + kMaxNameLength + 2);
  EXPECT_EQ(run_history(*store_, "nightly", 10)->front().state, RunState::failed);
}

TEST_F(FileLedgerTest, SymlinksAndFifosAreSkippedAndNeverFollowed) {
  const sys_seconds slot = now();
  const std::string target = dir_.file("target");
  write_file(target, std::string("nightly\0secret", 14));
  ASSERT_EQ(::symlink(target.c_str(), entry_path("nightly", slot).c_str()), 0);
  ASSERT_EQ(::mkfifo(entry_path("nightly", slot - 1s).c_str(), 0600), 0);
  EXPECT_EQ(entries("nightly"), 0U);
  // A write replaces the symlink itself, not what it points to.
  ASSERT_THAT(store_->put_run_record("nightly", slot, "mine"), IsOk());
  std::ifstream in(target, std::ios::binary);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}),
            std::string("nightly\0secret", 14));
  EXPECT_EQ(store_->run_records("nightly", 10)->front().data, "mine");
}

TEST_F(FileLedgerTest, ForeignFileNamesAreIgnored) {
  for (const char* name : {"nightly@.run", "nightly@12x.run", "@5.run", "a@b@5.run", ".x@5.run",
                           "nightly@5.run.tmp", "nightly@5.slot"}) {
    write_file(dir_.file(name), "junk");
  }
  EXPECT_EQ(entries(""), 0U);
}

}  // namespace
}  // namespace heartlock
