// The rules that turn what a lock file shows into a state, at chosen times.
#include "../../src/file/holder_state.h"

#include <gtest/gtest.h>

namespace heartlock::detail {
namespace {

using namespace std::chrono_literals;

constexpr BootTime kT0 = BootTime(5'000'000'000'000);

Observation held_by_live_holder() {
  Observation seen;
  seen.boot_id = "boot-a";
  seen.locked = true;
  seen.holder = Liveness::alive;
  seen.parsed.status = ParsedRecord::Status::ok;
  Record& r = seen.parsed.record;
  r.state = Record::State::held;
  r.name = "job";
  r.owner = "h:1:ab";
  r.boot_id = "boot-a";
  r.pid = 1234;
  r.token = 9;
  r.ttl = 30s;
  r.stale_after = 60s;
  r.acquired_at = r.renewed_at = r.heartbeat_at = kT0;
  return seen;
}

TEST(HolderStateTest, FreshHolderIsHeld) {
  auto info = describe("job", held_by_live_holder(), kT0 + 5s, "loc");
  EXPECT_EQ(info.state, LockState::held);
  ASSERT_TRUE(info.holder);
  EXPECT_EQ(info.holder->token, 9u);
  EXPECT_EQ(info.holder->heartbeat_age, 5000ms);
  EXPECT_FALSE(may_take_over(info));
}

TEST(HolderStateTest, NotRenewedWithinTtlIsExpired) {
  auto info = describe("job", held_by_live_holder(), kT0 + 31s, "loc");
  EXPECT_EQ(info.state, LockState::expired);
  EXPECT_TRUE(may_take_over(info));
}

TEST(HolderStateTest, RenewedButNoHeartbeatIsDeadlocked) {
  auto seen = held_by_live_holder();
  seen.parsed.record.renewed_at = kT0 + 60s;
  auto info = describe("job", seen, kT0 + 61s, "loc");
  EXPECT_EQ(info.state, LockState::deadlocked);
  EXPECT_TRUE(may_take_over(info));
}

TEST(HolderStateTest, WithoutStaleAfterOldHeartbeatsDoNotMatter) {
  auto seen = held_by_live_holder();
  seen.parsed.record.stale_after = 0ms;
  seen.parsed.record.renewed_at = kT0 + 3600s;
  EXPECT_EQ(describe("job", seen, kT0 + 3601s, "loc").state, LockState::held);
}

TEST(HolderStateTest, UnlockedHeldRecordMeansTheHolderDied) {
  auto seen = held_by_live_holder();
  seen.locked = false;
  seen.holder = Liveness::dead;
  auto info = describe("job", seen, kT0 + 1s, "loc");
  EXPECT_EQ(info.state, LockState::dead);
  EXPECT_FALSE(may_take_over(info)) << "a dead holder needs no takeover: its flock is free";
}

TEST(HolderStateTest, ReleasedWithinMinHoldIsStillHeld) {
  auto seen = held_by_live_holder();
  seen.locked = false;
  seen.parsed.record.state = Record::State::released;
  seen.parsed.record.hold_until = kT0 + 40s;
  auto info = describe("job", seen, kT0 + 10s, "loc");
  EXPECT_EQ(info.state, LockState::held);
  EXPECT_EQ(info.min_hold_left, 30000ms);
  EXPECT_EQ(describe("job", seen, kT0 + 41s, "loc").state, LockState::free);
}

TEST(HolderStateTest, MinHoldFromAnotherBootIsOver) {
  auto seen = held_by_live_holder();
  seen.locked = false;
  seen.parsed.record.state = Record::State::released;
  seen.parsed.record.hold_until = kT0 + 40s;
  seen.parsed.record.boot_id = "boot-old";
  EXPECT_EQ(describe("job", seen, kT0 + 10s, "loc").state, LockState::free);
}

TEST(HolderStateTest, LockedWithReleasedRecordIsAForeignHolder) {
  auto seen = held_by_live_holder();
  seen.parsed.record.state = Record::State::released;
  seen.flock_pid = 4321;
  auto info = describe("job", seen, kT0 + 3600s, "loc");
  EXPECT_EQ(info.state, LockState::held);
  ASSERT_TRUE(info.holder);
  EXPECT_TRUE(info.holder->foreign);
  EXPECT_EQ(info.holder->pid, 4321);
  EXPECT_FALSE(may_take_over(info)) << "flock(1) writes no heartbeats; never take it over";
}

TEST(HolderStateTest, LockedWithUnreadableRecordIsHeldNeverFree) {
  Observation seen;
  seen.locked = true;
  seen.parsed.status = ParsedRecord::Status::corrupt;
  seen.parsed.why = "record checksum mismatch";
  auto info = describe("job", seen, kT0, "loc");
  EXPECT_EQ(info.state, LockState::held);
  EXPECT_FALSE(may_take_over(info));
}

TEST(HolderStateTest, LockedButRecordedHolderGoneIsForeign) {
  auto seen = held_by_live_holder();
  seen.holder = Liveness::dead;
  auto info = describe("job", seen, kT0 + 3600s, "loc");
  EXPECT_EQ(info.state, LockState::held);
  EXPECT_FALSE(may_take_over(info)) << "whoever holds the flock now is not the stale holder";
}

TEST(HolderStateTest, HeartbeatsStampedInTheFutureDoNotBreakTheRules) {
  // A record written with times ahead of ours (impossible on one boot's clock, but a planted or
  // corrupted record could) counts as fresh, never as free.
  auto seen = held_by_live_holder();
  seen.parsed.record.renewed_at = kT0 + 1000s;
  EXPECT_EQ(describe("job", seen, kT0, "loc").state, LockState::held);
}

}  // namespace
}  // namespace heartlock::detail
