// The contract every backend meets. Each backend instantiates this suite with a factory; the
// tests speak only the public API. Timing: short ttls make the suite quick; nothing asserts how
// long something took, only what happened, waiting with bounded polls.
#include <atomic>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <stop_token>
#include <thread>

#include <gtest/gtest.h>

#include "heartlock/heartlock.h"

#include "../support/etcd_server.h"
#include "../support/postgres_server.h"
#include "../support/redis_server.h"
#include "../support/test_support.h"

namespace heartlock {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::HasErrc;
using testing::IsAcquired;
using testing::IsBusy;
using testing::IsOk;

// How a backend takes part: a fresh, isolated store location per test, opened as many times as a
// test needs (each open is an independent client).
struct Backend {
  std::string name;
  // Returns a URL for a new, empty place to keep locks.
  std::function<std::string(const testing::TempDir&)> new_url;
  StoreOptions options{};  // every store a test opens is opened with these
};

void PrintTo(const Backend& backend, std::ostream* os) { *os << backend.name; }

class StoreContract : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override { url_ = GetParam().new_url(dir_); }

  std::unique_ptr<Store> open() {
    auto store = Store::open(url_, GetParam().options);
    EXPECT_THAT(store, IsOk());
    return store ? std::move(*store) : nullptr;
  }

  testing::TempDir dir_;
  std::string url_;
};

TEST_P(StoreContract, AcquireBusyRelease) {
  auto a = open();
  auto b = open();
  auto first = a->try_acquire("job", {});
  ASSERT_THAT(first, IsAcquired());
  EXPECT_THAT(b->try_acquire("job", {}), IsBusy());
  EXPECT_THAT(first->lease().release(), IsOk());
  EXPECT_THAT(b->try_acquire("job", {}), IsAcquired());
}

TEST_P(StoreContract, BusyNamesTheHolder) {
  auto a = open();
  auto b = open();
  auto first = a->try_acquire("job", {.command = "backup --full"});
  ASSERT_THAT(first, IsAcquired());
  auto second = b->try_acquire("job", {});
  ASSERT_THAT(second, IsBusy());
  const LockInfo& info = second->holder();
  EXPECT_EQ(info.state, LockState::held);
  ASSERT_TRUE(info.holder);
  EXPECT_EQ(info.holder->owner, first->lease().owner());
  EXPECT_EQ(info.holder->token, first->lease().token());
  EXPECT_EQ(info.holder->pid, ::getpid());
  EXPECT_EQ(info.holder->command, "backup --full");
}

TEST_P(StoreContract, TokensIncreaseStrictlyAndOwnersAreUnique) {
  auto store = open();
  std::uint64_t last = 0;
  std::set<std::string> owners;
  for (int i = 0; i < 20; ++i) {
    auto got = store->try_acquire("job", {});
    ASSERT_THAT(got, IsAcquired());
    EXPECT_GT(got->lease().token(), last);
    last = got->lease().token();
    owners.insert(got->lease().owner());
  }
  EXPECT_EQ(owners.size(), 20u);
}

TEST_P(StoreContract, TokensSurviveReopeningTheStore) {
  std::uint64_t first = 0;
  {
    auto store = open();
    auto got = store->try_acquire("job", {});
    ASSERT_THAT(got, IsAcquired());
    first = got->lease().token();
  }
  auto store = open();
  auto got = store->try_acquire("job", {});
  ASSERT_THAT(got, IsAcquired());
  EXPECT_GT(got->lease().token(), first);
}

TEST_P(StoreContract, ReleaseIsIdempotent) {
  auto store = open();
  auto got = store->try_acquire("job", {});
  ASSERT_THAT(got, IsAcquired());
  EXPECT_THAT(got->lease().release(), IsOk());
  EXPECT_THAT(got->lease().release(), IsOk());
  EXPECT_TRUE(got->lease().released());
}

TEST_P(StoreContract, DestructorReleases) {
  auto store = open();
  { ASSERT_THAT(store->try_acquire("job", {}), IsAcquired()); }
  EXPECT_THAT(store->try_acquire("job", {}), IsAcquired());
}

TEST_P(StoreContract, BrokenLeaseIsFencedAndCannotHurtTheNewHolder) {
  auto a = open();
  auto b = open();
  auto old = a->try_acquire("job", {});
  ASSERT_THAT(old, IsAcquired());
  ASSERT_THAT(b->break_lease("job", old->lease().token()), IsOk());
  auto fresh = b->try_acquire("job", {});
  ASSERT_THAT(fresh, IsAcquired());
  EXPECT_GT(fresh->lease().token(), old->lease().token());
  EXPECT_THAT(old->lease().renew(), HasErrc(Errc::lost));
  EXPECT_EQ(old->lease().lost_reason(), LostReason::taken_over);
  EXPECT_THAT(old->lease().release(), HasErrc(Errc::lost));
  // The old holder's release did not free the new holder's lock.
  EXPECT_THAT(a->try_acquire("job", {}), IsBusy());
  EXPECT_THAT(fresh->lease().renew(), IsOk());
}

TEST_P(StoreContract, BreakLeaseWithAStaleTokenChangesNothing) {
  auto a = open();
  auto got = a->try_acquire("job", {});
  ASSERT_THAT(got, IsAcquired());
  EXPECT_THAT(a->break_lease("job", got->lease().token() - 1), HasErrc(Errc::not_owner));
  EXPECT_THAT(got->lease().renew(), IsOk());
}

TEST_P(StoreContract, KeepaliveHoldsTheLeaseFarPastItsTtl) {
  auto a = open();
  auto b = open();
  // Four ttls. A ttl of 90 ms was too thin for PostgreSQL under a loaded sanitizer build: one
  // renewal round trip took over two thirds of it and the lease lapsed (correctly).
  auto got = a->try_acquire("job", {.ttl = 300ms});
  ASSERT_THAT(got, IsAcquired());
  auto until = std::chrono::steady_clock::now() + 1200ms;
  while (std::chrono::steady_clock::now() < until) {
    ASSERT_THAT(b->try_acquire("job", {.ttl = 300ms}), IsBusy());
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_FALSE(got->lease().lost());
}

TEST_P(StoreContract, UnrenewedLeaseExpiresAndIsTakenOver) {
  auto a = open();
  auto b = open();
  auto old = a->try_acquire("job", {.ttl = 60ms, .keepalive = false});
  ASSERT_THAT(old, IsAcquired());
  std::optional<Lease> fresh = testing::acquire_eventually(*b, "job");
  ASSERT_TRUE(fresh);
  EXPECT_GT(fresh->token(), old->lease().token());
  EXPECT_THAT(old->lease().renew(), HasErrc(Errc::lost));
  EXPECT_THAT(old->lease().release(), HasErrc(Errc::lost));
  EXPECT_THAT(a->try_acquire("job", {}), IsBusy()) << "the old holder must not free the new lock";
}

TEST_P(StoreContract, DeadlockedHolderIsToldAndTakenOver) {
  auto a = open();
  auto b = open();
  std::atomic<int> calls{0};
  std::atomic<int> reason{-1};
  // The ttl is four times stale_after: the heartbeat's deadline comes first even if the loaded
  // machine confirms no renewal in time (a ttl below stale_after lost a loaded PostgreSQL run to
  // backend_lost before the deadlock showed).
  auto stuck = a->try_acquire(
      "job", {.ttl = 800ms, .stale_after = 200ms, .on_lost = [&](LostReason r, std::string_view) {
                reason = static_cast<int>(r);
                ++calls;
              }});
  ASSERT_THAT(stuck, IsAcquired());
  ASSERT_TRUE(eventually([&] { return stuck->lease().lost(); }));
  EXPECT_EQ(stuck->lease().lost_reason(), LostReason::deadlocked);
  EXPECT_EQ(reason.load(), static_cast<int>(LostReason::deadlocked));
  EXPECT_TRUE(stuck->lease().stop_token().stop_requested());
  std::optional<Lease> fresh = testing::acquire_eventually(*b, "job");
  ASSERT_TRUE(fresh);
  EXPECT_GT(fresh->token(), stuck->lease().token());
  EXPECT_EQ(calls.load(), 1);
}

TEST_P(StoreContract, HeartbeatsKeepAHolderFromBeingDeadlocked) {
  auto a = open();
  auto b = open();
  // Several renew intervals, with room for a sanitizer build's slow renewals.
  auto got = a->try_acquire("job", {.ttl = 300ms, .stale_after = 450ms});
  ASSERT_THAT(got, IsAcquired());
  auto until = std::chrono::steady_clock::now() + 1500ms;
  while (std::chrono::steady_clock::now() < until) {
    got->lease().heartbeat();
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_FALSE(got->lease().lost());
  EXPECT_THAT(b->try_acquire("job", {}), IsBusy());
}

TEST_P(StoreContract, MinHoldKeepsTheLockAfterAnEarlyRelease) {
  auto a = open();
  auto b = open();
  auto got = a->try_acquire("job", {.min_hold = 400ms});
  ASSERT_THAT(got, IsAcquired());
  ASSERT_THAT(got->lease().release(), IsOk());
  auto busy = b->try_acquire("job", {});
  ASSERT_THAT(busy, IsBusy());
  EXPECT_TRUE(busy->holder().min_hold_left.has_value());
  EXPECT_TRUE(eventually([&] {
    auto again = b->try_acquire("job", {});
    return again && again->acquired();
  }));
}

TEST_P(StoreContract, MaxHoldEndsTheLease) {
  auto a = open();
  auto b = open();
  auto got = a->try_acquire("job", {.max_hold = 150ms});
  ASSERT_THAT(got, IsAcquired());
  ASSERT_TRUE(eventually([&] { return got->lease().lost(); }));
  EXPECT_EQ(got->lease().lost_reason(), LostReason::max_hold);
  // The holder is told first (by its deadline), then the lease is released for others.
  EXPECT_TRUE(eventually([&] {
    auto r = b->try_acquire("job", {});
    return r && r->acquired();
  }));
}

TEST_P(StoreContract, WaiterGetsTheLockWhenItIsReleased) {
  auto a = open();
  auto b = open();
  auto held = a->try_acquire("job", {});
  ASSERT_THAT(held, IsAcquired());
  std::atomic<bool> got{false};
  std::uint64_t token = 0;
  std::thread waiter([&] {
    auto r = b->acquire("job", {}, 20s);
    if (r && r->acquired()) {
      token = r->lease().token();
      got = true;
    }
  });
  std::this_thread::sleep_for(50ms);  // let it start waiting; the assertion does not depend on it
  EXPECT_FALSE(got.load());
  ASSERT_THAT(held->lease().release(), IsOk());
  waiter.join();
  EXPECT_TRUE(got.load());
  EXPECT_GT(token, held->lease().token());
}

TEST_P(StoreContract, WaitGivesUpBusy) {
  auto a = open();
  auto b = open();
  auto held = a->try_acquire("job", {});
  ASSERT_THAT(held, IsAcquired());
  EXPECT_THAT(b->acquire("job", {}, 50ms), IsBusy());
}

TEST_P(StoreContract, AnUnboundedWaitIsWokenByTheRelease) {
  auto a = open();
  auto b = open();
  auto held = a->try_acquire("job", {});
  ASSERT_THAT(held, IsAcquired());
  // The release comes from another thread while this one waits without a limit (which must not
  // overflow any deadline on the way).
  std::jthread releaser([&] {
    std::this_thread::sleep_for(50ms);
    EXPECT_THAT(held->lease().release(), IsOk());
  });
  EXPECT_THAT(b->acquire("job", {}, kWaitForever), IsAcquired());
}

TEST_P(StoreContract, AStopRequestEndsAWaitPromptlyAndBusy) {
  auto a = open();
  auto b = open();
  auto held = a->try_acquire("job", {});
  ASSERT_THAT(held, IsAcquired());
  std::stop_source stop;
  std::optional<Result<Acquired>> result;
  std::chrono::steady_clock::time_point returned;
  std::thread waiter([&] {
    result = b->acquire("job", {}, kWaitForever, stop.get_token());
    returned = std::chrono::steady_clock::now();
  });
  std::this_thread::sleep_for(300ms);  // well into its wait (the assertions do not depend on it)
  const auto stopped = std::chrono::steady_clock::now();
  stop.request_stop();
  waiter.join();
  const auto took = std::chrono::duration_cast<std::chrono::microseconds>(returned - stopped);
  std::printf("[ measured ] %s: stop request to return %lld us\n", GetParam().name.c_str(),
              static_cast<long long>(took.count()));
  EXPECT_LT(took, 2s);
  ASSERT_TRUE(result.has_value());
  ASSERT_THAT(*result, IsBusy());
  EXPECT_EQ((*result)->holder().holder->owner, held->lease().owner());
  EXPECT_THAT(open()->try_acquire("job", {}), IsBusy()) << "the waiter must not hold it";
}

TEST_P(StoreContract, AStoppedTokenMakesExactlyOneTry) {
  auto a = open();
  auto b = open();
  std::stop_source stop;
  stop.request_stop();
  auto held = a->try_acquire("job", {});
  ASSERT_THAT(held, IsAcquired());
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THAT(b->acquire("job", {}, 20s, stop.get_token()), IsBusy());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  ASSERT_THAT(held->lease().release(), IsOk());
  EXPECT_THAT(b->acquire("job", {}, 20s, stop.get_token()), IsAcquired());
}

TEST_P(StoreContract, InspectAndListShowStates) {
  auto store = open();
  auto free_info = store->inspect("nobody");
  ASSERT_THAT(free_info, IsOk());
  EXPECT_EQ(free_info->state, LockState::free);
  auto got = store->try_acquire("jobs/a", {});
  ASSERT_THAT(got, IsAcquired());
  auto held = store->inspect("jobs/a");
  ASSERT_THAT(held, IsOk());
  EXPECT_EQ(held->state, LockState::held);
  EXPECT_EQ(held->holder->token, got->lease().token());
  {
    auto other = store->try_acquire("jobs/b", {});
    ASSERT_THAT(other, IsAcquired());
  }
  auto all = store->list();
  ASSERT_THAT(all, IsOk());
  std::map<std::string, LockState> states;
  for (const auto& info : *all) {
    states[info.name] = info.state;
  }
  EXPECT_EQ(states["jobs/a"], LockState::held);
  EXPECT_EQ(states["jobs/b"], LockState::free);
}

TEST_P(StoreContract, NamesThatLookLikePathsAreIndependentLocks) {
  auto store = open();
  std::vector<std::string> names = {"../x", "a/b", "a%2Fb", "with space", "naïve ☃", ".", ".."};
  std::vector<Lease> leases;
  for (const auto& name : names) {
    auto got = store->try_acquire(name, {});
    ASSERT_THAT(got, IsAcquired()) << name;
    leases.push_back(std::move(*got).lease());
  }
  for (const auto& name : names) {
    EXPECT_THAT(store->try_acquire(name, {}), IsBusy()) << name;
  }
}

std::chrono::sys_seconds this_second() {
  return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
}

TEST_P(StoreContract, ASlotIsWonOnceAndTellsWhoWon) {
  auto a = open();
  auto b = open();
  const auto slot = this_second() + std::chrono::minutes(1);
  auto first = a->claim_slot("nightly", slot);
  ASSERT_THAT(first, IsOk());
  EXPECT_TRUE(first->won);
  EXPECT_NE(first->claimed_by.find(std::to_string(::getpid())), std::string::npos)
      << first->claimed_by;
  auto second = b->claim_slot("nightly", slot);
  ASSERT_THAT(second, IsOk());
  EXPECT_FALSE(second->won);
  EXPECT_EQ(second->claimed_by, first->claimed_by);
  EXPECT_FALSE(a->claim_slot("nightly", slot)->won) << "not even twice by the same caller";
  EXPECT_TRUE(b->claim_slot("nightly", slot + std::chrono::seconds(1))->won);
  EXPECT_TRUE(b->claim_slot("hourly", slot)->won);
}

TEST_P(StoreContract, ASlotOlderThanTheRetentionIsNeverWon) {
  auto a = open();
  const auto old = this_second() - std::chrono::hours(2);
  auto r = a->claim_slot("nightly", old, std::chrono::hours(1));
  ASSERT_THAT(r, IsOk());
  EXPECT_FALSE(r->won);
  EXPECT_THAT(a->claim_slot("", old), HasErrc(Errc::invalid_argument));
  EXPECT_THAT(a->claim_slot("nightly", old, std::chrono::seconds(0)),
              HasErrc(Errc::invalid_argument));
}

TEST_P(StoreContract, LastSlotIsTheLatestClaimedForTheJob) {
  auto a = open();
  auto b = open();
  const auto s = this_second() + std::chrono::minutes(1);
  auto none = a->last_slot("nightly");
  ASSERT_THAT(none, IsOk());
  EXPECT_EQ(*none, std::nullopt);
  for (auto slot : {s, s + 5s, s + 2s}) {
    ASSERT_TRUE(a->claim_slot("nightly", slot)->won);
  }
  EXPECT_FALSE(b->claim_slot("nightly", s + 2s)->won);
  // Other jobs, one whose name starts with this one's, claim later slots.
  ASSERT_TRUE(b->claim_slot("nightly-full", s + 50s)->won);
  ASSERT_TRUE(b->claim_slot("hourly", s + 60s)->won);
  for (Store* store : {a.get(), b.get()}) {
    auto last = store->last_slot("nightly");
    ASSERT_THAT(last, IsOk());
    EXPECT_EQ(*last, std::optional(s + 5s));
  }
  EXPECT_EQ(*open()->last_slot("nightly-full"), std::optional(s + 50s));
  EXPECT_EQ(*a->last_slot("hourly"), std::optional(s + 60s));
}

TEST_P(StoreContract, LastSlotIgnoresSlotsNeverClaimedAndBadNames) {
  auto a = open();
  const auto old = this_second() - std::chrono::hours(2);
  ASSERT_FALSE(a->claim_slot("nightly", old, std::chrono::hours(1))->won);
  auto last = a->last_slot("nightly");
  ASSERT_THAT(last, IsOk());
  EXPECT_EQ(*last, std::nullopt) << "a slot older than the retention is never claimed";
  EXPECT_THAT(a->last_slot(""), HasErrc(Errc::invalid_argument));
  EXPECT_THAT(a->last_slot(std::string_view("a\0b", 3)), HasErrc(Errc::invalid_argument));
  EXPECT_THAT(a->last_slot(std::string(kMaxNameLength + 1, 'x')), HasErrc(Errc::invalid_argument));
}

// Three processes race for each of many slots: exactly one wins each.
TEST_P(StoreContract, ThreeProcessesRacingForEachSlotOneWinsIt) {
  constexpr int kSlots = 30;
  const auto base = this_second() + std::chrono::hours(1);
  const std::string log = dir_.file("winners");
  std::vector<testing::Child> racers;
  for (int p = 0; p < 3; ++p) {
    racers.push_back(testing::Child::fork([&]() -> int {
      auto store = Store::open(url_, GetParam().options);
      if (!store) {
        return 2;
      }
      for (int i = 0; i < kSlots; ++i) {
        auto r = (*store)->claim_slot("race", base + std::chrono::seconds(i));
        if (!r) {
          return 3;
        }
        if (r->won) {
          std::FILE* f = std::fopen(log.c_str(), "a");
          std::fprintf(f, "%d\n", i);
          std::fclose(f);
        }
      }
      return 0;
    }));
  }
  for (auto& r : racers) {
    EXPECT_EQ(r.exit_code(), 0);
  }
  std::vector<int> wins(kSlots, 0);
  std::FILE* f = std::fopen(log.c_str(), "r");
  ASSERT_NE(f, nullptr);
  for (int i = 0; std::fscanf(f, "%d", &i) == 1;) {
    ++wins.at(static_cast<std::size_t>(i));
  }
  std::fclose(f);
  for (int i = 0; i < kSlots; ++i) {
    EXPECT_EQ(wins[static_cast<std::size_t>(i)], 1) << "slot " << i;
  }
}

TEST_P(StoreContract, InvalidNamesAndOptionsAreRejected) {
  auto store = open();
  EXPECT_THAT(store->try_acquire("", {}), HasErrc(Errc::invalid_argument));
  EXPECT_THAT(store->try_acquire(std::string("a\0b", 3), {}), HasErrc(Errc::invalid_argument));
  EXPECT_THAT(store->try_acquire(std::string(513, 'x'), {}), HasErrc(Errc::invalid_argument));
  EXPECT_THAT(store->try_acquire("job", {.ttl = 30s, .stale_after = 10ms}),
              HasErrc(Errc::invalid_argument));
  EXPECT_THAT(store->inspect(""), HasErrc(Errc::invalid_argument));
  // One rule for every backend: UTF-8 text without control characters.
  for (std::string bad : {"caf\xc3", "\xff\xfe", "\x1b]0;pwned\x07", "a\nb"}) {
    EXPECT_THAT(store->try_acquire(bad, {}), HasErrc(Errc::invalid_argument));
    EXPECT_THAT(store->inspect(bad), HasErrc(Errc::invalid_argument));
  }
  auto snowman = store->try_acquire("jobs/☃ nightly", {});
  ASSERT_THAT(snowman, IsAcquired());
  EXPECT_THAT(snowman->lease().release(), IsOk());
}

INSTANTIATE_TEST_SUITE_P(File, StoreContract,
                         ::testing::Values(Backend{"file",
                                                   [](const testing::TempDir& dir) {
                                                     return "file://" + dir.path() + "/locks";
                                                   }}),
                         [](const auto& param_info) { return param_info.param.name; });

#ifdef HEARTLOCK_WITH_REDIS
// A real redis-server, one per test binary; each test gets its own key prefix.
INSTANTIATE_TEST_SUITE_P(Redis, StoreContract,
                         ::testing::Values(Backend{"redis",
                                                   [](const testing::TempDir&) {
                                                     return testing::shared_redis().url() +
                                                            "?prefix=" + testing::unique_prefix();
                                                   }}),
                         [](const auto& param_info) { return param_info.param.name; });

// cronlock's key layout (compat=cronlock): the same contract, with deadlines in whole seconds.
INSTANTIATE_TEST_SUITE_P(RedisCronlockLayout, StoreContract,
                         ::testing::Values(Backend{"cronlock",
                                                   [](const testing::TempDir&) {
                                                     return testing::shared_redis().url() +
                                                            "?compat=cronlock&prefix=" +
                                                            testing::unique_prefix();
                                                   }}),
                         [](const auto& param_info) { return param_info.param.name; });

// Redlock over three independent servers.
INSTANTIATE_TEST_SUITE_P(Redlock, StoreContract,
                         ::testing::Values(Backend{"redlock",
                                                   [](const testing::TempDir&) {
                                                     return testing::shared_redlock_url() +
                                                            "?prefix=" + testing::unique_prefix();
                                                   }}),
                         [](const auto& param_info) { return param_info.param.name; });

// The master a Sentinel names.
INSTANTIATE_TEST_SUITE_P(RedisSentinel, StoreContract,
                         ::testing::Values(Backend{"sentinel",
                                                   [](const testing::TempDir&) {
                                                     return testing::shared_sentinel_url() +
                                                            "?prefix=" + testing::unique_prefix();
                                                   }}),
                         [](const auto& param_info) { return param_info.param.name; });
#endif

#ifdef HEARTLOCK_WITH_POSTGRES
// A real PostgreSQL server, one per test binary; each test gets its own lease table.
INSTANTIATE_TEST_SUITE_P(Postgres, StoreContract,
                         ::testing::Values(Backend{"postgres",
                                                   [](const testing::TempDir&) {
                                                     static std::atomic<int> n{0};
                                                     return testing::shared_postgres().url(
                                                         "table=t" + std::to_string(::getpid()) +
                                                         "_" + std::to_string(n++));
                                                   }}),
                         [](const auto& param_info) { return param_info.param.name; });

// Advisory mode: session locks on pinned connections.
INSTANTIATE_TEST_SUITE_P(PostgresAdvisory, StoreContract,
                         ::testing::Values(Backend{"advisory",
                                                   [](const testing::TempDir&) {
                                                     static std::atomic<int> n{0};
                                                     return testing::shared_postgres().url(
                                                         "mode=advisory&table=a" +
                                                         std::to_string(::getpid()) + "_" +
                                                         std::to_string(n++));
                                                   }}),
                         [](const auto& param_info) { return param_info.param.name; });
#endif

#ifdef HEARTLOCK_WITH_ETCD
// A real etcd, one per test binary; each test gets its own key prefix.
INSTANTIATE_TEST_SUITE_P(Etcd, StoreContract,
                         ::testing::Values(Backend{"etcd",
                                                   [](const testing::TempDir&) {
                                                     std::string p = testing::unique_prefix();
                                                     p.back() = '/';
                                                     return testing::shared_etcd().url() +
                                                            "?prefix=" + p;
                                                   }}),
                         [](const auto& param_info) { return param_info.param.name; });

// A short-lived store (as `heartlock run` opens one): releases revoke the lease instead of keeping
// it as a spare. The same contract.
INSTANTIATE_TEST_SUITE_P(EtcdShortLived, StoreContract,
                         ::testing::Values(Backend{.name = "etcd_short_lived",
                                                   .new_url =
                                                       [](const testing::TempDir&) {
                                                         std::string p = testing::unique_prefix();
                                                         p.back() = '/';
                                                         return testing::shared_etcd().url() +
                                                                "?prefix=" + p;
                                                       },
                                                   .options = {.short_lived = true}}),
                         [](const auto& param_info) { return param_info.param.name; });
#endif

}  // namespace
}  // namespace heartlock
