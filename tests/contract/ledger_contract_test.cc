// The run ledger's contract (Store::put_run_record, run_records), on every backend. A backend
// without a ledger answers Errc::unsupported, and its tests are skipped rather than failed.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "heartlock/heartlock.h"

#include "../support/backends.h"
#include "../support/test_support.h"

namespace heartlock {
namespace {

using namespace std::chrono_literals;
using std::chrono::sys_seconds;
using testing::Backend;
using testing::HasErrc;
using testing::IsOk;

// Skips the test when the backend keeps no ledger.
#define SKIP_IF_UNSUPPORTED(result)                                      \
  if (!(result) && (result).error().code == Errc::unsupported) {         \
    GTEST_SKIP() << GetParam().name << ": " << (result).error().message; \
  }

class LedgerContract : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    auto store = Store::open(GetParam().url());
    ASSERT_THAT(store, IsOk());
    store_ = std::move(*store);
  }

  // A whole second, an hour ago: recent for the default retention, never in the future.
  // An hour ago, fixed for the test: a second boundary passing mid-test must not move it.
  sys_seconds base() const { return base_; }
  const sys_seconds base_ =
      std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()) - 1h;

  // The (job, slot, data) of each entry, in the order the store returned them.
  std::vector<std::string> listed(std::string_view job, std::size_t limit) {
    auto records = store_->run_records(job, limit);
    EXPECT_THAT(records, IsOk());
    std::vector<std::string> out;
    for (const RunRecordText& r : records.value_or(std::vector<RunRecordText>{})) {
      out.push_back(r.job + "@" + std::to_string((r.slot - base()).count()) + "=" + r.data);
    }
    return out;
  }

  std::unique_ptr<Store> store_;
};

TEST_P(LedgerContract, AnEntryIsReadBack) {
  auto put = store_->put_run_record("nightly", base(), R"({"state":"running"})");
  SKIP_IF_UNSUPPORTED(put);
  ASSERT_THAT(put, IsOk());
  auto records = store_->run_records("nightly", 10);
  ASSERT_THAT(records, IsOk());
  ASSERT_EQ(records->size(), 1U);
  EXPECT_EQ((*records)[0].job, "nightly");
  EXPECT_EQ((*records)[0].slot, base());
  EXPECT_EQ((*records)[0].data, R"({"state":"running"})");
}

TEST_P(LedgerContract, TheLastWriteOfAnEntryWins) {
  auto put = store_->put_run_record("nightly", base(), "first");
  SKIP_IF_UNSUPPORTED(put);
  ASSERT_THAT(store_->put_run_record("nightly", base(), "second"), IsOk());
  EXPECT_EQ(listed("nightly", 10), std::vector<std::string>{"nightly@0=second"});
}

TEST_P(LedgerContract, NewestSlotFirstThenByJobName) {
  auto put = store_->put_run_record("b", base(), "b0");
  SKIP_IF_UNSUPPORTED(put);
  ASSERT_THAT(store_->put_run_record("a", base(), "a0"), IsOk());
  ASSERT_THAT(store_->put_run_record("c", base() + 60s, "c60"), IsOk());
  ASSERT_THAT(store_->put_run_record("a", base() - 60s, "a-60"), IsOk());
  ASSERT_THAT(store_->put_run_record("a", base() + 1s, "a1"), IsOk());
  EXPECT_EQ(listed("", 10),
            (std::vector<std::string>{"c@60=c60", "a@1=a1", "a@0=a0", "b@0=b0", "a@-60=a-60"}));
}

TEST_P(LedgerContract, TheLimitIsHonoured) {
  auto put = store_->put_run_record("a", base(), "0");
  SKIP_IF_UNSUPPORTED(put);
  for (int i = 1; i < 5; ++i) {
    ASSERT_THAT(store_->put_run_record(i % 2 ? "a" : "b", base() + std::chrono::seconds(i),
                                       std::to_string(i)),
                IsOk());
  }
  EXPECT_EQ(listed("", 2), (std::vector<std::string>{"b@4=4", "a@3=3"}));
  EXPECT_EQ(listed("a", 1), std::vector<std::string>{"a@3=3"});
  EXPECT_TRUE(listed("", 0).empty());
}

TEST_P(LedgerContract, AJobSeesOnlyItsOwnEntries) {
  auto put = store_->put_run_record("a", base(), "a");
  SKIP_IF_UNSUPPORTED(put);
  // Names that are prefixes of each other, or look like paths or key separators.
  for (const char* job : {"ab", "a/b", "a:b", "a@1", "../a", "a*", "a%2F"}) {
    ASSERT_THAT(store_->put_run_record(job, base(), job), IsOk()) << job;
  }
  EXPECT_EQ(listed("a", 10), std::vector<std::string>{"a@0=a"});
  EXPECT_EQ(listed("a/b", 10), std::vector<std::string>{"a/b@0=a/b"});
  EXPECT_EQ(listed("a*", 10), std::vector<std::string>{"a*@0=a*"});
  EXPECT_TRUE(listed("nobody", 10).empty());
  EXPECT_EQ(listed("", 100).size(), 8U);
}

TEST_P(LedgerContract, ALongJobNameAndAFullEntryAreKept) {
  const std::string job(kMaxNameLength, 'j');
  const std::string data(kMaxRunRecordBytes, 'd');
  auto put = store_->put_run_record(job, base(), data);
  SKIP_IF_UNSUPPORTED(put);
  ASSERT_THAT(put, IsOk());
  auto records = store_->run_records("", 10);
  ASSERT_THAT(records, IsOk());
  ASSERT_EQ(records->size(), 1U);
  EXPECT_EQ((*records)[0].job, job);
  EXPECT_EQ((*records)[0].data, data);
}

TEST_P(LedgerContract, BadInputIsRefused) {
  auto put = store_->put_run_record("nightly", base(), "x");
  SKIP_IF_UNSUPPORTED(put);
  EXPECT_THAT(store_->put_run_record("", base(), "x"), HasErrc(Errc::invalid_argument));
  EXPECT_THAT(store_->put_run_record(std::string(kMaxNameLength + 1, 'j'), base(), "x"),
              HasErrc(Errc::invalid_argument));
  EXPECT_THAT(store_->put_run_record(std::string("a\0b", 3), base(), "x"),
              HasErrc(Errc::invalid_argument));
  EXPECT_THAT(store_->put_run_record("nightly", base(), std::string(kMaxRunRecordBytes + 1, 'd')),
              HasErrc(Errc::invalid_argument));
  EXPECT_THAT(store_->put_run_record("nightly", base(), "x", 0s), HasErrc(Errc::invalid_argument));
  EXPECT_THAT(store_->run_records(std::string(kMaxNameLength + 1, 'j'), 10),
              HasErrc(Errc::invalid_argument));
  EXPECT_EQ(listed("nightly", 10), std::vector<std::string>{"nightly@0=x"}) << "unchanged";
}

TEST_P(LedgerContract, AnEntryPastItsRetentionIsGoneAfterALaterWrite) {
  const sys_seconds now =
      std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  auto put = store_->put_run_record("nightly", now - 10s, "old", 1s);
  SKIP_IF_UNSUPPORTED(put);
  ASSERT_THAT(put, IsOk());
  // Within its retention (an hour from now), whatever the retention of the old one.
  ASSERT_THAT(store_->put_run_record("nightly", now + 1h, "new", 1s), IsOk());
  auto records = store_->run_records("nightly", 10);
  ASSERT_THAT(records, IsOk());
  ASSERT_EQ(records->size(), 1U);
  EXPECT_EQ((*records)[0].data, "new");
}

TEST_P(LedgerContract, RecordsReadBackThroughTheLedgerApi) {
  RunRecord r{.job = "backup", .slot = base(), .state = RunState::done};
  r.host = "web-1";
  r.pid = 42;
  r.started = RunRecord::time_point(base() + 1500ms);
  r.ended = RunRecord::time_point(base() + 90s);
  r.exit_code = 0;
  r.attempts = 1;
  auto put = record_run(*store_, r);
  SKIP_IF_UNSUPPORTED(put);
  ASSERT_THAT(put, IsOk());
  auto history = run_history(*store_, "backup", 5);
  ASSERT_THAT(history, IsOk());
  ASSERT_EQ(history->size(), 1U);
  const RunRecord& back = (*history)[0];
  EXPECT_EQ(back.job, "backup");
  EXPECT_EQ(back.slot, base());
  EXPECT_EQ(back.state, RunState::done);
  EXPECT_EQ(back.started, r.started);
  EXPECT_EQ(back.ended, r.ended);
  EXPECT_EQ(back.exit_code, 0);
}

TEST_P(LedgerContract, AnUnreadableEntryIsReportedAsFailed) {
  auto put = store_->put_run_record("backup", base(), "not json");
  SKIP_IF_UNSUPPORTED(put);
  auto history = run_history(*store_, "", 5);
  ASSERT_THAT(history, IsOk());
  ASSERT_EQ(history->size(), 1U);
  EXPECT_EQ((*history)[0].job, "backup");
  EXPECT_EQ((*history)[0].state, RunState::failed);
  EXPECT_NE((*history)[0].detail.find("unreadable"), std::string::npos) << (*history)[0].detail;
}

INSTANTIATE_TEST_SUITE_P(Backends, LedgerContract, ::testing::ValuesIn(testing::every_backend()),
                         [](const auto& param_info) { return param_info.param.name; });

}  // namespace
}  // namespace heartlock
