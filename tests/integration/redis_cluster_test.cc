// Redis with several servers: Redlock over three independent masters (nodes die and come back
// empty) and Sentinel following a failover, all real redis-server processes on loopback.
#include <chrono>
#include <optional>
#include <thread>

#include <gtest/gtest.h>

#include "heartlock/heartlock.h"

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

class RedlockTest : public ::testing::Test {
 protected:
  std::string url() const {
    std::string u = "redis://";
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      u += (i > 0 ? "," : "") + std::string("127.0.0.1:") + std::to_string(nodes_[i].port());
    }
    return u;
  }
  std::array<testing::RedisServer, 3> nodes_;
};

TEST_F(RedlockTest, OneNodeDownStillWorksTwoDownIsUnavailable) {
  auto store = testing::open_store(url());
  auto held = store->try_acquire("job", {.ttl = 600ms});
  ASSERT_THAT(held, IsAcquired());
  nodes_[2].kill();
  std::this_thread::sleep_for(1500ms);  // renewed on the two left, past two ttls
  EXPECT_FALSE(held->lease().lost());
  auto other = testing::open_store(url());
  EXPECT_THAT(other->try_acquire("job", {}), IsBusy());
  auto info = other->inspect("job");
  ASSERT_THAT(info, IsOk());
  EXPECT_EQ(info->holder->token, held->lease().token());
  EXPECT_NE(info->detail.find("on 2 of 3 nodes"), std::string::npos) << info->detail;
  EXPECT_THAT(held->lease().release(), IsOk());
  auto again = other->try_acquire("job", {.ttl = 600ms});
  ASSERT_THAT(again, IsAcquired());
  EXPECT_GT(again->lease().token(), held->lease().token());

  nodes_[1].kill();
  auto down = testing::open_store(url())->try_acquire("other", {});
  ASSERT_THAT(down, HasErrc(Errc::unavailable));
  EXPECT_NE(down.error().message.find("1 of 3"), std::string::npos) << down.error().message;
  // The lease held on the last node cannot be confirmed by a majority: lost before its ttl.
  ASSERT_TRUE(eventually([&] { return again->lease().lost(); }, 10s));
  EXPECT_EQ(again->lease().lost_reason(), LostReason::backend_lost);
}

TEST_F(RedlockTest, TokensIncreaseWhileNodesRestartEmpty) {
  std::uint64_t last = 0;
  for (int round = 0; round < 9; ++round) {
    // One node at a time loses everything (no persistence in these servers): its counter starts
    // again at 0, and the token must still grow.
    nodes_[round % 3].kill();
    nodes_[round % 3].start();
    auto store = testing::open_store(url());
    for (int i = 0; i < 3; ++i) {
      auto got = store->try_acquire("job", {});
      ASSERT_THAT(got, IsAcquired()) << round;
      EXPECT_GT(got->lease().token(), last) << "round " << round;
      last = got->lease().token();
    }
  }
}

TEST_F(RedlockTest, AMinorityHolderDoesNotBlockAMajority) {
  // A lock left on one node only (a crashed acquirer's partial grant) is not a holder.
  auto single = testing::open_store("redis://127.0.0.1:" + std::to_string(nodes_[0].port()));
  auto partial = single->try_acquire("job", {.ttl = 30s});
  ASSERT_THAT(partial, IsAcquired());
  auto store = testing::open_store(url());
  auto info = store->inspect("job");
  ASSERT_THAT(info, IsOk());
  EXPECT_NE(info->detail.find("not a majority"), std::string::npos) << info->detail;
  // Its node refuses; the other two grant: a majority.
  EXPECT_THAT(store->try_acquire("job", {}), IsAcquired());
}

// A won slot is on a majority, and any majority of answers includes one of its nodes.
TEST_F(RedlockTest, LastSlotNeedsAMajorityAndTakesTheLargestAnswer) {
  auto store = testing::open_store(url());
  const auto s = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()) + 60s;
  ASSERT_TRUE(store->claim_slot("nightly", s)->won);
  ASSERT_TRUE(store->claim_slot("nightly", s + 5s)->won);
  nodes_[2].kill();
  auto last = store->last_slot("nightly");
  ASSERT_THAT(last, IsOk());
  EXPECT_EQ(*last, std::optional(s + 5s));
  ASSERT_TRUE(store->claim_slot("nightly", s + 7s)->won);  // on nodes 0 and 1 only
  // Node 2 comes back empty, node 0 goes: node 1 alone knows s + 7 s.
  nodes_[2].start();
  nodes_[0].kill();
  last = testing::open_store(url())->last_slot("nightly");
  ASSERT_THAT(last, IsOk());
  EXPECT_EQ(*last, std::optional(s + 7s));
  nodes_[1].kill();
  auto down = store->last_slot("nightly");
  ASSERT_THAT(down, HasErrc(Errc::unavailable));
  EXPECT_NE(down.error().message.find("1 of 3"), std::string::npos) << down.error().message;
}

TEST(RedisSentinelTest, FollowsAFailoverAndKeepsTheLease) {
  testing::RedisServer master;
  testing::RedisServer replica({"--replicaof", "127.0.0.1", std::to_string(master.port())});
  auto sentinel = testing::RedisServer::sentinel(master.port(), "fo");
  const std::string url = "redis-sentinel://127.0.0.1:" + std::to_string(sentinel->port()) + "/fo";
  ASSERT_TRUE(eventually(
      [&] {
        auto r = testing::run_command(
            {"redis-cli", "-p", std::to_string(replica.port()), "INFO", "replication"});
        return r.out.find("master_link_status:up") != std::string::npos;
      },
      20s));
  auto store = testing::open_store(url);
  auto held = store->try_acquire("job", {.ttl = 3s});
  ASSERT_THAT(held, IsAcquired());
  const std::string sp = std::to_string(sentinel->port());
  // Replicated before the switch (WAIT), so the new master knows the lease.
  auto waited =
      testing::run_command({"redis-cli", "-p", std::to_string(master.port()), "WAIT", "1", "5000"});
  ASSERT_EQ(waited.out, "1\n") << waited.err;
  // The Sentinel learns about the replica from the master within seconds; then it can fail over.
  ASSERT_TRUE(eventually(
      [&] {
        auto r = testing::run_command({"redis-cli", "-p", sp, "SENTINEL", "FAILOVER", "fo"});
        return r.out == "OK\n";
      },
      40s));
  ASSERT_TRUE(eventually(
      [&] {
        auto r = testing::run_command(
            {"redis-cli", "-p", sp, "SENTINEL", "get-master-addr-by-name", "fo"});
        return r.out.find(std::to_string(replica.port())) != std::string::npos;
      },
      30s));
  // The holder follows: renewals reach the new master and the lease survives.
  std::this_thread::sleep_for(4s);
  EXPECT_FALSE(held->lease().lost());
  auto other = testing::open_store(url);
  auto busy = other->try_acquire("job", {});
  ASSERT_THAT(busy, IsBusy());
  EXPECT_EQ(busy->holder().holder->token, held->lease().token());
  EXPECT_THAT(held->lease().release(), IsOk());
  auto next = other->try_acquire("job", {});
  ASSERT_THAT(next, IsAcquired());
  EXPECT_GT(next->lease().token(), held->lease().token());
}

}  // namespace
}  // namespace heartlock
