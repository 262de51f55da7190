// The keepalive decisions, driven by explicit times (a fake clock) and a fake backend.
#include "../../src/core/lease_state.h"

#include <atomic>
#include <deque>
#include <thread>

#include <gtest/gtest.h>

#include "../support/test_support.h"

namespace heartlock::detail {
namespace {

using namespace std::chrono_literals;
using heartlock::testing::HasErrc;
using heartlock::testing::IsOk;

struct BackendLog {
  int renews = 0;
  int releases = 0;
  std::chrono::nanoseconds last_hold{-1};
  BootTime last_heartbeat{};
  std::deque<Result<std::optional<LostReason>>> renew_answers;
};

class FakeBackend final : public BackendLease {
 public:
  explicit FakeBackend(std::shared_ptr<BackendLog> log) : log_(std::move(log)) {}
  Result<std::optional<LostReason>> renew(BootTime last_heartbeat) override {
    ++log_->renews;
    log_->last_heartbeat = last_heartbeat;
    if (log_->renew_answers.empty()) {
      return std::optional<LostReason>();
    }
    auto answer = log_->renew_answers.front();
    log_->renew_answers.pop_front();
    return answer;
  }
  Result<std::optional<LostReason>> release(std::chrono::nanoseconds hold_for) override {
    ++log_->releases;
    log_->last_hold = hold_for;
    return std::optional<LostReason>();
  }

 private:
  std::shared_ptr<BackendLog> log_;
};

// Renews every lease it is given in one call, answering from a queue.
class FakeBatch final : public RenewBatch {
 public:
  std::vector<Result<std::optional<LostReason>>> renew_all(const std::vector<BackendLease*>& leases,
                                                           const std::vector<BootTime>&) override {
    ++calls;
    sizes.push_back(leases.size());
    std::vector<Result<std::optional<LostReason>>> out;
    for (std::size_t i = 0; i < leases.size(); ++i) {
      out.push_back(i < answers.size() ? answers[i] : std::optional<LostReason>());
    }
    return out;
  }
  int calls = 0;
  std::vector<std::size_t> sizes;
  std::vector<Result<std::optional<LostReason>>> answers;
};

class BatchedBackend final : public BackendLease {
 public:
  explicit BatchedBackend(FakeBatch* batch) : batch_(batch) {}
  Result<std::optional<LostReason>> renew(BootTime) override {
    return fail(Errc::internal, "batched leases must not renew alone");
  }
  Result<std::optional<LostReason>> release(std::chrono::nanoseconds) override {
    return std::optional<LostReason>();
  }
  RenewBatch* batch() override { return batch_; }

 private:
  FakeBatch* batch_;
};

class LeaseStateTest : public ::testing::Test {
 protected:
  // t0 is an arbitrary boot time; all times below are relative to it.
  static constexpr BootTime kT0 = BootTime(1'000'000'000'000);

  std::unique_ptr<LeaseState> make(LeaseOptions options) {
    options.on_lost = [this](LostReason reason, std::string_view) { lost_.push_back(reason); };
    return std::make_unique<LeaseState>(LeaseInit{.name = "job",
                                                  .owner = "me",
                                                  .location = "here",
                                                  .token = 7,
                                                  .options = std::move(options),
                                                  .acquired_at = kT0,
                                                  .backend = std::make_unique<FakeBackend>(log_)});
  }

  std::shared_ptr<BackendLog> log_ = std::make_shared<BackendLog>();
  std::vector<LostReason> lost_;
};

TEST_F(LeaseStateTest, RenewsEveryThirdOfTheTtl) {
  auto lease = make({.ttl = 30s});
  auto next = lease->tick(kT0 + 10s);
  ASSERT_TRUE(next);
  EXPECT_EQ(log_->renews, 1);
  EXPECT_EQ(*next, kT0 + 20s);
  lease->tick(kT0 + 20s);
  EXPECT_EQ(log_->renews, 2);
}

TEST_F(LeaseStateTest, EarlyTickDoesNotRenew) {
  auto lease = make({.ttl = 30s});
  auto next = lease->tick(kT0 + 1s);
  ASSERT_TRUE(next);
  EXPECT_EQ(log_->renews, 0);
  EXPECT_EQ(*next, kT0 + 10s);
}

TEST_F(LeaseStateTest, PublishesTheLastHeartbeatWhenRenewing) {
  auto lease = make({.ttl = 30s});
  lease->heartbeat(kT0 + 4s);
  lease->tick(kT0 + 10s);
  EXPECT_EQ(log_->last_heartbeat, kT0 + 4s);
}

TEST_F(LeaseStateTest, MissingHeartbeatPastStaleAfterIsDeadlocked) {
  auto lease = make({.ttl = 3s, .stale_after = 5s});
  lease->heartbeat(kT0 + 2s);
  ASSERT_TRUE(lease->tick(kT0 + 3s));
  EXPECT_FALSE(lease->lost_reason());
  EXPECT_FALSE(lease->tick(kT0 + 7s));  // 5 s after the last heartbeat
  EXPECT_EQ(lease->lost_reason(), LostReason::deadlocked);
  ASSERT_EQ(lost_.size(), 1u);
  EXPECT_EQ(lost_[0], LostReason::deadlocked);
  EXPECT_TRUE(lease->stop_token().stop_requested());
  int renews = log_->renews;
  EXPECT_FALSE(lease->tick(kT0 + 8s));
  EXPECT_EQ(log_->renews, renews) << "a deadlocked holder must stop renewing";
}

TEST_F(LeaseStateTest, WakesExactlyWhenTheHeartbeatGoesStale) {
  auto lease = make({.ttl = 30s, .stale_after = 12s});
  auto next = lease->tick(kT0 + 10s);
  ASSERT_TRUE(next);
  EXPECT_EQ(*next, kT0 + 12s);
}

TEST_F(LeaseStateTest, HeartbeatsKeepADeadlockAway) {
  auto lease = make({.ttl = 3s, .stale_after = 5s});
  for (int s = 1; s <= 60; ++s) {
    lease->heartbeat(kT0 + std::chrono::seconds(s));
    lease->tick(kT0 + std::chrono::seconds(s));
  }
  EXPECT_FALSE(lease->lost_reason());
  EXPECT_GE(log_->renews, 50);
}

TEST_F(LeaseStateTest, MaxHoldEndsTheLeaseAndReleasesIt) {
  auto lease = make({.ttl = 30s, .max_hold = 25s});
  lease->tick(kT0 + 10s);
  auto next = lease->tick(kT0 + 20s);
  ASSERT_TRUE(next);
  EXPECT_EQ(*next, kT0 + 25s);
  EXPECT_FALSE(lease->tick(kT0 + 25s));
  EXPECT_EQ(lease->lost_reason(), LostReason::max_hold);
  EXPECT_EQ(log_->releases, 1);
  EXPECT_THAT(lease->release(kT0 + 26s), HasErrc(Errc::lost));
  EXPECT_EQ(log_->releases, 1) << "the backend lease was already ended";
}

TEST_F(LeaseStateTest, TransientFailuresRetrySoonerThenGiveUpBeforeTheTtl) {
  auto lease = make({.ttl = 30s});
  for (int i = 0; i < 10; ++i) {
    log_->renew_answers.push_back(fail(Errc::unavailable, "connection refused"));
  }
  auto next = lease->tick(kT0 + 10s);
  ASSERT_TRUE(next);
  EXPECT_LT(*next, kT0 + 20s) << "retries sooner than the renew interval";
  EXPECT_FALSE(lease->lost_reason());
  BootTime t = *next;
  while (auto n = lease->tick(t)) {
    ASSERT_LT(t, kT0 + 30s);
    t = *n;
  }
  EXPECT_EQ(lease->lost_reason(), LostReason::backend_lost);
  EXPECT_LT(t, kT0 + 30s) << "must give up before the server-side lease can expire";
}

TEST_F(LeaseStateTest, FencedRenewalReportsTheBackendsReason) {
  auto lease = make({.ttl = 30s});
  log_->renew_answers.push_back(std::optional<LostReason>(LostReason::taken_over));
  EXPECT_FALSE(lease->tick(kT0 + 10s));
  EXPECT_EQ(lease->lost_reason(), LostReason::taken_over);
  ASSERT_EQ(lost_.size(), 1u);
}

TEST_F(LeaseStateTest, ReleaseKeepsTheRemainingMinHold) {
  auto lease = make({.ttl = 30s, .min_hold = 40s});
  EXPECT_THAT(lease->release(kT0 + 15s), IsOk());
  EXPECT_EQ(log_->last_hold, 25s);
}

TEST_F(LeaseStateTest, ReleaseAfterMinHoldHoldsNothing) {
  auto lease = make({.ttl = 30s, .min_hold = 10s});
  EXPECT_THAT(lease->release(kT0 + 15s), IsOk());
  EXPECT_EQ(log_->last_hold, 0ns);
}

TEST_F(LeaseStateTest, ReleaseIsIdempotent) {
  auto lease = make({.ttl = 30s});
  EXPECT_THAT(lease->release(kT0 + 1s), IsOk());
  EXPECT_THAT(lease->release(kT0 + 2s), IsOk());
  EXPECT_EQ(log_->releases, 1);
  EXPECT_FALSE(lease->tick(kT0 + 10s));
}

TEST_F(LeaseStateTest, ReleaseOfALostLeaseSaysLostEveryTime) {
  auto lease = make({.ttl = 3s, .stale_after = 5s});
  lease->tick(kT0 + 6s);
  ASSERT_EQ(lease->lost_reason(), LostReason::deadlocked);
  EXPECT_THAT(lease->release(kT0 + 7s), HasErrc(Errc::lost));
  EXPECT_THAT(lease->release(kT0 + 8s), HasErrc(Errc::lost));
  EXPECT_EQ(lost_.size(), 1u) << "on_lost is called once";
}

TEST_F(LeaseStateTest, ExplicitRenewAfterLossFails) {
  auto lease = make({.ttl = 30s});
  log_->renew_answers.push_back(std::optional<LostReason>(LostReason::expired));
  EXPECT_THAT(lease->renew(kT0 + 1s), HasErrc(Errc::lost));
  EXPECT_THAT(lease->renew(kT0 + 2s), HasErrc(Errc::lost));
  EXPECT_EQ(log_->renews, 1);
}

TEST_F(LeaseStateTest, DueLeasesOfOneBatchRenewInOneCall) {
  FakeBatch batch;
  batch.answers = {std::optional<LostReason>(), std::optional<LostReason>(LostReason::taken_over),
                   std::optional<LostReason>()};
  std::vector<std::shared_ptr<LeaseState>> leases;
  for (int i = 0; i < 3; ++i) {
    leases.push_back(std::make_shared<LeaseState>(
        LeaseInit{.name = "job" + std::to_string(i),
                  .token = 1,
                  .options = {.ttl = 30s},
                  .acquired_at = kT0,
                  .backend = std::make_unique<BatchedBackend>(&batch)}));
    EXPECT_EQ(leases.back()->batch(), &batch);
  }
  auto next = LeaseState::tick_batch(leases, batch, kT0 + 10s);
  EXPECT_EQ(batch.calls, 1);
  EXPECT_EQ(batch.sizes, std::vector<std::size_t>{3});
  EXPECT_EQ(next[0], kT0 + 20s);
  EXPECT_FALSE(next[1]) << "the lease the backend says was taken over is finished";
  EXPECT_EQ(leases[1]->lost_reason(), LostReason::taken_over);
  EXPECT_FALSE(leases[0]->lost_reason());
  EXPECT_EQ(next[2], kT0 + 20s);
}

TEST_F(LeaseStateTest, LeasesNotYetDueAreLeftOutOfTheBatch) {
  FakeBatch batch;
  auto early =
      std::make_shared<LeaseState>(LeaseInit{.name = "early",
                                             .options = {.ttl = 30s},
                                             .acquired_at = kT0 + 9s,
                                             .backend = std::make_unique<BatchedBackend>(&batch)});
  auto due =
      std::make_shared<LeaseState>(LeaseInit{.name = "due",
                                             .options = {.ttl = 30s},
                                             .acquired_at = kT0,
                                             .backend = std::make_unique<BatchedBackend>(&batch)});
  auto next = LeaseState::tick_batch({early, due}, batch, kT0 + 10s);
  EXPECT_EQ(batch.sizes, std::vector<std::size_t>{1});
  EXPECT_EQ(next[0], kT0 + 19s);
  EXPECT_EQ(next[1], kT0 + 20s);
}

// A batch whose round trip blocks until released, to catch what happens during it.
class BlockingBatch final : public RenewBatch {
 public:
  std::vector<Result<std::optional<LostReason>>> renew_all(const std::vector<BackendLease*>& leases,
                                                           const std::vector<BootTime>&) override {
    in_flight.store(true);
    while (!go.load()) {
      std::this_thread::yield();
    }
    return std::vector<Result<std::optional<LostReason>>>(leases.size(),
                                                          std::optional<LostReason>());
  }
  std::atomic<bool> in_flight{false};
  std::atomic<bool> go{false};
};

class BlockingBackend final : public BackendLease {
 public:
  BlockingBackend(BlockingBatch* batch, std::atomic<int>* releases)
      : batch_(batch), releases_(releases) {}
  Result<std::optional<LostReason>> renew(BootTime) override { return std::optional<LostReason>(); }
  Result<std::optional<LostReason>> release(std::chrono::nanoseconds) override {
    releases_->fetch_add(1);
    return std::optional<LostReason>();
  }
  RenewBatch* batch() override { return batch_; }

 private:
  BlockingBatch* batch_;
  std::atomic<int>* releases_;
};

TEST_F(LeaseStateTest, ReleaseWaitsForABatchedRenewalInFlight) {
  BlockingBatch batch;
  std::atomic<int> releases{0};
  auto lease = std::make_shared<LeaseState>(
      LeaseInit{.name = "job",
                .options = {.ttl = 30s},
                .acquired_at = kT0,
                .backend = std::make_unique<BlockingBackend>(&batch, &releases)});
  std::thread keepalive([&] { LeaseState::tick_batch({lease}, batch, kT0 + 10s); });
  while (!batch.in_flight.load()) {
    std::this_thread::yield();
  }
  std::atomic<bool> released{false};
  std::thread releaser([&] {
    (void)lease->release(kT0 + 11s);
    released.store(true);
  });
  // The releaser must not get through (nor touch the backend) while the renewal is in flight.
  for (int i = 0; i < 1000; ++i) {
    std::this_thread::yield();
  }
  EXPECT_FALSE(released.load());
  EXPECT_EQ(releases.load(), 0);
  batch.go.store(true);
  keepalive.join();
  releaser.join();
  EXPECT_TRUE(released.load());
  EXPECT_EQ(releases.load(), 1);
}

TEST_F(LeaseStateTest, LossIsPublishedOnlyAfterOnLostReturns) {
  LeaseState* self = nullptr;
  bool seen_inside = true;
  auto lease = std::make_unique<LeaseState>(
      LeaseInit{.name = "job",
                .token = 1,
                .options = {.ttl = 3s,
                            .stale_after = 5s,
                            .on_lost =
                                [&](LostReason, std::string_view) {
                                  seen_inside = self->lost_reason().has_value() ||
                                                self->stop_token().stop_requested();
                                }},
                .acquired_at = kT0,
                .backend = std::make_unique<FakeBackend>(log_)});
  self = lease.get();
  lease->tick(kT0 + 6s);
  EXPECT_FALSE(seen_inside) << "whoever sees lost() must know on_lost has finished";
  EXPECT_EQ(lease->lost_reason(), LostReason::deadlocked);
  EXPECT_TRUE(lease->stop_token().stop_requested());
}

TEST_F(LeaseStateTest, ThrowingOnLostIsContained) {
  auto lease = std::make_unique<LeaseState>(LeaseInit{
      .name = "job",
      .token = 1,
      .options = {.ttl = 3s,
                  .stale_after = 5s,
                  .on_lost = [](LostReason, std::string_view) { throw std::runtime_error("x"); }},
      .acquired_at = kT0,
      .backend = std::make_unique<FakeBackend>(log_)});
  EXPECT_NO_THROW(lease->tick(kT0 + 6s));
  EXPECT_EQ(lease->lost_reason(), LostReason::deadlocked);
}

}  // namespace
}  // namespace heartlock::detail
