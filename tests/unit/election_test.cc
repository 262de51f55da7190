// Election and Leadership (include/heartlock/leader.h) on the file backend: campaigns, hand-overs,
// stops, the observers' view and the leader mark. The fault tests on every backend (a leader
// killed, a leader paused past its ttl) are in integration/leader_fault_test.cc.
#include <atomic>
#include <future>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "heartlock/leader.h"

#include "../support/test_support.h"

namespace heartlock {
namespace {

using namespace std::chrono_literals;
using testing::HasErrc;
using testing::IsOk;

class ElectionTest : public ::testing::Test {
 protected:
  std::unique_ptr<Store> open() { return testing::open_store("file://" + dir_.path()); }

  testing::TempDir dir_;
  std::unique_ptr<Store> store_ = open();
};

TEST_F(ElectionTest, CampaignLeadsAtOnceWhenNobodyLeads) {
  Election election(*store_, "primary", {.ttl = 5s});
  auto led = election.campaign({});
  ASSERT_THAT(led, IsOk());
  ASSERT_TRUE(led->has_value());
  Leadership& me = **led;
  EXPECT_GT(me.token(), 0u);
  EXPECT_EQ(me.name(), "primary");
  EXPECT_FALSE(me.lost());
  EXPECT_FALSE(me.stop_token().stop_requested());
  EXPECT_GT(me.valid_until(), BootClock::now());
  EXPECT_THAT(me.resign(), IsOk());
  EXPECT_TRUE(me.resigned());
}

TEST_F(ElectionTest, LeaderReportsTheHolderAndNobodyOnceResigned) {
  Election election(*store_, "primary", {.ttl = 5s});
  auto nobody = election.leader();
  ASSERT_THAT(nobody, IsOk());
  EXPECT_FALSE(nobody->has_value());
  auto led = election.campaign({});
  ASSERT_TRUE(led && led->has_value());
  auto now = election.leader();
  ASSERT_THAT(now, IsOk());
  ASSERT_TRUE(now->has_value());
  EXPECT_EQ((*now)->token, (*led)->token());
  EXPECT_EQ((*now)->pid, ::getpid());
  EXPECT_EQ((*now)->command, "leader of primary");
  EXPECT_THAT((*led)->resign(), IsOk());
  auto after = election.leader();
  ASSERT_THAT(after, IsOk());
  EXPECT_FALSE(after->has_value());
}

TEST_F(ElectionTest, ResignHandsOverToAWaitingCampaignerWithAHigherToken) {
  auto other = open();
  Election first(*store_, "primary", {.ttl = 5s});
  Election second(*other, "primary", {.ttl = 5s});
  auto led = first.campaign({});
  ASSERT_TRUE(led && led->has_value());
  auto waiting = std::async(std::launch::async, [&] { return second.campaign({}); });
  EXPECT_EQ(waiting.wait_for(200ms), std::future_status::timeout) << "led beside the leader";
  const auto old_token = (*led)->token();
  EXPECT_THAT((*led)->resign(), IsOk());
  EXPECT_THAT((*led)->resign(), IsOk()) << "resign is idempotent";
  ASSERT_EQ(waiting.wait_for(20s), std::future_status::ready) << "not woken by the resignation";
  auto next = waiting.get();
  ASSERT_TRUE(next && next->has_value());
  EXPECT_GT((*next)->token(), old_token);
}

TEST_F(ElectionTest, DestroyingTheLeadershipResigns) {
  Election election(*store_, "primary", {.ttl = 5s});
  std::uint64_t first = 0;
  {
    auto led = election.campaign({});
    ASSERT_TRUE(led && led->has_value());
    first = (*led)->token();
  }
  std::stop_source stopped;
  stopped.request_stop();
  auto again = election.campaign(stopped.get_token());  // one try: the lock must be free
  ASSERT_TRUE(again && again->has_value());
  EXPECT_GT((*again)->token(), first);
}

TEST_F(ElectionTest, AStoppedCampaignReturnsPromptlyWithoutLeading) {
  auto other = open();
  Election first(*store_, "primary", {.ttl = 5s});
  Election second(*other, "primary", {.ttl = 5s});
  auto led = first.campaign({});
  ASSERT_TRUE(led && led->has_value());
  std::stop_source stop;
  auto waiting = std::async(std::launch::async, [&] { return second.campaign(stop.get_token()); });
  EXPECT_EQ(waiting.wait_for(200ms), std::future_status::timeout) << "led beside the leader";
  stop.request_stop();
  // Promptly: long before the leader's ttl, which alone could end the wait otherwise.
  ASSERT_EQ(waiting.wait_for(3s), std::future_status::ready) << "the stop did not end the wait";
  auto gave_up = waiting.get();
  ASSERT_THAT(gave_up, IsOk());
  EXPECT_FALSE(gave_up->has_value());
  EXPECT_FALSE((*led)->lost());
}

TEST_F(ElectionTest, ACampaignAlreadyStoppedMakesOneTry) {
  Election election(*store_, "primary", {.ttl = 5s});
  auto led = election.campaign({});
  ASSERT_TRUE(led && led->has_value());
  std::stop_source stopped;
  stopped.request_stop();
  auto other = open();
  Election second(*other, "primary", {.ttl = 5s});
  auto busy = second.campaign(stopped.get_token());
  ASSERT_THAT(busy, IsOk());
  EXPECT_FALSE(busy->has_value());
}

// Two campaigners, each leading in turn many times: never two leaders at once, and every new
// term's token is above every earlier one.
TEST_F(ElectionTest, TwoCampaignersLeadOneAtATimeWithIncreasingTokens) {
  constexpr int kTerms = 25;
  std::atomic<int> leaders{0};
  std::atomic<int> overlaps{0};
  std::atomic<int> backwards{0};
  std::atomic<std::uint64_t> last_token{0};
  std::atomic<int> last_leader{-1};
  std::atomic<int> hand_overs{0};
  auto campaigner = [&](int me) {
    auto store = open();
    Election election(*store, "primary", {.ttl = 5s});
    for (int term = 0; term < kTerms; ++term) {
      auto led = election.campaign({});
      if (!led || !led->has_value()) {
        return false;
      }
      if (leaders.fetch_add(1) != 0) {
        ++overlaps;
      }
      const std::uint64_t token = (*led)->token();
      if (token <= last_token.exchange(token)) {
        ++backwards;
      }
      if (last_leader.exchange(me) != me) {
        ++hand_overs;
      }
      std::this_thread::sleep_for(1ms);  // the leader's work
      leaders.fetch_sub(1);
      if (!(*led)->resign()) {
        return false;
      }
      std::this_thread::sleep_for(5ms);  // room for the other campaigner, woken by the resignation
    }
    return true;
  };
  auto a = std::async(std::launch::async, campaigner, 0);
  auto b = std::async(std::launch::async, campaigner, 1);
  ASSERT_EQ(a.wait_for(60s), std::future_status::ready);
  ASSERT_EQ(b.wait_for(60s), std::future_status::ready);
  EXPECT_TRUE(a.get());
  EXPECT_TRUE(b.get());
  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_EQ(backwards.load(), 0);
  EXPECT_GT(hand_overs.load(), 1) << "the campaigners never took turns";
}

// Leadership ends at the lease's deadline, whoever notices: here max_hold, timed by the lease's
// timer. The stop token is stopped, lost() says why, and resign() reports the loss.
TEST_F(ElectionTest, LosingTheLeaseStopsTheLeadership) {
  Election election(*store_, "primary", {.ttl = 5s, .max_hold = 300ms});
  auto led = election.campaign({});
  ASSERT_TRUE(led && led->has_value());
  Leadership& me = **led;
  ASSERT_TRUE(testing::eventually([&] { return me.stop_token().stop_requested(); }, 20s));
  EXPECT_TRUE(me.lost());
  EXPECT_EQ(me.lost_reason(), LostReason::max_hold);
  EXPECT_THAT(me.resign(), HasErrc(Errc::lost));
}

TEST_F(ElectionTest, AnElectionWithoutKeepaliveIsRefused) {
  Election election(*store_, "primary", {.ttl = 5s, .keepalive = false});
  EXPECT_THAT(election.campaign({}), HasErrc(Errc::invalid_argument));
}

TEST_F(ElectionTest, ABadNameIsRefused) {
  Election election(*store_, "", {.ttl = 5s});
  EXPECT_THAT(election.campaign({}), HasErrc(Errc::invalid_argument));
  EXPECT_THAT(election.leader(), HasErrc(Errc::invalid_argument));
}

TEST(LeaderMark, NamesTheElectionAndKeepsTheCallersCommand) {
  EXPECT_EQ(leader_command("primary", ""), "leader of primary");
  EXPECT_EQ(leader_command("primary", "indexer --shard 3"), "leader of primary: indexer --shard 3");
}

TEST(LeaderMark, OnlyTheMarkOfTheLocksOwnNameCounts) {
  auto lock = [](std::string name, std::string command, bool foreign = false) {
    return LockInfo{.name = std::move(name),
                    .state = LockState::held,
                    .holder = Holder{.command = std::move(command), .foreign = foreign}};
  };
  EXPECT_TRUE(is_leader_lock(lock("primary", "leader of primary")));
  EXPECT_TRUE(is_leader_lock(lock("primary", "leader of primary: indexer")));
  EXPECT_FALSE(is_leader_lock(lock("primary", "leader of primary2")));
  EXPECT_FALSE(is_leader_lock(lock("primary", "leader of secondary")));
  EXPECT_FALSE(is_leader_lock(lock("job", "sh -c leader of job")));
  EXPECT_FALSE(is_leader_lock(lock("primary", "leader of primary", true)));
  EXPECT_FALSE(is_leader_lock(LockInfo{.name = "primary"}));
}

}  // namespace
}  // namespace heartlock
