// The local deadline of a lease (LeaseState::valid_until / enforce_deadline), driven by explicit
// times, and the keepalive's timer enforcing it in real time while a renewal hangs.
#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "../../src/core/io_deadline.h"
#include "../../src/core/keepalive.h"
#include "../../src/core/lease_state.h"
#include "../support/test_support.h"

namespace heartlock::detail {
namespace {

using namespace std::chrono_literals;

constexpr BootTime kT0 = BootTime(1'000'000'000'000);

// Answers renewals at once (ok) unless told to hang; records the I/O deadline it was given.
class HangingBackend final : public BackendLease {
 public:
  Result<std::optional<LostReason>> renew(BootTime) override {
    seen_deadline.store(io_deadline().count());
    in_flight.store(true);
    while (hang.load() && !go.load()) {
      std::this_thread::sleep_for(1ms);
    }
    in_flight.store(false);
    ++renews;
    return std::optional<LostReason>();
  }
  Result<std::optional<LostReason>> release(std::chrono::nanoseconds) override {
    return std::optional<LostReason>();
  }
  std::atomic<bool> hang{false};
  std::atomic<bool> go{false};
  std::atomic<bool> in_flight{false};
  std::atomic<int> renews{0};
  std::atomic<std::int64_t> seen_deadline{0};
};

struct Made {
  std::shared_ptr<LeaseState> lease;
  HangingBackend* backend;
};

Made make(LeaseOptions options, BootTime acquired_at, std::vector<LostReason>* lost) {
  auto backend = std::make_unique<HangingBackend>();
  auto* raw = backend.get();
  options.on_lost = [lost](LostReason reason, std::string_view) { lost->push_back(reason); };
  auto lease = std::make_shared<LeaseState>(LeaseInit{.name = "job",
                                                      .owner = "me",
                                                      .token = 1,
                                                      .options = std::move(options),
                                                      .acquired_at = acquired_at,
                                                      .backend = std::move(backend)});
  return {lease, raw};
}

TEST(LeaseDeadline, IsTheSendTimeOfTheLastConfirmationPlusTheTtlLessTheDriftMargin) {
  std::vector<LostReason> lost;
  auto [lease, backend] = make({.ttl = 30s}, kT0, &lost);
  EXPECT_EQ(lease_drift_margin(30s), 301ms);
  EXPECT_EQ(lease->valid_until(), kT0 + 30s - 301ms);
  lease->tick(kT0 + 10s);
  ASSERT_EQ(backend->renews.load(), 1);
  EXPECT_EQ(lease->valid_until(), kT0 + 40s - 301ms) << "from the renewal's send time";
}

TEST(LeaseDeadline, TheTimerDeclaresTheLossWhenTheDeadlinePasses) {
  std::vector<LostReason> lost;
  auto [lease, backend] = make({.ttl = 3s}, kT0, &lost);
  const BootTime notice_at = lease->valid_until() - notice_lead(3s);
  EXPECT_EQ(notice_lead(3s), 25ms);
  EXPECT_EQ(lease->enforce_deadline(notice_at - 1ns), notice_at) << "not yet: look again then";
  EXPECT_TRUE(lost.empty());
  EXPECT_FALSE(lease->enforce_deadline(notice_at));
  EXPECT_EQ(lost, std::vector<LostReason>{LostReason::backend_lost});
  EXPECT_EQ(lease->lost_reason(), LostReason::backend_lost);
  EXPECT_EQ(lease->valid_until(), BootTime(0));
  EXPECT_TRUE(lease->stop_token().stop_requested());
}

TEST(LeaseDeadline, ARenewalConfirmedAfterTheLossDoesNotRevive) {
  std::vector<LostReason> lost;
  auto [lease, backend] = make({.ttl = 3s}, kT0, &lost);
  EXPECT_FALSE(lease->enforce_deadline(kT0 + 3s));
  EXPECT_FALSE(lease->tick(kT0 + 4s, /*force=*/true));
  EXPECT_EQ(lease->lost_reason(), LostReason::backend_lost);
  EXPECT_EQ(lease->valid_until(), BootTime(0));
}

TEST(LeaseDeadline, IsBoundedByThePublishedHeartbeatAndMaxHold) {
  std::vector<LostReason> lost;
  auto [lease, backend] = make({.ttl = 30s, .stale_after = 20s}, kT0, &lost);
  EXPECT_EQ(lease->valid_until(), kT0 + 20s - lease_drift_margin(20s));
  lease->heartbeat(kT0 + 5s);
  EXPECT_EQ(lease->valid_until(), kT0 + 20s - lease_drift_margin(20s))
      << "a heartbeat no contender has seen yet does not extend it";
  lease->tick(kT0 + 10s);
  EXPECT_EQ(lease->valid_until(), kT0 + 25s - lease_drift_margin(20s)) << "published by renewal";
  EXPECT_FALSE(lease->enforce_deadline(kT0 + 25s));
  EXPECT_EQ(lost, std::vector<LostReason>{LostReason::deadlocked});

  std::vector<LostReason> lost2;
  auto [capped, b2] = make({.ttl = 30s, .max_hold = 12s}, kT0, &lost2);
  EXPECT_EQ(capped->valid_until(), kT0 + 12s);
  EXPECT_FALSE(capped->enforce_deadline(kT0 + 12s));
  EXPECT_EQ(lost2, std::vector<LostReason>{LostReason::max_hold});
}

TEST(LeaseDeadline, RenewalIoIsBoundedByTheDeadline) {
  std::vector<LostReason> lost;
  auto [lease, backend] = make({.ttl = 30s}, kT0, &lost);
  const BootTime until = lease->valid_until();
  lease->tick(kT0 + 10s);
  EXPECT_EQ(BootTime(backend->seen_deadline.load()), until);
  EXPECT_EQ(io_deadline(), kNoIoDeadline) << "the bound ends with the renewal";
}

// The promise itself: a renewal that hangs does not keep the lease alive past its deadline, and
// the loss is not reported late because of it.
TEST(LeaseDeadline, AHungRenewalDoesNotDelayTheLoss) {
  std::vector<LostReason> lost;
  const BootTime start = boot_now();
  auto [lease, backend] = make({.ttl = 300ms}, start, &lost);
  backend->hang.store(true);
  std::thread renewer([lease = lease] { lease->tick(boot_now(), /*force=*/true); });
  while (!backend->in_flight.load()) {
    std::this_thread::yield();
  }
  const BootTime until = lease->valid_until();
  while (boot_now() < until) {
    std::this_thread::sleep_for(1ms);
  }
  const BootTime before = boot_now();
  EXPECT_FALSE(lease->enforce_deadline(boot_now())) << "must not wait for the renewal in flight";
  EXPECT_LT(boot_now() - before, 50ms);
  EXPECT_EQ(lease->lost_reason(), LostReason::backend_lost);
  backend->go.store(true);
  renewer.join();
  EXPECT_EQ(lease->lost_reason(), LostReason::backend_lost);
}

// Real time: the keepalive's timer reports the loss at the deadline, not when the hung renewal
// returns, and a second lease on the same keepalive keeps renewing meanwhile.
TEST(LeaseDeadline, KeepaliveTimerFiresAtTheDeadlineWhileARenewalHangs) {
  // A ttl long enough for the largest notice lead (25 ms): the timer thread must be scheduled
  // within it, which a loaded sanitizer run did not manage within the 6 ms of a 600 ms ttl.
  constexpr auto kTtl = 2500ms;
  Keepalive keepalive;
  std::atomic<std::int64_t> lost_at{0};
  auto hung_backend = std::make_unique<HangingBackend>();
  HangingBackend* hung = hung_backend.get();
  hung->hang.store(true);
  const BootTime start = boot_now();
  auto lease = std::make_shared<LeaseState>(LeaseInit{
      .name = "hung",
      .token = 1,
      .options = {.ttl = kTtl,
                  .on_lost = [&](LostReason,
                                 std::string_view) { lost_at.store(boot_now().count()); }},
      .acquired_at = start,
      .backend = std::move(hung_backend)});
  auto healthy_backend = std::make_unique<HangingBackend>();
  HangingBackend* healthy = healthy_backend.get();
  auto other = std::make_shared<LeaseState>(LeaseInit{.name = "healthy",
                                                      .token = 2,
                                                      .options = {.ttl = kTtl},
                                                      .acquired_at = start,
                                                      .backend = std::move(healthy_backend)});
  const BootTime deadline = lease->valid_until();
  keepalive.add(lease, lease->first_due());
  keepalive.add(other, other->first_due());
  ASSERT_TRUE(heartlock::testing::eventually([&] { return lost_at.load() != 0; }, 10s));
  EXPECT_LE(BootTime(lost_at.load()), deadline) << "told by its deadline, not after it";
  EXPECT_GE(BootTime(lost_at.load()), deadline - notice_lead(kTtl));
  EXPECT_GE(healthy->renews.load(), 1) << "the other lease renewed meanwhile";
  EXPECT_FALSE(other->lost_reason());
  hung->go.store(true);
  keepalive.stop();
}

}  // namespace
}  // namespace heartlock::detail
