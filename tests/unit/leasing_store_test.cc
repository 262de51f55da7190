// LeasingStore's waiting loop (src/core/leasing_store.cc) against a fake backend: when the
// release waiter is made and armed, and that a release between a try and the arming that
// follows it is not missed.
#include "../../src/core/leasing_store.h"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "../support/test_support.h"

namespace heartlock::detail {
namespace {

using namespace std::chrono_literals;
using testing::IsOk;

class NoopLease final : public BackendLease {
 public:
  Result<std::optional<LostReason>> renew(BootTime) override { return std::nullopt; }
  Result<std::optional<LostReason>> release(std::chrono::nanoseconds) override {
    return std::nullopt;
  }
};

// A lock held by someone else until the first try has seen it busy: the holder releases right
// then, as a waiter starts. Its waiter is notified only of releases after it was armed, so a
// release it missed costs a sleep until next_look() -- up to kMaxWaitSlice.
//
// Thread-safety: none; one acquire at a time.
class RacyStore final : public LeasingStore {
 public:
  explicit RacyStore(bool arm_first) : LeasingStore(StoreOptions{}), arm_first_(arm_first) {}
  ~RacyStore() override { stop_keepalive(); }

  bool held = true;
  int claims = 0;
  int waiters_made = 0;
  int waits = 0;
  bool release_seen_by_waiter = false;

  Result<std::vector<LockInfo>> list() override { return std::vector<LockInfo>{}; }
  Result<SlotClaim> claim_slot(std::string_view, std::chrono::sys_seconds,
                               std::chrono::seconds) override {
    return SlotClaim{};
  }
  Result<std::optional<std::chrono::sys_seconds>> last_slot(std::string_view) override {
    return std::nullopt;
  }
  std::string url() const override { return "fake://"; }

 protected:
  Result<Attempt> claim(const ClaimRequest& request) override {
    ++claims;
    if (!held) {
      return Attempt(Claim{.lease = std::make_unique<NoopLease>(),
                           .token = 1,
                           .location = "fake",
                           .acquired_at = boot_now()});
    }
    held = false;  // released just after this try saw it busy
    if (armed_) {
      release_seen_by_waiter = true;
    }
    LockInfo busy{.name = std::string(request.name), .state = LockState::held};
    busy.holder = Holder{.owner = "other", .renew_age = 0ms, .ttl = 30s};
    return Attempt(std::move(busy));
  }
  std::unique_ptr<ReleaseWaiter> release_waiter(std::string_view) override {
    ++waiters_made;
    return std::make_unique<Waiter>(*this);
  }
  bool arm_before_first_try() const override { return arm_first_; }
  Result<LockInfo> inspect_lock(std::string_view name) override {
    return LockInfo{.name = std::string(name)};
  }
  Result<void> break_lock(std::string_view, std::uint64_t) override { return {}; }

 private:
  class Waiter final : public ReleaseWaiter {
   public:
    explicit Waiter(RacyStore& store) : store_(store) {}
    Result<void> arm() override {
      store_.armed_ = true;
      return {};
    }
    Result<void> wait(BootTime until, const StopWake& stop) override {
      ++store_.waits;
      if (!store_.release_seen_by_waiter) {
        wait_readable(-1, until, stop);  // no notification came
      }
      return {};
    }

   private:
    RacyStore& store_;
  };

  const bool arm_first_;
  bool armed_ = false;
};

LeaseOptions Options() { return LeaseOptions{.keepalive = false}; }

TEST(LeasingStoreTest, AFreeLockIsTakenWithoutAWaiter) {
  RacyStore store(false);
  store.held = false;
  auto got = store.acquire("job", Options(), 10s);
  ASSERT_THAT(got, IsOk());
  EXPECT_TRUE(got->acquired());
  EXPECT_EQ(store.claims, 1);
  EXPECT_EQ(store.waiters_made, 0);
}

// The release comes after the first, plain try and before the waiter is armed: the try after
// arming must see it, with no wait for a notification that never comes.
TEST(LeasingStoreTest, AReleaseBeforeTheWaiterIsArmedIsNotMissed) {
  RacyStore store(false);
  const auto start = std::chrono::steady_clock::now();
  auto got = store.acquire("job", Options(), 10s);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_THAT(got, IsOk());
  EXPECT_TRUE(got->acquired());
  EXPECT_EQ(store.claims, 2);
  EXPECT_EQ(store.waiters_made, 1);
  EXPECT_EQ(store.waits, 0);
  EXPECT_LT(took, kMaxWaitSlice / 4);
}

// A backend that arms first: the release after the first try is one the waiter is told of.
TEST(LeasingStoreTest, ABackendMayArmBeforeTheFirstTry) {
  RacyStore store(true);
  const auto start = std::chrono::steady_clock::now();
  auto got = store.acquire("job", Options(), 10s);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_THAT(got, IsOk());
  EXPECT_TRUE(got->acquired());
  EXPECT_EQ(store.waiters_made, 1);
  EXPECT_TRUE(store.release_seen_by_waiter);
  EXPECT_LT(took, kMaxWaitSlice / 4);
}

}  // namespace
}  // namespace heartlock::detail
