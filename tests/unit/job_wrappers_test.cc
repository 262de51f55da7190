// Job wrappers, alone and chained: on a fake clock, and on a real file store for the lock ones.
#include "heartlock/job_wrappers.h"

#include <atomic>
#include <future>
#include <thread>

#include <gtest/gtest.h>

#include "heartlock/store.h"

#include "../support/fake_clock.h"
#include "../support/scheduler_support.h"
#include "../support/test_support.h"

namespace heartlock {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::FakeClock;

class WrapperTest : public ::testing::Test {
 protected:
  const std::chrono::sys_seconds slot_ = testing::at("2026-01-01T00:00:00Z");
  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>(slot_);

  ScheduledRun run(std::string job = "j", std::stop_token stop = {}) const {
    return ScheduledRun{.job = std::move(job), .slot = slot_, .stop = stop, .clock = clock_.get()};
  }
};

// Waits until `job` runs, and lets it finish when `release` is set.
struct Gate {
  std::promise<void> entered;
  std::promise<void> opener;  // before `release`, which is made from it
  std::shared_future<void> release;
  Gate() : release(opener.get_future().share()) {}
  JobFn fn() {
    return [this](const ScheduledRun&) {
      entered.set_value();
      release.wait();
      return RunOutcome::ok();
    };
  }
};

TEST_F(WrapperTest, ChainAppliesTheFirstWrapperOutermost) {
  std::string order;
  auto mark = [&order](char c) -> Wrapper {
    return [&order, c](JobFn next) -> JobFn {
      return [&order, c, next](const ScheduledRun& r) {
        order += c;
        return next(r);
      };
    };
  };
  auto fn =
      chain({mark('a'), mark('b'), mark('c')}, job([&](const ScheduledRun&) { order += '!'; }));
  EXPECT_EQ(fn(run()).status, RunStatus::done);
  EXPECT_EQ(order, "abc!");
}

TEST_F(WrapperTest, RecoverTurnsAThrowIntoAFailure) {
  std::string logged;
  auto fn = chain({wrap::recover([&](LogLevel, std::string_view m) { logged = m; })},
                  job([](const ScheduledRun&) { throw std::runtime_error("disk full"); }));
  auto out = fn(run());
  EXPECT_EQ(out.status, RunStatus::failed);
  EXPECT_NE(out.detail.find("disk full"), std::string::npos);
  EXPECT_NE(logged.find("disk full"), std::string::npos);
}

TEST_F(WrapperTest, SkipIfRunningSkipsWhileThePreviousRuns) {
  Gate gate;
  auto fn = chain({wrap::skip_if_running()}, gate.fn());
  auto first = std::async(std::launch::async, [&] { return fn(run()); });
  gate.entered.get_future().wait();
  auto second = fn(run());
  EXPECT_EQ(second.status, RunStatus::skipped);
  gate.opener.set_value();
  EXPECT_EQ(first.get().status, RunStatus::done);
  EXPECT_EQ(chain({wrap::skip_if_running()}, job([](const ScheduledRun&) {}))(run()).status,
            RunStatus::done);
}

TEST_F(WrapperTest, DelayIfRunningWaitsForThePreviousAndGivesUpAfterTheLongestDelay) {
  Gate gate;
  std::atomic<int> runs{0};
  JobFn inner = [&](const ScheduledRun& r) {
    if (++runs == 1) {
      return gate.fn()(r);
    }
    return RunOutcome::ok();
  };
  auto fn = chain({wrap::delay_if_running(seconds(30))}, inner);
  auto first = std::async(std::launch::async, [&] { return fn(run()); });
  gate.entered.get_future().wait();
  ScheduledRun later = run();
  later.slot += seconds(1);
  auto second = std::async(std::launch::async, [&] { return fn(later); });
  ASSERT_TRUE(clock_->wait_for_sleepers(1));
  EXPECT_EQ(runs.load(), 1);
  gate.opener.set_value();
  EXPECT_EQ(first.get().status, RunStatus::done);
  EXPECT_EQ(second.get().status, RunStatus::done);
  EXPECT_EQ(runs.load(), 2);

  // Still running after the longest delay: skipped.
  Gate stuck;
  auto fn2 = chain({wrap::delay_if_running(seconds(30))}, stuck.fn());
  auto holder = std::async(std::launch::async, [&] { return fn2(run()); });
  stuck.entered.get_future().wait();
  auto waiter = std::async(std::launch::async, [&] { return fn2(later); });
  ASSERT_TRUE(clock_->wait_for_sleepers(1));
  clock_->advance(seconds(31));
  EXPECT_EQ(waiter.get().status, RunStatus::skipped);
  stuck.opener.set_value();
  EXPECT_EQ(holder.get().status, RunStatus::done);
}

TEST_F(WrapperTest, TimeoutStopsTheRunThenAbandonsIt) {
  // A job that stops when told: failed, stopped within the grace.
  auto polite = chain({wrap::timeout(seconds(5), seconds(2))}, [](const ScheduledRun& r) {
    while (!r.stop.stop_requested()) {
      std::this_thread::sleep_for(milliseconds(1));
    }
    return RunOutcome::ok();
  });
  auto a = std::async(std::launch::async, [&] { return polite(run()); });
  ASSERT_TRUE(clock_->wait_for_sleepers(1));
  clock_->advance(seconds(5));
  auto out = a.get();
  EXPECT_EQ(out.status, RunStatus::failed);
  EXPECT_NE(out.detail.find("stopped within the grace"), std::string::npos) << out.detail;

  // A job that ignores it: abandoned after the grace, the wrapper returns.
  auto release = std::make_shared<std::atomic<bool>>(false);
  auto stubborn = chain({wrap::timeout(seconds(5), seconds(2))}, [release](const ScheduledRun&) {
    while (!*release) {
      std::this_thread::sleep_for(milliseconds(1));
    }
    return RunOutcome::ok();
  });
  auto b = std::async(std::launch::async, [&] { return stubborn(run()); });
  ASSERT_TRUE(clock_->wait_for_sleepers(1));
  clock_->advance(seconds(5));
  ASSERT_TRUE(clock_->wait_for_sleepers(1));
  clock_->advance(seconds(2));
  out = b.get();
  EXPECT_EQ(out.status, RunStatus::failed);
  EXPECT_NE(out.detail.find("abandoned"), std::string::npos) << out.detail;
  *release = true;

  // In time: the job's own outcome.
  auto quick = chain({wrap::timeout(seconds(5), seconds(2))}, job([](const ScheduledRun&) {}));
  EXPECT_EQ(quick(run()).status, RunStatus::done);
}

TEST_F(WrapperTest, JitterIsTheSameForAJobAndMovesTheStartNotTheSlot) {
  const auto j = wrap::jitter_of("nightly-report", seconds(60));
  EXPECT_EQ(j, wrap::jitter_of("nightly-report", seconds(60)));
  EXPECT_LT(j, seconds(60));
  int different = 0;
  for (int i = 0; i < 20; ++i) {
    different += wrap::jitter_of("job" + std::to_string(i), seconds(60)) != j;
  }
  EXPECT_GE(different, 19);
  std::chrono::sys_seconds seen_slot{};
  SchedulerClock::time_point started{};
  auto fn = chain({wrap::jitter(seconds(60))}, job([&](const ScheduledRun& r) {
                    seen_slot = r.slot;
                    started = clock_->now();
                  }));
  auto a = std::async(std::launch::async, [&] { return fn(run("nightly-report")); });
  ASSERT_TRUE(clock_->wait_for_sleepers(1));
  clock_->advance(seconds(60));
  EXPECT_EQ(a.get().status, RunStatus::done);
  EXPECT_EQ(seen_slot, slot_);
  EXPECT_EQ(started, slot_ + seconds(60));  // the fake clock jumped past slot + jitter
}

TEST_F(WrapperTest, RetryInsideTheSlotOnly) {
  auto minutely = CronSchedule::parse("* * * * *", "UTC").value();
  std::vector<int> attempts;
  auto flaky = [&](const ScheduledRun& r) {
    attempts.push_back(r.attempt);
    return r.attempt < 3 ? RunOutcome::failure("flaky") : RunOutcome::ok();
  };
  auto fn =
      chain({wrap::retry({.max_attempts = 5, .initial_backoff = seconds(1)}, minutely)}, flaky);
  auto a = std::async(std::launch::async, [&] { return fn(run()); });
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(clock_->wait_for_sleepers(1));
    clock_->advance(seconds(10));
  }
  EXPECT_EQ(a.get().status, RunStatus::done);
  EXPECT_EQ(attempts, (std::vector<int>{1, 2, 3}));

  // A backoff that would end past the next slot: not retried.
  attempts.clear();
  auto slow =
      chain({wrap::retry({.max_attempts = 5, .initial_backoff = seconds(90)}, minutely)}, flaky);
  auto out = slow(run());
  EXPECT_EQ(out.status, RunStatus::failed);
  EXPECT_NE(out.detail.find("next slot"), std::string::npos);
  EXPECT_EQ(attempts, std::vector<int>{1});
}

class LockWrapperTest : public WrapperTest {
 protected:
  testing::TempDir dir_;
  std::unique_ptr<Store> a_ = Store::open(dir_.path()).value();
  std::unique_ptr<Store> b_ = Store::open(dir_.path()).value();

  // Slot records older than their retention are never won: slots of today's wall clock.
  ScheduledRun run() const {
    ScheduledRun r = WrapperTest::run();
    r.slot = std::chrono::floor<seconds>(std::chrono::system_clock::now());
    return r;
  }
};

TEST_F(LockWrapperTest, WithLockForbidSkipsQuietlyAndPassesTheToken) {
  Gate gate;
  std::optional<std::uint64_t> token;
  auto holder = chain({wrap::with_lock(*a_, {.ttl = seconds(5)})}, [&](const ScheduledRun& r) {
    token = r.token;
    return gate.fn()(r);
  });
  auto first = std::async(std::launch::async, [&] { return holder(run()); });
  gate.entered.get_future().wait();
  auto other = chain({wrap::with_lock(*b_, {.ttl = seconds(5)})}, job([](const ScheduledRun&) {}));
  auto out = other(run());
  EXPECT_EQ(out.status, RunStatus::skipped);
  EXPECT_NE(out.detail.find("held by"), std::string::npos) << out.detail;
  gate.opener.set_value();
  EXPECT_EQ(first.get().status, RunStatus::done);
  ASSERT_TRUE(token);
  EXPECT_GT(*token, 0u);
  auto allowed = chain({wrap::with_lock(*b_, {}, Concurrency::allow)}, [](const ScheduledRun& r) {
    return r.token ? RunOutcome::failure("token") : RunOutcome::ok();
  });
  EXPECT_EQ(allowed(run()).status, RunStatus::done);
}

TEST_F(LockWrapperTest, WithLockReplaceStopsTheOtherRunAndFencesIt) {
  std::promise<std::uint64_t> old_token;
  auto old_run = chain({wrap::with_lock(*a_, {.ttl = seconds(5)})}, [&](const ScheduledRun& r) {
    old_token.set_value(*r.token);
    while (!r.stop.stop_requested()) {
      std::this_thread::sleep_for(milliseconds(2));
    }
    return RunOutcome::failure("told to stop");
  });
  auto first = std::async(std::launch::async, [&] { return old_run(run()); });
  const std::uint64_t old = old_token.get_future().get();
  std::uint64_t mine = 0;
  auto replacing = chain({wrap::with_lock(*b_, {.ttl = seconds(5)}, Concurrency::replace)},
                         job([&](const ScheduledRun& r) { mine = *r.token; }));
  EXPECT_EQ(replacing(run()).status, RunStatus::done);
  EXPECT_GT(mine, old);
  auto out = first.get();  // its lease was ended: it was told, and learned it lost the lease
  EXPECT_EQ(out.status, RunStatus::failed);
}

TEST_F(LockWrapperTest, OncePerSlotRunsASlotOnceAcrossStores) {
  std::atomic<int> runs{0};
  auto on_a = chain({wrap::once_per_slot(*a_)}, job([&](const ScheduledRun&) { ++runs; }));
  auto on_b = chain({wrap::once_per_slot(*b_)}, job([&](const ScheduledRun&) { ++runs; }));
  EXPECT_EQ(on_a(run()).status, RunStatus::done);
  auto second = on_b(run());
  EXPECT_EQ(second.status, RunStatus::skipped);
  EXPECT_NE(second.detail.find("ran on"), std::string::npos) << second.detail;
  ScheduledRun next = run();
  next.slot += seconds(1);
  EXPECT_EQ(on_b(next).status, RunStatus::done);
  EXPECT_EQ(runs.load(), 2);
}

// A claimant that holds the slot's claim but never writes the record (it died, or hangs before
// the run): a host that fired the same slot waits for the claim and runs the slot itself.
TEST_F(LockWrapperTest, OncePerSlotTakesOverAClaimThatNeverBecameARun) {
  auto claim = a_->try_acquire("j@claim", {.ttl = seconds(5)});
  ASSERT_TRUE(claim && claim->acquired());
  std::atomic<int> runs{0};
  auto on_b = chain({wrap::once_per_slot(*b_)}, job([&](const ScheduledRun&) { ++runs; }));
  auto waiting = std::async(std::launch::async, [&] { return on_b(run()); });
  EXPECT_EQ(waiting.wait_for(milliseconds(300)), std::future_status::timeout);
  (void)claim->lease().release();  // the claimant is gone without a record
  EXPECT_EQ(waiting.get().status, RunStatus::done);
  EXPECT_EQ(runs.load(), 1);
}

// The record is written when the job starts, not when the claim is taken: a run that the wrappers
// inside never let through (here: held at a gate, then skipped) leaves the slot to a host that
// fired it too and waited for the claim.
TEST_F(LockWrapperTest, OncePerSlotRecordsTheSlotOnlyWhenTheJobStarts) {
  Gate gate;
  auto not_through = [&gate](JobFn) -> JobFn {
    return [&gate](const ScheduledRun&) {
      gate.entered.set_value();
      gate.release.wait();
      return RunOutcome::skip("not today");
    };
  };
  std::atomic<int> runs{0};
  auto on_a =
      chain({wrap::once_per_slot(*a_), not_through}, job([&](const ScheduledRun&) { ++runs; }));
  auto on_b = chain({wrap::once_per_slot(*b_)}, job([&](const ScheduledRun&) { ++runs; }));
  const ScheduledRun r = run();
  auto first = std::async(std::launch::async, [&] { return on_a(r); });
  gate.entered.get_future().wait();
  auto second = std::async(std::launch::async, [&] { return on_b(r); });
  EXPECT_EQ(second.wait_for(milliseconds(300)), std::future_status::timeout)
      << "waits for the claim";
  gate.opener.set_value();
  EXPECT_EQ(first.get().status, RunStatus::skipped);
  EXPECT_EQ(second.get().status, RunStatus::done);
  EXPECT_EQ(runs.load(), 1);
  EXPECT_EQ(a_->last_slot("j").value(), r.slot);
}

TEST_F(LockWrapperTest, OncePerSlotLetsARetryInsideRunTheSameSlotAgain) {
  auto minutely = CronSchedule::parse("* * * * *", "UTC").value();
  std::vector<int> attempts;
  auto fn = chain({wrap::once_per_slot(*a_),
                   wrap::retry({.max_attempts = 3, .initial_backoff = milliseconds(1)}, minutely)},
                  [&](const ScheduledRun& r) {
                    attempts.push_back(r.attempt);
                    return r.attempt < 2 ? RunOutcome::failure("flaky") : RunOutcome::ok();
                  });
  ScheduledRun r = run();
  r.clock = nullptr;  // the system clock: a real 1 ms backoff
  EXPECT_EQ(fn(r).status, RunStatus::done);
  EXPECT_EQ(attempts, (std::vector<int>{1, 2}));
}

TEST_F(WrapperTest, AnAbandonedRunIsNeverRetried) {
  auto minutely = CronSchedule::parse("* * * * *", "UTC").value();
  // Shared with the abandoned thread, which outlives the test's frame.
  auto release = std::make_shared<std::atomic<bool>>(false);
  auto attempts = std::make_shared<std::atomic<int>>(0);
  auto fn = chain({wrap::retry({.max_attempts = 3, .initial_backoff = seconds(1)}, minutely),
                   wrap::timeout(seconds(5), seconds(1))},
                  [release, attempts](const ScheduledRun&) {
                    ++*attempts;
                    while (!*release) {
                      std::this_thread::sleep_for(milliseconds(1));
                    }
                    return RunOutcome::ok();
                  });
  auto a = std::async(std::launch::async, [&] { return fn(run()); });
  while (*attempts == 0) {  // the job's own thread has started
    std::this_thread::sleep_for(milliseconds(1));
  }
  ASSERT_TRUE(clock_->wait_for_sleepers(1));
  clock_->advance(seconds(5));
  ASSERT_TRUE(clock_->wait_for_sleepers(1));
  clock_->advance(seconds(1));
  auto out = a.get();
  EXPECT_TRUE(out.abandoned);
  EXPECT_EQ(attempts->load(), 1);
  *release = true;
}

}  // namespace
}  // namespace heartlock
