// The scheduler on a fake clock: slots, add/remove at run time, missed runs, store errors.
#include "heartlock/scheduler.h"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "heartlock/job_wrappers.h"
#include "heartlock/store.h"

#include "../../src/scheduler/missed_runs.h"
#include "../support/fake_clock.h"
#include "../support/scheduler_support.h"
#include "../support/test_support.h"

namespace heartlock {
namespace {

using std::chrono::seconds;
using std::chrono::sys_seconds;
using testing::FakeClock;
using testing::Outcomes;

TEST(DueSlots, TheLatestOnTimeSlotRunsAndOlderOnesAreMissed) {
  auto minutely = CronSchedule::parse("* * * * *", "UTC").value();
  const sys_seconds t0 = testing::at("2026-01-01T00:00:00Z");
  const auto now = t0 + std::chrono::minutes(10) + seconds(5);  // slots t0 .. t0+10min are due
  MissedRuns m{.policy = MissedPolicy::skip, .grace = seconds(60)};
  auto due = detail::due_slots(minutely, t0, now, m);
  EXPECT_EQ(due.missed, 10u);
  EXPECT_EQ(due.run, std::vector<sys_seconds>{t0 + std::chrono::minutes(10)});
  EXPECT_EQ(due.next, t0 + std::chrono::minutes(11));

  m.policy = MissedPolicy::run_once;
  due = detail::due_slots(minutely, t0, now, m);
  EXPECT_EQ(due.run, (std::vector<sys_seconds>{t0 + std::chrono::minutes(9),
                                               t0 + std::chrono::minutes(10)}));
  m.policy = MissedPolicy::run_all;
  m.max_runs = 3;
  due = detail::due_slots(minutely, t0, now, m);
  EXPECT_EQ(due.run, (std::vector<sys_seconds>{
                         t0 + std::chrono::minutes(7), t0 + std::chrono::minutes(8),
                         t0 + std::chrono::minutes(9), t0 + std::chrono::minutes(10)}));
  // Past the grace the latest is missed too.
  m.grace = seconds(2);
  due = detail::due_slots(minutely, t0, now, m);
  EXPECT_EQ(due.missed, 11u);
  EXPECT_EQ(due.run.size(), 3u);
  EXPECT_EQ(due.run.back(), t0 + std::chrono::minutes(10));
}

TEST(DueSlots, AVeryLongOutageOfAnEverySecondJobIsBounded) {
  auto every_second = CronSchedule::parse("* * * * * *", "UTC").value();
  const sys_seconds t0 = testing::at("2026-01-01T00:00:00Z");
  const auto now = t0 + std::chrono::hours(24 * 30);
  auto due = detail::due_slots(
      every_second, t0, now, {.policy = MissedPolicy::run_all, .grace = seconds(5), .max_runs = 2});
  EXPECT_EQ(due.run.size(), 3u);  // two missed, and the on-time latest
  EXPECT_EQ(due.run.back(), std::chrono::floor<seconds>(now));
  EXPECT_EQ(due.next, std::chrono::floor<seconds>(now) + seconds(1));
}

class SchedulerTest : public ::testing::Test {
 protected:
  const sys_seconds t0_ = testing::at("2026-01-01T00:00:00Z");
  std::shared_ptr<FakeClock> clock_ =
      std::make_shared<FakeClock>(t0_ + std::chrono::milliseconds(500));
  Outcomes outcomes_;
  Scheduler scheduler_{{.workers = 2, .clock = clock_, .on_outcome = outcomes_.hook()}};
  CronSchedule every_second_ = CronSchedule::parse("* * * * * *", "UTC").value();

  // Moves the clock one second at a time, waiting for each slot's outcome(s).
  void tick(int seconds_, std::size_t outcomes_per_tick = 1) {
    for (int i = 0; i < seconds_; ++i) {
      const std::size_t before = outcomes_.size();
      clock_->advance(seconds(1));
      ASSERT_TRUE(outcomes_.wait_for(before + outcomes_per_tick)) << "tick " << i;
    }
  }
};

TEST_F(SchedulerTest, EachRunGetsItsScheduledSlot) {
  ASSERT_TRUE(scheduler_.add(
      {.name = "a", .schedule = every_second_, .run = job([](const ScheduledRun&) {})}));
  EXPECT_EQ(scheduler_.jobs(), std::vector<std::string>{"a"});
  tick(3);
  EXPECT_EQ(outcomes_.slots("a"),
            (std::vector<sys_seconds>{t0_ + seconds(1), t0_ + seconds(2), t0_ + seconds(3)}));
  auto stats = scheduler_.stats("a");
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->done, 3u);
  EXPECT_EQ(stats->next_slot, t0_ + seconds(4));
}

TEST_F(SchedulerTest, JobsAreAddedAndRemovedWhileItRuns) {
  std::atomic<int> b_runs{0};
  ASSERT_TRUE(scheduler_.add(
      {.name = "a", .schedule = every_second_, .run = job([](const ScheduledRun&) {})}));
  tick(1);
  ASSERT_TRUE(scheduler_.add({.name = "b",
                              .schedule = every_second_,
                              .run = job([&](const ScheduledRun&) { ++b_runs; })}));
  EXPECT_FALSE(scheduler_.add(
      {.name = "b", .schedule = every_second_, .run = job([](const ScheduledRun&) {})}));
  tick(2, 2);
  EXPECT_TRUE(scheduler_.remove("a"));
  EXPECT_FALSE(scheduler_.remove("a"));
  tick(2);
  EXPECT_EQ(outcomes_.slots("a").size(), 3u);
  EXPECT_EQ(b_runs.load(), 4);
  EXPECT_FALSE(scheduler_.stats("a"));
}

TEST_F(SchedulerTest, RemovingAJobStopsItsRunningRun) {
  std::atomic<bool> started{false};
  ASSERT_TRUE(scheduler_.add(
      {.name = "long", .schedule = every_second_, .run = [&](const ScheduledRun& run) {
         started = true;
         std::mutex m;
         std::condition_variable_any cv;
         std::unique_lock lock(m);
         cv.wait(lock, run.stop, [] { return false; });
         return RunOutcome::failure("stopped");
       }}));
  clock_->advance(seconds(1));
  while (!started) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  scheduler_.remove("long");
  ASSERT_TRUE(outcomes_.wait_for(1));
  EXPECT_EQ(outcomes_.all()[0].second.detail, "stopped");
}

TEST_F(SchedulerTest, ALateTimerRunsMissedSlotsAsThePolicySays) {
  for (auto [name, policy] :
       {std::pair{"skip", MissedPolicy::skip}, std::pair{"once", MissedPolicy::run_once},
        std::pair{"all", MissedPolicy::run_all}}) {
    ASSERT_TRUE(scheduler_.add({.name = name,
                                .schedule = every_second_,
                                .run = job([](const ScheduledRun&) {}),
                                .missed = {.policy = policy, .grace = seconds(2), .max_runs = 3}}));
  }
  ASSERT_TRUE(clock_->wait_for_sleepers(1));
  clock_->advance(seconds(10));  // slots 1..10 due at once: 10 is on time, 1..9 missed
  ASSERT_TRUE(outcomes_.wait_for(1 + 2 + 4));
  EXPECT_EQ(outcomes_.slots("skip"), std::vector<sys_seconds>{t0_ + seconds(10)});
  EXPECT_EQ(outcomes_.slots("once"),
            (std::vector<sys_seconds>{t0_ + seconds(9), t0_ + seconds(10)}));
  EXPECT_EQ(outcomes_.slots("all"),
            (std::vector<sys_seconds>{t0_ + seconds(7), t0_ + seconds(8), t0_ + seconds(9),
                                      t0_ + seconds(10)}));
  tick(1, 3);
  EXPECT_EQ(outcomes_.slots("skip").back(), t0_ + seconds(11));
}

// With workers to spare, the missed runs of one job still run one at a time, oldest first (at
// once, under with_lock's forbid, all but one would have been skipped).
TEST_F(SchedulerTest, MissedRunsOfAJobRunOneAfterAnother) {
  std::atomic<int> running{0};
  std::atomic<int> most{0};
  std::mutex mu;
  std::vector<sys_seconds> order;
  ASSERT_TRUE(scheduler_.add(
      {.name = "all",
       .schedule = every_second_,
       .run = job([&](const ScheduledRun& run) {
         const int now = ++running;
         most = std::max(most.load(), now);
         std::this_thread::sleep_for(std::chrono::milliseconds(20));
         {
           std::lock_guard lock(mu);
           order.push_back(run.slot);
         }
         --running;
       }),
       .missed = {.policy = MissedPolicy::run_all, .grace = seconds(2), .max_runs = 3}}));
  ASSERT_TRUE(clock_->wait_for_sleepers(1));
  clock_->advance(seconds(10));
  ASSERT_TRUE(outcomes_.wait_for(4));
  EXPECT_EQ(most.load(), 1) << "missed runs of one job overlapped";
  std::lock_guard lock(mu);
  EXPECT_EQ(order, (std::vector<sys_seconds>{t0_ + seconds(7), t0_ + seconds(8), t0_ + seconds(9),
                                             t0_ + seconds(10)}));
}

// A slot that comes due while the job still catches up waits behind the catch-up on its worker:
// run beside it, it would find the job's lock held, or take the slots still waiting for missed.
TEST_F(SchedulerTest, ASlotDueDuringACatchUpWaitsBehindIt) {
  std::atomic<int> running{0};
  std::atomic<int> most{0};
  std::atomic<int> started{0};
  std::atomic<bool> release{false};
  std::mutex mu;
  std::vector<sys_seconds> order;
  ASSERT_TRUE(scheduler_.add(
      {.name = "all",
       .schedule = every_second_,
       .run = job([&](const ScheduledRun& run) {
         const int now = ++running;
         most = std::max(most.load(), now);
         ++started;
         while (!release) {
           std::this_thread::sleep_for(std::chrono::milliseconds(1));
         }
         {
           std::lock_guard lock(mu);
           order.push_back(run.slot);
         }
         --running;
       }),
       .missed = {.policy = MissedPolicy::run_all, .grace = seconds(2), .max_runs = 3}}));
  ASSERT_TRUE(clock_->wait_for_sleepers(1));
  clock_->advance(seconds(10));  // 7, 8, 9 caught up and 10 on time: the first one blocks
  ASSERT_TRUE(testing::eventually([&] { return started.load() == 1; }));
  clock_->advance(seconds(1));  // 11 comes due while 7 still runs; a worker is free
  ASSERT_TRUE(clock_->wait_for_sleepers(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(started.load(), 1) << "slot 11 started beside the catch-up";
  release = true;
  ASSERT_TRUE(outcomes_.wait_for(5));
  EXPECT_EQ(most.load(), 1);
  std::lock_guard lock(mu);
  EXPECT_EQ(order, (std::vector<sys_seconds>{t0_ + seconds(7), t0_ + seconds(8), t0_ + seconds(9),
                                             t0_ + seconds(10), t0_ + seconds(11)}));
}

TEST_F(SchedulerTest, AThrowingJobIsAFailureAndTheSchedulerLivesOn) {
  ASSERT_TRUE(
      scheduler_.add({.name = "bad", .schedule = every_second_, .run = job([](const ScheduledRun&) {
                                                                  throw std::runtime_error("boom");
                                                                })}));
  tick(2);
  EXPECT_EQ(scheduler_.stats("bad")->failed, 2u);
  EXPECT_NE(outcomes_.all()[0].second.detail.find("boom"), std::string::npos);
}

TEST_F(SchedulerTest, BadJobsAreRefused) {
  EXPECT_FALSE(scheduler_.add(
      {.name = "", .schedule = every_second_, .run = job([](const ScheduledRun&) {})}));
  EXPECT_FALSE(scheduler_.add({.name = "x", .schedule = every_second_, .run = {}}));
  scheduler_.stop();
  EXPECT_FALSE(scheduler_.add(
      {.name = "x", .schedule = every_second_, .run = job([](const ScheduledRun&) {})}));
}

TEST(SchedulerStoreErrors, AreLoggedCountedAndHooked) {
  auto store = Store::open("redis://127.0.0.1:1?timeout=200ms");
  if (!store) {
    GTEST_SKIP() << store.error().message;
  }
  auto clock = std::make_shared<FakeClock>(testing::at("2026-01-01T00:00:00Z"));
  Outcomes outcomes;
  std::atomic<int> hooked{0};
  std::vector<std::string> errors;
  std::mutex mu;
  Scheduler s({.workers = 1,
               .clock = clock,
               .log =
                   [&](LogLevel level, std::string_view m) {
                     if (level == LogLevel::error) {
                       std::lock_guard lock(mu);
                       errors.emplace_back(m);
                     }
                   },
               .on_outcome = outcomes.hook(),
               .on_store_error = [&](const ScheduledRun&, const RunOutcome&) { ++hooked; }});
  ASSERT_TRUE(
      s.add({.name = "j",
             .schedule = CronSchedule::parse("* * * * * *", "UTC").value(),
             .run = chain({wrap::once_per_slot(**store)}, job([](const ScheduledRun&) {}))}));
  clock->advance(seconds(1));
  ASSERT_TRUE(outcomes.wait_for(1));
  EXPECT_EQ(outcomes.all()[0].second.status, RunStatus::store_error);
  EXPECT_EQ(s.stats("j")->store_errors, 1u);
  EXPECT_EQ(hooked.load(), 1);
  std::lock_guard lock(mu);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("store_error"), std::string::npos) << errors[0];
}

// After an outage of every host, the slots nobody claimed since the last claimed one are caught
// up (as the policy says) by the first scheduler to start, and not again by the next.
TEST(SchedulerMissedRuns, AreDecidedFromTheStoresLastClaimedSlot) {
  testing::TempDir dir;
  auto store_a = Store::open(dir.path()).value();
  auto store_b = Store::open(dir.path()).value();
  const auto minute = std::chrono::floor<std::chrono::minutes>(std::chrono::system_clock::now());
  const sys_seconds last_run = minute - std::chrono::minutes(5);
  ASSERT_TRUE(store_a->claim_slot("m", last_run)->won);
  auto minutely = CronSchedule::parse("* * * * *", "UTC").value();
  auto clock = std::make_shared<FakeClock>(minute + seconds(30));
  auto start = [&](Store& store, Outcomes& outcomes) {
    auto s = std::make_unique<Scheduler>(
        SchedulerOptions{.workers = 1, .clock = clock, .on_outcome = outcomes.hook()});
    EXPECT_TRUE(s->add({.name = "m",
                        .schedule = minutely,
                        .run = chain({wrap::once_per_slot(store)}, job([](const ScheduledRun&) {})),
                        .missed = {.policy = MissedPolicy::run_all,
                                   .grace = seconds(60),
                                   .max_runs = 10,
                                   .store = &store}}));
    return s;
  };
  Outcomes first;
  auto a = start(*store_a, first);
  ASSERT_TRUE(first.wait_for(5));  // minute-4 .. minute-1 missed, minute on time
  EXPECT_EQ(first.slots("m"),
            (std::vector<sys_seconds>{
                minute - std::chrono::minutes(4), minute - std::chrono::minutes(3),
                minute - std::chrono::minutes(2), minute - std::chrono::minutes(1), minute}));
  EXPECT_EQ(first.count("m", RunStatus::done), 5u);
  EXPECT_EQ(store_b->last_slot("m").value(), minute);
  Outcomes second;
  auto b = start(*store_b, second);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(second.size(), 0u) << "nothing is missed: the store says the last slot ran";
}

}  // namespace
}  // namespace heartlock
