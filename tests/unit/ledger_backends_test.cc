// The run ledger (Store::put_run_record, Store::run_records) on each network backend, against
// the real servers the tests start: what the cross-backend contract does not reach -- retention
// on each server's own terms, names that must not collide with lock or slot keys, data of any
// bytes, and Redlock with nodes down or disagreeing.
#include <algorithm>
#include <array>
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "heartlock/heartlock.h"

#include "../support/backends.h"
#include "../support/test_support.h"

namespace heartlock {
namespace {

using namespace std::chrono_literals;
using testing::Backend;
using testing::eventually;
using testing::HasErrc;
using testing::IsAcquired;
using testing::IsOk;

std::chrono::sys_seconds now_s() {
  return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
}

// "job@epoch=data" of each entry, in the order given.
std::vector<std::string> summary(const std::vector<RunRecordText>& records) {
  std::vector<std::string> out;
  for (const auto& r : records) {
    out.push_back(r.job + "@" + std::to_string(r.slot.time_since_epoch().count()) + "=" + r.data);
  }
  return out;
}

std::string entry(const std::string& job, std::chrono::sys_seconds slot, const std::string& data) {
  return job + "@" + std::to_string(slot.time_since_epoch().count()) + "=" + data;
}

class LedgerBackendTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    store_ = testing::open_store(GetParam().url());
    ASSERT_NE(store_, nullptr);
  }
  std::vector<std::string> records(std::string_view job, std::size_t limit = 100) {
    auto r = store_->run_records(job, limit);
    EXPECT_THAT(r, IsOk());
    return r ? summary(*r) : std::vector<std::string>{"(error)"};
  }

  std::unique_ptr<Store> store_;
  const std::chrono::sys_seconds slot_ = now_s() - 60s;
};

TEST_P(LedgerBackendTest, AnEntryIsReadBackAndReplacedByTheLastWrite) {
  ASSERT_THAT(store_->put_run_record("backup", slot_, R"({"state":"running"})"), IsOk());
  EXPECT_EQ(records("backup"), std::vector{entry("backup", slot_, R"({"state":"running"})")});
  ASSERT_THAT(store_->put_run_record("backup", slot_, R"({"state":"done"})"), IsOk());
  EXPECT_EQ(records("backup"), std::vector{entry("backup", slot_, R"({"state":"done"})")});
  EXPECT_EQ(records(""), std::vector{entry("backup", slot_, R"({"state":"done"})")});
}

TEST_P(LedgerBackendTest, EntriesComeNewestFirstThenByJobUpToTheLimit) {
  const auto s0 = slot_ - 120s;
  const auto s1 = slot_ - 60s;
  const auto s2 = slot_;
  for (const auto& [job, slot] : {std::pair{"b", s1}, std::pair{"c", s0}, std::pair{"a", s1},
                                  std::pair{"a", s2}, std::pair{"ab", s1}, std::pair{"B", s1}}) {
    ASSERT_THAT(store_->put_run_record(job, slot, std::string(job) + "!"), IsOk());
  }
  const std::vector<std::string> all = {entry("a", s2, "a!"), entry("B", s1, "B!"),
                                        entry("a", s1, "a!"), entry("ab", s1, "ab!"),
                                        entry("b", s1, "b!"), entry("c", s0, "c!")};
  EXPECT_EQ(records(""), all);
  for (std::size_t limit : {0, 1, 2, 3, 5}) {
    EXPECT_EQ(records("", limit), std::vector(all.begin(), all.begin() + limit)) << limit;
  }
  EXPECT_EQ(records("a"), (std::vector{entry("a", s2, "a!"), entry("a", s1, "a!")}));
  EXPECT_EQ(records("a", 1), std::vector{entry("a", s2, "a!")});
  EXPECT_EQ(records("nobody"), std::vector<std::string>{});
}

TEST_P(LedgerBackendTest, ManyEntriesArePagedThroughInOrder) {
  // More than one page (256) of every backend that pages.
  constexpr int kEntries = 300;
  for (int i = 0; i < kEntries; ++i) {
    ASSERT_THAT(store_->put_run_record("job" + std::to_string(i % 3), slot_ - i * 1s, "x"), IsOk());
  }
  auto all = store_->run_records("", 1000);
  ASSERT_THAT(all, IsOk());
  ASSERT_EQ(all->size(), static_cast<std::size_t>(kEntries));
  for (int i = 0; i < kEntries; ++i) {
    EXPECT_EQ((*all)[i].slot, slot_ - i * 1s);
  }
  auto one = store_->run_records("job1", 1000);
  ASSERT_THAT(one, IsOk());
  EXPECT_EQ(one->size(), static_cast<std::size_t>(kEntries / 3));
}

TEST_P(LedgerBackendTest, AnEntryPastItsRetentionIsNotKept) {
  ASSERT_THAT(store_->put_run_record("old", now_s() - 10s, "stale", 1s), IsOk());
  EXPECT_EQ(records("old"), std::vector<std::string>{});
  EXPECT_EQ(records(""), std::vector<std::string>{});
}

TEST_P(LedgerBackendTest, AnEntryGoesAfterItsRetention) {
  // 3 s, not 1: the slot is this whole second, so slot + 1 s may be a few ms away when the read
  // below comes (a loaded run saw it gone already).
  const auto first = now_s();
  ASSERT_THAT(store_->put_run_record("short", first, "first", 3s), IsOk());
  ASSERT_THAT(store_->put_run_record("long", first, "kept", 3600s), IsOk());
  EXPECT_EQ(records("short"), std::vector{entry("short", first, "first")});
  // Gone once its slot + 3 s has passed: at once on Redis and PostgreSQL, after the job's next
  // write on etcd (which removes on write).
  EXPECT_TRUE(eventually(
      [&] {
        std::this_thread::sleep_for(50ms);
        const auto later = now_s();
        if (later <= first + 3s || !store_->put_run_record("short", later, "later", 3s)) {
          return false;
        }
        auto left = store_->run_records("short", 100);
        return left && std::none_of(left->begin(), left->end(),
                                    [&](const auto& r) { return r.slot == first; });
      },
      15s));
  auto all = store_->run_records("", 100);
  ASSERT_THAT(all, IsOk());
  EXPECT_TRUE(std::any_of(all->begin(), all->end(), [](const auto& r) { return r.job == "long"; }));
  EXPECT_TRUE(std::none_of(all->begin(), all->end(),
                           [&](const auto& r) { return r.job == "short" && r.slot == first; }));
}

TEST_P(LedgerBackendTest, OddJobNamesCollideWithNothing) {
  const std::vector<std::string> jobs = {
      "a",     "a:b",       "a/b", "a%2Fb", "a b",      "a@1",         "lock:x",         "slot:x@1",
      "run:a", "run-index", "x/",  "/y",    "ünï/cödé", "日本:ジョブ", "a:heartlock-ish"};
  for (const auto& job : jobs) {
    ASSERT_THAT(store_->put_run_record(job, slot_, "data of " + job), IsOk()) << job;
    ASSERT_THAT(store_->claim_slot(job, slot_), IsOk()) << job;
  }
  auto held = store_->try_acquire("a", {.ttl = 10s});
  ASSERT_THAT(held, IsAcquired());
  for (const auto& job : jobs) {
    EXPECT_EQ(records(job), std::vector{entry(job, slot_, "data of " + job)}) << job;
    auto last = store_->last_slot(job);
    ASSERT_THAT(last, IsOk());
    EXPECT_EQ(*last, slot_) << job;
  }
  auto all = store_->run_records("", 100);
  ASSERT_THAT(all, IsOk());
  std::set<std::string> seen;
  for (const auto& r : *all) {
    EXPECT_EQ(r.data, "data of " + r.job);
    seen.insert(r.job);
  }
  EXPECT_EQ(seen, std::set<std::string>(jobs.begin(), jobs.end()));
  // The ledger's keys are no locks.
  auto locks = store_->list();
  ASSERT_THAT(locks, IsOk());
  for (const auto& info : *locks) {
    EXPECT_EQ(info.name, "a");
  }
}

TEST_P(LedgerBackendTest, DataIsKeptByteForByte) {
  std::string data;
  for (int i = 0; i < 256; ++i) {
    data.push_back(static_cast<char>(i));
  }
  ASSERT_THAT(store_->put_run_record("bytes", slot_, data), IsOk());
  const std::string largest(kMaxRunRecordBytes, 'z');
  ASSERT_THAT(store_->put_run_record("largest", slot_, largest), IsOk());
  ASSERT_THAT(store_->put_run_record("empty", slot_, ""), IsOk());
  auto r = store_->run_records("bytes", 1);
  ASSERT_THAT(r, IsOk());
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(r->front().data, data);
  EXPECT_EQ(records("largest"), std::vector{entry("largest", slot_, largest)});
  EXPECT_EQ(records("empty"), std::vector{entry("empty", slot_, "")});
}

TEST_P(LedgerBackendTest, BadArgumentsAreRefusedBeforeAnyIo) {
  EXPECT_THAT(store_->put_run_record("", slot_, "x"), HasErrc(Errc::invalid_argument));
  EXPECT_THAT(store_->put_run_record("a\nb", slot_, "x"), HasErrc(Errc::invalid_argument));
  EXPECT_THAT(store_->put_run_record("a", slot_, "x", 0s), HasErrc(Errc::invalid_argument));
  EXPECT_THAT(store_->put_run_record("a", slot_, "x", -5s), HasErrc(Errc::invalid_argument));
  EXPECT_THAT(store_->put_run_record("a", slot_, std::string(kMaxRunRecordBytes + 1, 'z')),
              HasErrc(Errc::invalid_argument));
  EXPECT_THAT(store_->run_records("a\x01", 10), HasErrc(Errc::invalid_argument));
  EXPECT_THAT(store_->run_records("\xff", 10), HasErrc(Errc::invalid_argument));
  EXPECT_EQ(records("a"), std::vector<std::string>{});
}

INSTANTIATE_TEST_SUITE_P(Backends, LedgerBackendTest,
                         ::testing::ValuesIn(testing::network_backends()),
                         [](const auto& param) { return param.param.name; });

// Checks come before any I/O: a store whose server is not there still answers invalid_argument.
TEST(LedgerArgumentsTest, AreCheckedWithoutAServer) {
  std::vector<std::string> urls;
  const std::string port = std::to_string(testing::free_port());
#ifdef HEARTLOCK_WITH_REDIS
  urls.push_back("redis://127.0.0.1:" + port);
#endif
#ifdef HEARTLOCK_WITH_POSTGRES
  urls.push_back("postgres://nobody@127.0.0.1:" + port + "/db");
  urls.push_back("postgres://nobody@127.0.0.1:" + port + "/db?mode=advisory");
#endif
#ifdef HEARTLOCK_WITH_ETCD
  urls.push_back("etcd://127.0.0.1:" + port);
#endif
  for (const auto& url : urls) {
    auto store = testing::open_store(url);
    ASSERT_NE(store, nullptr) << url;
    const auto slot = now_s();
    EXPECT_THAT(store->put_run_record("", slot, "x"), HasErrc(Errc::invalid_argument)) << url;
    EXPECT_THAT(store->put_run_record("a", slot, "x", 0s), HasErrc(Errc::invalid_argument)) << url;
    EXPECT_THAT(store->put_run_record("a", slot, std::string(kMaxRunRecordBytes + 1, 'z')),
                HasErrc(Errc::invalid_argument))
        << url;
    EXPECT_THAT(store->run_records("a\n", 1), HasErrc(Errc::invalid_argument)) << url;
    // ... and a good request finds the server missing.
    EXPECT_THAT(store->put_run_record("a", slot, "x"), HasErrc(Errc::unavailable)) << url;
    EXPECT_THAT(store->run_records("", 1), HasErrc(Errc::unavailable)) << url;
  }
}

#ifdef HEARTLOCK_WITH_ETCD
// etcd removes on write, by the write's retention, a bounded number per write (each with its copy
// in every job's order, in one transaction within etcd's limit of operations).
TEST(EtcdLedgerTest, WritesRemoveTheJobsExpiredEntriesAndTheirCopies) {
  std::string prefix = testing::unique_prefix();
  prefix.back() = '/';
  auto store = testing::open_store(testing::shared_etcd().url() + "?prefix=" + prefix);
  const auto now = now_s();
  for (int i = 0; i < 40; ++i) {
    ASSERT_THAT(store->put_run_record("gc", now - 100s - i * 1s, "old", 3600s), IsOk());
  }
  ASSERT_THAT(store->put_run_record("other", now - 200s, "kept", 3600s), IsOk());
  auto count = [&](std::string_view job) {
    auto r = store->run_records(job, 1000);
    EXPECT_THAT(r, IsOk());
    return r ? r->size() : 0;
  };
  ASSERT_EQ(count("gc"), 40u);
  ASSERT_THAT(store->put_run_record("gc", now, "new", 30s), IsOk());
  EXPECT_EQ(count("gc"), 41u - 32u);
  ASSERT_THAT(store->put_run_record("gc", now, "newer", 30s), IsOk());
  EXPECT_EQ(count("gc"), 1u);
  EXPECT_EQ(count(""), 2u);  // the copies went too; another job's entries stay
}
#endif

#ifdef HEARTLOCK_WITH_REDIS
// cronlock's key layout keeps the ledger beside cronlock's keys, never where a lock is read.
TEST(RedisLedgerTest, CronlockLayoutKeepsTheLedgerOutOfTheLocks) {
  auto store = testing::open_store(testing::shared_redis().url() +
                                   "?compat=cronlock&prefix=" + testing::unique_prefix());
  const auto slot = now_s();
  for (const std::string job : {"a", "a:b", "a b", "run", "ünï/cödé"}) {
    ASSERT_THAT(store->put_run_record(job, slot, "d " + job), IsOk()) << job;
  }
  EXPECT_THAT(store->put_run_record("x:heartlock:run", slot, "d"), HasErrc(Errc::invalid_argument));
  auto one = store->run_records("a", 10);
  ASSERT_THAT(one, IsOk());
  EXPECT_EQ(summary(*one), std::vector{entry("a", slot, "d a")});
  auto all = store->run_records("", 10);
  ASSERT_THAT(all, IsOk());
  EXPECT_EQ(summary(*all), (std::vector{entry("a", slot, "d a"), entry("a b", slot, "d a b"),
                                        entry("a:b", slot, "d a:b"), entry("run", slot, "d run"),
                                        entry("ünï/cödé", slot, "d ünï/cödé")}));
  auto locks = store->list();
  ASSERT_THAT(locks, IsOk());
  EXPECT_TRUE(locks->empty()) << locks->front().name;
}

// Redlock over three servers of its own, which the tests take down.
class RedlockLedgerTest : public ::testing::Test {
 protected:
  std::string url(const std::vector<int>& which = {0, 1, 2}) const {
    std::string u = "redis://";
    for (int i : which) {
      u += (u.size() > 8 ? "," : "") + std::string("127.0.0.1:") +
           std::to_string(nodes_[static_cast<std::size_t>(i)].port());
    }
    return u + "?prefix=" + prefix_;
  }
  std::array<testing::RedisServer, 3> nodes_;
  const std::string prefix_ = testing::unique_prefix();
  const std::chrono::sys_seconds slot_ = now_s();
};

TEST_F(RedlockLedgerTest, OneNodeDownStillWorksTwoDownIsUnavailable) {
  auto store = testing::open_store(url());
  ASSERT_THAT(store->put_run_record("job", slot_ - 60s, "before"), IsOk());
  nodes_[1].kill();
  ASSERT_THAT(store->put_run_record("job", slot_, "one down"), IsOk());
  auto r = store->run_records("job", 10);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(summary(*r),
            (std::vector{entry("job", slot_, "one down"), entry("job", slot_ - 60s, "before")}));
  nodes_[2].kill();
  auto put = store->put_run_record("job", slot_, "two down");
  ASSERT_THAT(put, HasErrc(Errc::unavailable));
  EXPECT_NE(put.error().message.find("1 of 3"), std::string::npos) << put.error().message;
  auto read = store->run_records("", 10);
  ASSERT_THAT(read, HasErrc(Errc::unavailable));
  EXPECT_NE(read.error().message.find("1 of 3"), std::string::npos) << read.error().message;
}

TEST_F(RedlockLedgerTest, NodesThatDisagreeAreMergedByMajority) {
  auto store = testing::open_store(url());
  ASSERT_THAT(store->put_run_record("job", slot_, "majority"), IsOk());
  // One node alone holds another value for the same entry, and an entry nobody else has.
  auto lone = testing::open_store(url({2}));
  ASSERT_THAT(lone->put_run_record("job", slot_, "minority"), IsOk());
  ASSERT_THAT(lone->put_run_record("job", slot_ - 60s, "only here"), IsOk());
  auto r = store->run_records("job", 10);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(summary(*r),
            (std::vector{entry("job", slot_, "majority"), entry("job", slot_ - 60s, "only here")}));
  // The lone node restarts empty (no persistence): the majority's entries are all that is left.
  nodes_[2].kill();
  nodes_[2].start();
  auto again = store->run_records("", 10);
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(summary(*again), std::vector{entry("job", slot_, "majority")});
}
#endif

}  // namespace
}  // namespace heartlock
